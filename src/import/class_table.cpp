// The class table: in-process classes and loaded plugins' classes, and the
// resolution of a class path (in-process first, then the module's plugin).
#include "import/class_slot.hpp"
#include "import/import_state.hpp"
#include "import/plugin_loader.hpp"
#include "import/search_path.hpp"

#include <attnreg/classes.hpp>
#include <attnreg/errors.hpp>

#include <fmt/format.h>

#include <set>

namespace attnreg {
namespace detail {

ImportState& import_state() {
  static auto* state = new ImportState;  // never destroyed: see import_state.hpp
  return *state;
}

PendingLoad*& current_load() noexcept {
  thread_local PendingLoad* load = nullptr;
  return load;
}

std::string_view module_of(std::string_view class_path) noexcept {
  const auto dot = class_path.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : class_path.substr(0, dot);
}

std::string_view class_name_of(std::string_view class_path) noexcept {
  const auto dot = class_path.rfind('.');
  return dot == std::string_view::npos ? class_path : class_path.substr(dot + 1);
}

namespace {

/// The class names the table has in module, sorted.
std::vector<std::string_view> classes_in(const ImportState& state, std::string_view module) {
  std::vector<std::string_view> names;
  for (const auto& [path, record] : state.classes)
    if (module_of(path) == module) names.push_back(class_name_of(path));
  return names;
}

std::string missing_class_message(const ImportState& state, std::string_view path) {
  const auto module = module_of(path);
  const auto names = classes_in(state, module);
  const auto plugin = state.plugins.find(module);
  const std::string where = plugin != state.plugins.end() ? fmt::format("file '{}'", plugin->second)
                                                          : std::string("in-process classes");
  return fmt::format("Cannot import '{}': module '{}' ({}) has no class '{}'; it provides: {}", path, module,
                     where, class_name_of(path),
                     names.empty() ? "no classes" : fmt::format("{}", fmt::join(names, ", ")));
}

std::vector<std::string> available_modules_locked(const ImportState& state,
                                                  const std::vector<SearchDir>& dirs) {
  std::set<std::string, std::less<>> modules;
  for (const auto& [path, record] : state.classes)
    if (auto m = module_of(path); !m.empty()) modules.emplace(m);
  for (const auto& [module, file] : state.plugins) modules.insert(module);
  for (auto& m : scan_plugin_modules(dirs)) modules.insert(std::move(m));
  return {modules.begin(), modules.end()};
}

std::string not_found_message(const ImportState& state, std::string_view path,
                              const std::vector<SearchDir>& dirs) {
  const auto module = module_of(path);
  std::vector<std::string> searched;
  bool env_used = false;
  for (const auto& d : dirs) {
    env_used = env_used || d.from_env;
    searched.push_back(
        fmt::format("'{}' ({})", d.dir, d.from_env ? "ATTNREG_PLUGIN_PATH" : "install plugin directory"));
  }
  const auto available = available_modules_locked(state, dirs);
  return fmt::format(
      "No module named '{}' (needed for class '{}'): no in-process class is registered in it and no plugin "
      "file '{}' was found in the directories searched: {}{}. Put the plugin in one of them (or add its "
      "directory to ATTNREG_PLUGIN_PATH), or register the class with register_class. Modules this build "
      "has: {}",
      module, path, plugin_relative_file(module), fmt::join(searched, ", "),
      env_used ? "" : " (ATTNREG_PLUGIN_PATH is not set)",
      available.empty() ? std::string("none") : fmt::format("{}", fmt::join(available, ", ")));
}

/// Stages a register_class call made while this thread loads a plugin.
void stage(PendingLoad& load, std::string_view path, const std::type_info& type,
           const std::function<std::unique_ptr<AttentionBackend>()>& make) {
  for (auto& c : load.staged)
    if (c.path == path) {
      if (*c.type != type) c = StagedClass{std::string(path), &type, make()};
      return;
    }
  load.staged.push_back({std::string(path), &type, make()});
}

}  // namespace

void register_class_object(std::string_view qualified_path, const std::type_info& type,
                           const std::function<std::unique_ptr<AttentionBackend>()>& make) {
  const ClassSlot& slot = intern_class_path(qualified_path);  // validates
  auto& state = import_state();
  if (PendingLoad* load = current_load()) {  // this thread's plugin load already holds the lock
    std::lock_guard guard(state.lock);
    return stage(*load, qualified_path, type, make);
  }
  // Whether the path takes the class: false when it already has this type.
  const auto takes = [&] {
    auto it = state.classes.find(qualified_path);
    if (it == state.classes.end()) return true;
    if (it->second.from_plugin())
      throw ImportError(
          fmt::format("Cannot register class '{}': it is already provided by {}; a class "
                      "path has exactly one provider, so register yours under another path",
                      qualified_path, describe_origin(it->second)));
    return *it->second.type != type;
  };
  {
    std::lock_guard guard(state.lock);
    if (!takes()) return;
  }
  // The class object is made outside the lock, so that a slow constructor
  // holds up no other thread's lookup (api.md: get_class never blocks on a
  // concurrent register_backend); the path is checked again once it is made.
  auto object = make();
  std::lock_guard guard(state.lock);
  if (!takes()) return;
  const AttentionBackend* cls = object.get();
  state.objects.push_back(std::move(object));
  state.classes.insert_or_assign(std::string(qualified_path), ClassRecord{cls, &type, {}});
  slot.cls.store(cls, std::memory_order_release);
}

const AttentionBackend& resolve_slot_slow(const ClassSlot& slot) {
  auto& state = import_state();
  std::lock_guard guard(state.lock);
  // Another thread may have resolved it while this one waited for the lock.
  if (const AttentionBackend* cls = slot.cls.load(std::memory_order_acquire)) return *cls;
  const auto found = [&]() -> const AttentionBackend* {
    auto it = state.classes.find(slot.path);
    return it == state.classes.end() ? nullptr : it->second.object;
  };
  const auto publish = [&](const AttentionBackend* cls) -> const AttentionBackend& {
    slot.cls.store(cls, std::memory_order_release);
    return *cls;
  };
  if (const AttentionBackend* cls = found()) return publish(cls);

  const std::string_view module = module_of(slot.path);
  if (module.empty())
    throw ImportError(
        fmt::format("Cannot import '{}': no in-process class is registered under it, and a "
                    "path of one component names no module to load; use 'module.Class', "
                    "e.g. 'my.module.{}'",
                    slot.path, slot.path));
  // A loaded plugin is its module: the class must be in it. In-process classes
  // of the module do not hide the module's plugin (api.md: the class at that
  // path, otherwise the plugin); without a plugin file they are the module.
  if (state.plugins.contains(module)) throw ImportError(missing_class_message(state, slot.path));
  const auto dirs = plugin_search_dirs();
  const auto file = find_plugin_file(module, dirs);
  if (!file) {
    if (!classes_in(state, module).empty()) throw ImportError(missing_class_message(state, slot.path));
    throw ModuleNotFoundError(not_found_message(state, slot.path, dirs));
  }
  load_plugin(state, module, *file);
  if (const AttentionBackend* cls = found()) return publish(cls);
  throw ImportError(missing_class_message(state, slot.path));
}

}  // namespace detail

const AttentionBackend& resolve_class(std::string_view qualified_path) {
  return detail::resolve_slot(detail::intern_class_path(qualified_path));
}

std::vector<std::string> available_modules() {
  const auto dirs = detail::plugin_search_dirs();
  auto& state = detail::import_state();
  std::lock_guard guard(state.lock);
  return detail::available_modules_locked(state, dirs);
}

std::vector<std::string> known_class_paths() {
  auto& state = detail::import_state();
  std::lock_guard guard(state.lock);
  std::vector<std::string> paths;
  for (const auto& [path, record] : state.classes) paths.push_back(path);
  return paths;  // std::map keeps them sorted
}

}  // namespace attnreg
