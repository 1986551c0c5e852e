// The plugin loader: the only place that calls dlopen.
//
// A load is all or nothing: classes are staged in a PendingLoad while the
// library's static initialisers and init run, checked against the table, and
// only then published. The library itself is never closed, even when refused:
// its static initialisers may have run, and code or objects from it may still
// be referenced.
#include "import/plugin_loader.hpp"
#include "import/class_slot.hpp"

#include <attnreg/errors.hpp>
#include <attnreg/plugin.hpp>
#include <attnreg/version.hpp>

#include <dlfcn.h>
#include <fmt/format.h>

#include <array>
#include <exception>
#include <set>

namespace attnreg::detail {
namespace {

constexpr const char* kAbiSymbol = "attnreg_plugin_abi_version";
constexpr const char* kInitSymbol = "attnreg_plugin_init";

/// Makes `load` the current load of this thread for its lifetime.
class CurrentLoadScope {
 public:
  explicit CurrentLoadScope(PendingLoad& load) : outer_(current_load()) { current_load() = &load; }
  ~CurrentLoadScope() { current_load() = outer_; }
  CurrentLoadScope(const CurrentLoadScope&) = delete;
  CurrentLoadScope& operator=(const CurrentLoadScope&) = delete;

 private:
  PendingLoad* outer_;
};

void* find_entry_point(void* handle, const char* symbol, const std::string& prefix) {
  dlerror();  // clear a stale error so a null symbol is told apart from a failure
  void* address = dlsym(handle, symbol);
  if (address == nullptr)
    throw ImportError(
        fmt::format("{}it does not export the entry point '{}'; a plugin defines its entry "
                    "points with ATTNREG_PLUGIN(m) {{ ... }} from <attnreg/plugin.hpp>",
                    prefix, symbol));
  return address;
}

/// The first class path of `staged` that clashes with the table or with an
/// earlier staged class, as an error message; empty when there is none.
std::string find_conflict(const ImportState& state, const PendingLoad& load) {
  std::set<std::string_view> seen;
  for (const auto& c : load.staged) {
    if (auto it = state.classes.find(c.path); it != state.classes.end())
      return fmt::format(
          "class '{}' is already provided by {}; a class path has exactly one provider, so "
          "rename one of the classes or drop one of the providers",
          c.path, describe_origin(it->second));
    if (!seen.insert(c.path).second)
      return fmt::format(
          "class '{}' is claimed twice by this plugin (by add_class and by register_class, or "
          "twice by register_class with different types); claim each class once",
          c.path);
  }
  return {};
}

}  // namespace

std::string describe_origin(const ClassRecord& record) {
  return record.from_plugin() ? fmt::format("the plugin file '{}'", record.plugin_file)
                              : std::string("an in-process class (register_class)");
}

void load_plugin(ImportState& state, std::string_view module, const std::string& file) {
  const std::string prefix = fmt::format("Cannot import module '{}' from plugin file '{}': ", module, file);
  PendingLoad pending;
  // Static initialisers of a library refused earlier do not run again on this
  // dlopen; what they registered was kept for this retry.
  if (auto node = state.deferred_static.extract(file)) pending.staged = std::move(node.mapped());
  CurrentLoadScope scope(pending);

  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    throw ImportError(
        fmt::format("{}the dynamic loader refused it ({}); it must be a shared library built "
                    "for this platform whose dependencies can be found",
                    prefix, why ? why : "no reason given"));
  }
  const std::size_t static_count = pending.staged.size();
  // Every refusal from here on keeps the static registrations for a retry.
  const auto refuse = [&](const std::string& message) {
    std::vector<StagedClass> keep;
    for (std::size_t i = 0; i < static_count; ++i) keep.push_back(std::move(pending.staged[i]));
    if (!keep.empty()) state.deferred_static[file] = std::move(keep);
    return ImportError(message);
  };

  PluginAbiVersionFn abi_fn = nullptr;
  PluginInitFn init_fn = nullptr;
  try {
    abi_fn = reinterpret_cast<PluginAbiVersionFn>(find_entry_point(handle, kAbiSymbol, prefix));
    init_fn = reinterpret_cast<PluginInitFn>(find_entry_point(handle, kInitSymbol, prefix));
  } catch (const ImportError& e) {
    throw refuse(e.what());
  }
  // Checked before init runs: code built against another ABI may not even
  // agree on PluginModule's layout.
  if (const std::uint32_t version = abi_fn(); version != ATTNREG_ABI_VERSION)
    throw refuse(
        fmt::format("{}it was built against attnreg ABI {}, this library has ABI {}; rebuild the "
                    "plugin against this attnreg",
                    prefix, version, ATTNREG_ABI_VERSION));

  PluginModule m{std::string(module), file};
  std::array<char, 1024> error{};
  int rc = 1;
  try {
    rc = init_fn(&m, error.data(), error.size());
  } catch (const std::exception& e) {  // a hand-written init that lets an exception escape
    copy_error(e.what(), error.data(), error.size());
  } catch (...) {
    copy_error("unknown exception", error.data(), error.size());
  }
  if (rc != 0)
    throw refuse(
        fmt::format("{}its init failed: {}", prefix, error[0] != '\0' ? error.data() : "no message"));

  for (auto& entry : m.entries())
    pending.staged.push_back(
        {fmt::format("{}.{}", module, entry.class_name), entry.type, std::move(entry.object)});
  if (const std::string conflict = find_conflict(state, pending); !conflict.empty())
    throw refuse(prefix + conflict);

  for (auto& c : pending.staged) {
    const AttentionBackend* object = c.object.get();
    state.objects.push_back(std::move(c.object));
    state.classes[c.path] = ClassRecord{object, c.type, file};
    intern_class_path(c.path).cls.store(object, std::memory_order_release);
  }
  state.plugins.emplace(std::string(module), file);
}

}  // namespace attnreg::detail
