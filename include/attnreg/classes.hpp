// attnreg/classes.hpp: the import system, turning a dotted class path into
// a backend "class" object.
//
// Resolution of "a.b.c.Klass":
//   1. a class registered in-process under exactly that path (register_class);
//   2. otherwise the plugin for module "a.b.c", loaded once on demand from the
//      first directory of the search path that holds "a/b/c.so": the
//      directories of ATTNREG_PLUGIN_PATH (colon-separated, in order, read at
//      each lookup of a module not yet loaded), then the install's plugin
//      directory (plugin_install_dir()).
// Plugins are never unloaded and class objects live until exit, so references
// returned here stay valid for the life of the process.
//
// Thread safety: every function may be called from any thread. A successful
// resolution is cached; a cached lookup takes no lock.
#pragma once

#include <attnreg/backend.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

namespace attnreg {

namespace detail {
/// Type-erased form of register_class. make is called only when the path has
/// no class of the same type yet, without the import lock held (outside a
/// plugin load); two threads registering one type at once may both call it,
/// and one object is dropped.
void register_class_object(std::string_view qualified_path, const std::type_info& type,
                           const std::function<std::unique_ptr<AttentionBackend>()>& make);
}  // namespace detail

/// Registers T (derived from AttentionBackend, default constructible) as the
/// in-process class at qualified_path. Registering the same T again does
/// nothing; registering another type at a path that already has an in-process
/// class rebinds the path to the new class (as re-defining a class in a Python
/// module does); the old object stays alive.
/// Throws ValueError for a malformed path (empty, a component that is not an
/// identifier, leading/trailing/double dots), ImportError when the path is
/// already provided by a loaded plugin.
/// Called while a plugin loads (from its init or a static initialiser), the
/// class belongs to that plugin: it is published with the plugin's classes,
/// or discarded with them if the plugin is refused.
template <class T>
void register_class(std::string_view qualified_path) {
  static_assert(std::is_base_of_v<AttentionBackend, T>, "T must derive from attnreg::AttentionBackend");
  static_assert(std::is_default_constructible_v<T>, "T must be default constructible");
  detail::register_class_object(qualified_path, typeid(T), [] { return std::make_unique<T>(); });
}

/// The class object at qualified_path (see the resolution order above).
/// Throws ValueError for a malformed path; ModuleNotFoundError when no
/// in-process class and no plugin provides the path's module (the message
/// names the module, every directory searched, and the modules this build
/// has); ImportError when the module exists but lacks the class or its plugin
/// cannot be loaded (the message names the file and the cause).
const AttentionBackend& resolve_class(std::string_view qualified_path);

/// Throws ValueError (with the reason) unless path is a valid dotted class
/// path: non-empty identifiers separated by single dots.
void validate_class_path(std::string_view path);

/// The plugin directories a lookup would search now, in order.
std::vector<std::string> plugin_search_path();

/// The install's plugin directory: "<dir of libattnreg>/attnreg/plugins".
std::string plugin_install_dir();

/// The modules this build can provide: those of in-process classes, loaded
/// plugins, and plugin files on the search path; sorted, without duplicates.
std::vector<std::string> available_modules();

/// The paths of every class known now (in-process and loaded plugins), sorted.
std::vector<std::string> known_class_paths();

}  // namespace attnreg
