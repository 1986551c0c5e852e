// A plugin that exports the ABI version but no init entry point.
#include <attnreg/plugin.hpp>

ATTNREG_PLUGIN_EXPORT std::uint32_t attnreg_plugin_abi_version() { return ATTNREG_ABI_VERSION; }
