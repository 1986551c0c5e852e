// Internal: the interned class-path table shared by the registry and the
// import system.
//
// Every valid class path the process has seen gets one ClassSlot, created on
// first use and never freed. The registry's override tables point at slots;
// the import system fills slot.cls when the path resolves (in-process class
// or plugin) and rebinds it when register_class replaces a class. So a cached
// get_class() is two acquire loads and never stale.
#pragma once

#include <attnreg/backend.hpp>

#include <atomic>
#include <string>
#include <string_view>

namespace attnreg::detail {

/// One interned class path and its resolved class (null until resolved).
struct ClassSlot {
  explicit ClassSlot(std::string p) : path(std::move(p)) {}
  const std::string path;
  /// Written by the import system (under its lock), read lock-free by anyone;
  /// mutable because slots are handed out as const references.
  mutable std::atomic<const AttentionBackend*> cls{nullptr};
};

/// The slot for path, created on first use; the reference is valid until exit.
/// Throws ValueError (validate_class_path's message) for a malformed path.
/// Thread-safe; takes the table's lock only when path is new.
const ClassSlot& intern_class_path(std::string_view path);

/// Full resolution of slot.path (in-process table, then plugins); stores the
/// result in slot.cls. Throws as resolve_class.
const AttentionBackend& resolve_slot_slow(const ClassSlot& slot);

/// The class of slot: the cached pointer, else a full resolution.
inline const AttentionBackend& resolve_slot(const ClassSlot& slot) {
  if (const AttentionBackend* cls = slot.cls.load(std::memory_order_acquire)) return *cls;
  return resolve_slot_slow(slot);
}

}  // namespace attnreg::detail
