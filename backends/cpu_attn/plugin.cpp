// The plugin module attnreg.backends.cpu_attn: CPU_ATTN and its legacy
// TORCH_SDPA name.
#include <attnreg/plugin.hpp>

#include "cpu_attn_backend.hpp"

ATTNREG_PLUGIN(m) {
  m.add_class<attnreg::cpu_attn::CPUAttentionBackend>("CPUAttentionBackend");
  m.add_class<attnreg::cpu_attn::TorchSDPABackend>("TorchSDPABackend");
}
