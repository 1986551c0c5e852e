// The plugin module attnreg.backends.cpu_attn resolves through the registry
// (built next to libattnreg, as an install lays it out).
#include <gtest/gtest.h>

#include <attnreg/classes.hpp>
#include <attnreg/registry.hpp>

namespace attnreg {
namespace {

TEST(CpuAttnPlugin, ResolvesThroughTheRegistry) {
  EXPECT_EQ(AttentionBackendEnum::CPU_ATTN.get_class().get_name(), "CPU_ATTN");
  EXPECT_EQ(resolve_class("attnreg.backends.cpu_attn.TorchSDPABackend").get_name(), "TORCH_SDPA");
}

}  // namespace
}  // namespace attnreg
