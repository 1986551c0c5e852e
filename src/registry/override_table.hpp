// Internal: the override table of one enum (or of the legacy overlay).
//
// One atomic pointer per member to an interned, never-freed ClassSlot
// (nullptr = not overridden). Publication is a single release store, so a
// reader (one acquire load, no lock) sees the old or the new slot whole,
// never a torn path, and never waits for a writer. Concurrent writers to the
// same member are ordered by the atomic itself: the last store wins, exactly
// as the last of several dictionary assignments does in vLLM.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <string_view>

#include "import/class_slot.hpp"

namespace attnreg::detail {

/// Overrides and default-path slots for N members. Constant-initialised
/// (usable from static initialisers such as ATTNREG_REGISTER_BACKEND).
/// Every member function is thread-safe.
template <std::size_t N>
class OverrideTable {
 public:
  /// defaults[i] is member i's default class path ("" for none); it must
  /// outlive the table (string literals do).
  constexpr explicit OverrideTable(const std::array<std::string_view, N>& defaults) noexcept
      : defaults_(defaults) {}

  /// Member i's override, or nullptr. Lock-free.
  const ClassSlot* override_slot(std::size_t i) const noexcept {
    return overrides_[i].load(std::memory_order_acquire);
  }

  /// Publishes path as member i's override. Throws ValueError (and changes
  /// nothing) for a malformed path: interning validates before any store.
  void set(std::size_t i, std::string_view path) {
    overrides_[i].store(&intern_class_path(path), std::memory_order_release);
  }

  /// Removes member i's override.
  void clear(std::size_t i) noexcept { overrides_[i].store(nullptr, std::memory_order_release); }

  /// The path in force for member i: the override's, else the default ("" for
  /// none). The view stays valid until exit (slots are never freed).
  std::string_view path(std::size_t i) const noexcept {
    if (const ClassSlot* s = override_slot(i)) return s->path;
    return defaults_[i];
  }

  /// The slot in force for member i, or nullptr when it has no path. The
  /// default's slot is interned on first use and cached, so the steady state
  /// is two acquire loads.
  const ClassSlot* slot(std::size_t i) const {
    if (const ClassSlot* s = override_slot(i)) return s;
    if (const ClassSlot* s = default_slots_[i].load(std::memory_order_acquire)) return s;
    if (defaults_[i].empty()) return nullptr;
    // Racing first users intern the same slot, so either store is right.
    const ClassSlot* s = &intern_class_path(defaults_[i]);
    default_slots_[i].store(s, std::memory_order_release);
    return s;
  }

 private:
  std::array<std::string_view, N> defaults_;
  std::array<std::atomic<const ClassSlot*>, N> overrides_{};
  mutable std::array<std::atomic<const ClassSlot*>, N> default_slots_{};
};

}  // namespace attnreg::detail
