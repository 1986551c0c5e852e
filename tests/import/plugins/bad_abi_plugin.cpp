// A plugin stamped with another ABI version: its entry points are written by
// hand (as a plugin built against a different attnreg would have them).
#include <attnreg/plugin.hpp>

ATTNREG_PLUGIN_EXPORT std::uint32_t attnreg_plugin_abi_version() { return ATTNREG_ABI_VERSION + 41; }

// Never called: the loader must refuse the plugin before running its init.
ATTNREG_PLUGIN_EXPORT int attnreg_plugin_init(attnreg::PluginModule*, char* error, std::size_t size) {
  attnreg::detail::copy_error("init of an ABI-mismatched plugin was called", error, size);
  return 1;
}
