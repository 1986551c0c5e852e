// The interned ClassSlot table: one slot per class path, never freed.
//
// Lookups are lock-free because get_class() runs on every backend selection:
// a fixed array of buckets, each an insert-only singly linked list whose head
// and links are published with release stores. Inserts (new paths only) take
// a mutex and re-check the bucket, so a path never gets two slots.
#include "import/class_slot.hpp"

#include <attnreg/classes.hpp>

#include <array>
#include <atomic>
#include <functional>
#include <mutex>

namespace attnreg::detail {
namespace {

struct SlotNode {
  explicit SlotNode(std::string path) : slot(std::move(path)) {}
  ClassSlot slot;
  std::atomic<SlotNode*> next{nullptr};
};

class SlotTable {
 public:
  const ClassSlot& intern(std::string_view path) {
    auto& head = buckets_[std::hash<std::string_view>{}(path) % buckets_.size()];
    if (const ClassSlot* found = find(head.load(std::memory_order_acquire), path)) return *found;
    // New to the table: only valid paths get a slot.
    validate_class_path(path);
    std::lock_guard guard(insert_lock_);
    SlotNode* first = head.load(std::memory_order_acquire);
    if (const ClassSlot* found = find(first, path)) return *found;
    auto* node = new SlotNode(std::string(path));  // never freed: slots are referenced until exit
    node->next.store(first, std::memory_order_relaxed);
    head.store(node, std::memory_order_release);
    return node->slot;
  }

 private:
  static const ClassSlot* find(SlotNode* node, std::string_view path) {
    for (; node != nullptr; node = node->next.load(std::memory_order_acquire))
      if (node->slot.path == path) return &node->slot;
    return nullptr;
  }

  std::array<std::atomic<SlotNode*>, 1024> buckets_{};
  std::mutex insert_lock_;
};

}  // namespace

const ClassSlot& intern_class_path(std::string_view path) {
  // Never destroyed, so slots stay valid for code running during exit.
  static auto* table = new SlotTable;
  return table->intern(path);
}

}  // namespace attnreg::detail
