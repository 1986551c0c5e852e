// The plugin module attnreg.backends.flash_attn: registers
// FlashAttentionBackend. Loading touches no CUDA API (the device is probed
// only when a configuration is validated or an implementation is made), so
// the plugin loads on machines without a GPU or driver.
#include <attnreg/plugin.hpp>

#include "flash_attn_backend.hpp"

ATTNREG_PLUGIN(m) { m.add_class<attnreg::flash_attn::FlashAttentionBackend>("FlashAttentionBackend"); }
