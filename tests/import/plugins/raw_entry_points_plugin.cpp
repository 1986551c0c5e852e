// Hand-written entry points, for the loader's handling of plugins that do not
// use ATTNREG_PLUGIN. Built as two modules:
//   testplug.no_entry_points  (RAW_NO_ENTRY_POINTS defined) exports neither;
//   testplug.raw_throw        has an init that lets an exception escape.
#include <attnreg/plugin.hpp>

#include <stdexcept>

#ifdef RAW_NO_ENTRY_POINTS
// Something to export, so this is an ordinary shared library.
ATTNREG_PLUGIN_EXPORT int testplug_not_an_entry_point() { return 0; }
#else
ATTNREG_PLUGIN_EXPORT std::uint32_t attnreg_plugin_abi_version() { return ATTNREG_ABI_VERSION; }
ATTNREG_PLUGIN_EXPORT int attnreg_plugin_init(attnreg::PluginModule*, char*, std::size_t) {
  throw std::runtime_error("raw init threw instead of returning an error");
}
#endif
