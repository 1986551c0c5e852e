// The plugin search path: ATTNREG_PLUGIN_PATH, then the install's plugin
// directory next to libattnreg.
#include "import/search_path.hpp"

#include <attnreg/classes.hpp>
#include <attnreg/errors.hpp>

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace fs = std::filesystem;

namespace attnreg {
namespace detail {

std::vector<SearchDir> plugin_search_dirs() {
  std::vector<SearchDir> dirs;
  // getenv at each call: the brief (and Python's sys.path) lets a program
  // change the path after start-up. Empty entries are ignored rather than
  // meaning "the current directory", which would make lookups depend on cwd.
  if (const char* env = std::getenv("ATTNREG_PLUGIN_PATH")) {
    std::string_view rest(env);
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const auto entry = rest.substr(0, colon);
      if (!entry.empty()) dirs.push_back({std::string(entry), true});
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  dirs.push_back({plugin_install_dir(), false});
  return dirs;
}

std::string plugin_relative_file(std::string_view module) {
  std::string rel(module);
  for (char& c : rel)
    if (c == '.') c = '/';
  return rel + ".so";
}

std::optional<std::string> find_plugin_file(std::string_view module, const std::vector<SearchDir>& dirs) {
  const std::string rel = plugin_relative_file(module);
  for (const auto& d : dirs) {
    std::error_code ec;
    const fs::path candidate = fs::path(d.dir) / rel;
    if (fs::is_regular_file(candidate, ec)) return candidate.string();
  }
  return std::nullopt;
}

std::vector<std::string> scan_plugin_modules(const std::vector<SearchDir>& dirs) {
  std::vector<std::string> modules;
  for (const auto& d : dirs) {
    std::error_code ec;
    fs::recursive_directory_iterator it(d.dir, fs::directory_options::skip_permission_denied, ec);
    if (ec) continue;
    for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
      if (ec) break;
      const fs::path& p = it->path();
      if (p.extension() != ".so" || !it->is_regular_file(ec)) continue;
      std::string dotted = fs::path(p).replace_extension().lexically_relative(d.dir).generic_string();
      for (char& c : dotted)
        if (c == '/') c = '.';
      try {
        validate_class_path(dotted);
      } catch (const ValueError&) {
        continue;  // e.g. "libfoo.so.1" or a name with '-': the loader could never ask for it
      }
      modules.push_back(std::move(dotted));
    }
  }
  return modules;
}

}  // namespace detail

std::vector<std::string> plugin_search_path() {
  std::vector<std::string> out;
  for (auto& d : detail::plugin_search_dirs()) out.push_back(std::move(d.dir));
  return out;
}

std::string plugin_install_dir() {
  // The core library's own file, found through one of its functions, so a
  // build tree and any install prefix (relocated or not) agree on the layout.
  static const std::string dir = [] {
    Dl_info info{};
    if (dladdr(reinterpret_cast<const void*>(&plugin_install_dir), &info) == 0 || info.dli_fname == nullptr)
      return std::string();
    std::error_code ec;
    fs::path lib = fs::absolute(info.dli_fname, ec);
    return (lib.parent_path() / ATTNREG_PLUGIN_SUBDIR_FROM_LIBDIR).lexically_normal().string();
  }();
  return dir;
}

}  // namespace attnreg
