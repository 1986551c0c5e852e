// Runs everywhere (CI has no GPU): the plugin resolves through the registry,
// describes FLASH_ATTN's capabilities, and validate_configuration says
// "no CUDA device" exactly when the runtime finds none.
#include <gmock/gmock.h>

#include <algorithm>
#include <attnreg/errors.hpp>
#include <attnreg/registry.hpp>

#include "device_util.hpp"

namespace attnreg::flash_attn::test {
namespace {

using ::testing::HasSubstr;

AttentionConfig cuda_config() {
  AttentionConfig c;
  c.head_size = 128;
  c.dtype = ScalarType::BFloat16;
  c.block_size = 16;
  c.device = DeviceType::CUDA;
  c.device_capability = DeviceCapability{9, 0};
  c.num_heads = 32;
  c.num_kv_heads = 8;
  return c;
}

bool has_no_device_reason(const std::vector<std::string>& reasons) {
  return std::any_of(reasons.begin(), reasons.end(),
                     [](const std::string& r) { return r.rfind("no CUDA device: ", 0) == 0; });
}

TEST(FlashAttnPlugin, ResolvesThroughTheRegistry) {
  const AttentionBackend& b = AttentionBackendEnum::FLASH_ATTN.get_class();
  EXPECT_EQ(b.get_name(), "FLASH_ATTN");
  EXPECT_EQ(b.supported_head_sizes(), (std::vector<int>{64, 96, 128, 256}));
  EXPECT_EQ(b.supported_kv_cache_dtypes(), (std::vector<std::string>{"auto", "fp8_e4m3"}));
  EXPECT_TRUE(b.supports_sink());
  EXPECT_TRUE(b.supports_compute_capability({8, 0}));
  EXPECT_FALSE(b.supports_compute_capability({7, 5}));
}

TEST(FlashAttnPlugin, NoCudaDeviceReasonMatchesTheMachine) {
  const auto reasons = AttentionBackendEnum::FLASH_ATTN.get_class().validate_configuration(cuda_config());
  if (why_no_device().empty()) {
    EXPECT_TRUE(reasons.empty()) << reasons.front();
  } else {
    ASSERT_EQ(reasons.size(), 1u);
    EXPECT_THAT(reasons[0], HasSubstr("no CUDA device: cudaGetDeviceCount"));
  }
}

TEST(FlashAttnPlugin, UnsupportedConfigurationsGetReasons) {
  AttentionConfig c = cuda_config();
  c.head_size = 80;
  c.block_size = 24;
  c.device_capability = DeviceCapability{7, 5};
  c.kv_cache_dtype = "fp8_e5m2";
  const auto reasons = AttentionBackendEnum::FLASH_ATTN.get_class().validate_configuration(c);
  auto has = [&](const std::string& s) {
    return std::any_of(reasons.begin(), reasons.end(), [&](const std::string& r) { return r.find(s) == 0; });
  };
  EXPECT_TRUE(has("head_size not supported: 80 (supported: 64, 96, 128, 256)"));
  EXPECT_TRUE(has("compute capability not supported: 7.5"));
  EXPECT_TRUE(has("kv_cache_dtype not supported"));
  EXPECT_TRUE(has("block_size not supported"));
  EXPECT_EQ(has_no_device_reason(reasons), !why_no_device().empty());
}

// The kernels' shared memory per CTA against each capability's limit: head
// 256 needs more than an A100's 163 KB, head 128 more than the 99 KB of an
// L4 / RTX 4090 (8.9); Hopper fits every head size.
TEST(FlashAttnPlugin, HeadSizesThatDoNotFitTheSharedMemoryGetAReason) {
  auto smem_reason = [](int head_size, DeviceCapability cap) -> std::string {
    AttentionConfig c = cuda_config();
    c.head_size = head_size;
    c.device_capability = cap;
    for (const auto& r : AttentionBackendEnum::FLASH_ATTN.get_class().validate_configuration(c))
      if (r.find("shared memory per CTA") != std::string::npos) return r;
    return "";
  };
  for (int h : {64, 96, 128, 256}) EXPECT_EQ(smem_reason(h, {9, 0}), "") << "head " << h << " on 9.0";
  for (int h : {64, 96, 128}) EXPECT_EQ(smem_reason(h, {8, 0}), "") << "head " << h << " on 8.0";
  EXPECT_THAT(
      smem_reason(256, {8, 0}),
      ::testing::MatchesRegex("head_size 256 needs [0-9]+ bytes of shared memory per CTA; compute "
                              "capability 8\\.0 allows 166912 \\(head sizes that fit: 64, 96, 128\\)"));
  EXPECT_THAT(smem_reason(128, {8, 9}),
              HasSubstr("compute capability 8.9 allows 101376 (head sizes that fit: 64, 96)"));
  EXPECT_EQ(smem_reason(64, {8, 6}), "");
}

TEST(FlashAttnPlugin, MakeImplWithoutDeviceSaysWhy) {
  if (why_no_device().empty()) GTEST_SKIP() << "a CUDA device is present; this checks the no-device path";
  AttentionLayerParams p;
  p.num_heads = 8;
  p.num_kv_heads = 2;
  p.head_size = 128;
  try {
    AttentionBackendEnum::FLASH_ATTN.get_class().make_impl(p);
    ADD_FAILURE() << "make_impl succeeded without a CUDA device";
  } catch (const ValueError& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("FLASH_ATTN cannot serve this layer: no CUDA device: cudaGetDeviceCount"));
  }
}

}  // namespace
}  // namespace attnreg::flash_attn::test
