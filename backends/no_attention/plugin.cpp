// The plugin module attnreg.backends.no_attention: registers NoAttentionBackend.
#include <attnreg/plugin.hpp>

#include "no_attention_backend.hpp"

ATTNREG_PLUGIN(m) { m.add_class<attnreg::no_attention::NoAttentionBackend>("NoAttentionBackend"); }
