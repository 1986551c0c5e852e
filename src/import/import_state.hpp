// Internal: the import system's state, shared by the class table and the
// plugin loader.
//
// One ImportState lives for the whole process and is never destroyed: class
// objects may come from plugins, and running their destructors at exit after
// the C++ runtime has begun tearing down (or in an order the plugins did not
// expect) would be a crash waiting to happen. Leaking them is the Python
// behaviour too (classes live until the interpreter dies).
#pragma once

#include <attnreg/backend.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

namespace attnreg::detail {

/// Where a class came from: the empty string for an in-process class, else
/// the plugin file that provided it.
struct ClassRecord {
  const AttentionBackend* object = nullptr;
  const std::type_info* type = nullptr;
  std::string plugin_file;
  bool from_plugin() const noexcept { return !plugin_file.empty(); }
};

/// A class claimed by a plugin while it loads, not yet published.
struct StagedClass {
  std::string path;
  const std::type_info* type = nullptr;
  std::unique_ptr<AttentionBackend> object;
};

/// The plugin being loaded on this thread. register_class calls made while a
/// plugin loads (static initialisers, e.g. ATTNREG_REGISTER_BACKEND, or its
/// init) are staged here, so they are published with the plugin's own
/// classes or discarded with them.
struct PendingLoad {
  std::vector<StagedClass> staged;
};

/// Everything guarded by the import lock.
struct ImportState {
  /// Recursive: a plugin's init (or static initialiser) may resolve or
  /// register classes while its own load holds the lock.
  std::recursive_mutex lock;
  /// Every class known: dotted path -> record.
  std::map<std::string, ClassRecord, std::less<>> classes;
  /// Loaded plugin modules: module -> file.
  std::map<std::string, std::string, std::less<>> plugins;
  /// Classes a refused plugin's static initialisers registered, by file:
  /// dlopen will not run them again on a retry, so they are kept here.
  std::map<std::string, std::vector<StagedClass>, std::less<>> deferred_static;
  /// Owner of every class object ever created; never destroyed.
  std::vector<std::unique_ptr<AttentionBackend>> objects;
};

/// The process's import state (created on first use, never destroyed).
ImportState& import_state();

/// The plugin load in progress on this thread, or null.
PendingLoad*& current_load() noexcept;

/// "a.b" for "a.b.C"; empty for a path of one component.
std::string_view module_of(std::string_view class_path) noexcept;

/// "C" for "a.b.C".
std::string_view class_name_of(std::string_view class_path) noexcept;

}  // namespace attnreg::detail
