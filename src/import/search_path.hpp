// Internal: where plugin files are looked for, and what the search path holds.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attnreg::detail {

/// One directory of the plugin search path and where it came from.
struct SearchDir {
  std::string dir;
  bool from_env = false;  ///< from ATTNREG_PLUGIN_PATH (else the install's plugin directory)
};

/// ATTNREG_PLUGIN_PATH's non-empty entries, in order, then plugin_install_dir().
/// Reads the environment at each call (a program may set it after start-up).
std::vector<SearchDir> plugin_search_dirs();

/// "a/b/c.so" for module "a.b.c".
std::string plugin_relative_file(std::string_view module);

/// The first "<dir>/<plugin_relative_file(module)>" that exists, or nullopt.
std::optional<std::string> find_plugin_file(std::string_view module, const std::vector<SearchDir>& dirs);

/// The dotted module names of every "*.so" below the given directories
/// (recursively); files whose relative path is not a dotted identifier path
/// are skipped. Missing or unreadable directories contribute nothing.
std::vector<std::string> scan_plugin_modules(const std::vector<SearchDir>& dirs);

}  // namespace attnreg::detail
