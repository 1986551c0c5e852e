// NO_ATTENTION: capabilities, configuration checks, empty KV cache, a forward
// that checks its tensors and writes nothing, and loading through the
// registry as the plugin attnreg.backends.no_attention.
#include <gtest/gtest.h>

#include <attnreg/errors.hpp>
#include <attnreg/registry.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <attnreg/tensor.hpp>
#include <cmath>
#include <cstdlib>
#include <string>
#include <typeinfo>

#include "../../contract/mutable_tensor.hpp"
#include "no_attention_backend.hpp"
#include "no_attention_impl.hpp"

namespace attnreg::no_attention {
namespace {

using attnreg::testing::MutableTensor;

TEST(NoAttention, Capabilities) {
  const NoAttentionBackend b;
  EXPECT_EQ(b.get_name(), "NO_ATTENTION");
  EXPECT_FALSE(b.supports_attention());
  EXPECT_EQ(b.supported_devices(), (std::vector<DeviceType>{DeviceType::CPU, DeviceType::CUDA}));
  EXPECT_EQ(b.get_kv_cache_shape(100, 16, 8, 128), std::vector<std::int64_t>{0});
  EXPECT_EQ(b.get_kv_cache_shape(0, 1, 1, 1, "fp8_e4m3"), std::vector<std::int64_t>{0});
  EXPECT_EQ(b.get_kv_cache_stride_order(), std::vector<int>{0});
}

TEST(NoAttention, ValidForEveryAttentionFreeConfiguration) {
  const NoAttentionBackend b;
  for (auto device : {DeviceType::CPU, DeviceType::CUDA})
    for (auto dtype : {ScalarType::Float32, ScalarType::Float16, ScalarType::BFloat16, ScalarType::Float64})
      for (const char* cache : {"auto", "fp8_e4m3"}) {
        AttentionConfig c;
        c.has_attention = false;
        c.device = device;
        c.dtype = dtype;
        c.kv_cache_dtype = cache;
        c.head_size = 80;
        c.block_size = 7;
        EXPECT_TRUE(b.validate_configuration(c).empty());
        c.has_sink = c.use_mm_prefix = c.use_per_head_quant_scales = c.use_non_causal =
            c.use_batch_invariant = true;
        c.has_alibi = true;
        c.sliding_window = 4;
        c.logits_soft_cap = 30.0f;
        c.attn_type = AttentionType::ENCODER_DECODER;
        c.device_capability = DeviceCapability{7, 0};
        EXPECT_TRUE(b.validate_configuration(c).empty());
      }
}

TEST(NoAttention, RefusesModelsWithAttention) {
  const NoAttentionBackend b;
  AttentionConfig c;
  c.head_size = 64;
  EXPECT_EQ(b.validate_configuration(c),
            std::vector<std::string>{
                "attention layers not supported: this backend serves attention-free models only"});
}

BatchSpec spec() {
  BatchSpec s;
  s.context_lens = {3, 0};
  s.query_lens = {1, 4};
  s.num_heads = 2;
  s.num_kv_heads = 1;
  s.head_size = 4;
  s.block_size = 2;
  s.dtype = ScalarType::BFloat16;
  return s;
}

TEST(NoAttention, ForwardWritesNothing) {
  SyntheticBatch b(spec());
  const auto cache = b.cache_bytes();
  const auto output = b.output_bytes();
  auto impl = NoAttentionBackend().make_impl(b.params());
  impl->forward(b.query(), b.key(), b.value(), b.kv_cache(), b.metadata(), b.output());
  EXPECT_EQ(b.cache_bytes(), cache);
  EXPECT_EQ(b.output_bytes(), output);  // still the NaN poison
  EXPECT_EQ(b.check_output().num_nonfinite, 5 * 2 * 4);
}

TEST(NoAttention, ForwardAcceptsCudaTensorsWithoutReadingThem) {
  SyntheticBatch b(spec());
  MutableTensor query{b.query()}, key{b.key()}, value{b.value()}, output{b.output()};
  for (MutableTensor* t : {&query, &key, &value, &output}) {
    (*t)->device = {kDLCUDA, 0};
    (*t)->data = reinterpret_cast<void*>(0x1000);  // a device address the host must not touch
  }
  NoAttentionImpl impl;
  EXPECT_NO_THROW(impl.forward(*query, *key, *value, b.kv_cache(), b.metadata(), *output));
}

class NoAttentionForwardErrors : public ::testing::Test {
 protected:
  std::string error() {
    try {
      NoAttentionImpl().forward(*query, *key, *value, b.kv_cache(), b.metadata(), *output);
    } catch (const ValueError& e) {
      EXPECT_EQ(b.output_bytes(), poisoned);
      return e.what();
    }
    return "no ValueError";
  }
  SyntheticBatch b{spec()};
  const std::vector<std::byte> poisoned = b.output_bytes();
  MutableTensor query{b.query()}, key{b.key()}, value{b.value()}, output{b.output()};
};

TEST_F(NoAttentionForwardErrors, Query) {
  query->device = {kDLVulkan, 0};
  EXPECT_EQ(error(), "query: expected a cpu or cuda tensor, got device type 7:0");
  query->device = {kDLCPU, 0};
  query.set_shape({5, 8});
  EXPECT_EQ(error(), "query: expected 3 dimensions (num_tokens, num_heads, head_size), got 2 (shape [5, 8])");
  query.set_shape({5, 2, 4});
  query->dtype = {kDLFloat, 64, 1};
  EXPECT_EQ(error(), "query: expected dtype bfloat16, float16 or float32, got float64");
  query->dtype = {kDLBfloat, 16, 1};
  query.set_strides({8, 4, 0});
  EXPECT_EQ(error(), "query: stride 2 is 0; expected a positive stride (dimension 2 has size 4)");
}

TEST_F(NoAttentionForwardErrors, KeyValueOutput) {
  key->device = {kDLCUDA, 0};
  EXPECT_EQ(error(), "key: expected a cpu tensor (kDLCPU or kDLCUDAHost), got cuda:0");
  key->device = {kDLCPU, 0};
  value->dtype = {kDLFloat, 16, 1};
  EXPECT_EQ(error(), "value: expected dtype bfloat16, got float16");
  value->dtype = {kDLBfloat, 16, 1};
  value.set_shape({4, 1, 4});
  EXPECT_EQ(error(), "value: expected 5 tokens (the query's num_tokens), got shape [4, 1, 4]");
  value.set_shape({5, 1, 4});
  output.set_shape({5, 1, 4});
  EXPECT_EQ(error(), "output: expected shape [5, 2, 4] (num_tokens, num_heads, head_size), got [5, 1, 4]");
  output.set_shape({5, 2});
  EXPECT_EQ(error(),
            "output: expected 3 dimensions (num_tokens, num_heads, head_size), got 2 (shape [5, 2])");
}

TEST(NoAttention, LoadsAsThePluginTheRegistryNames) {
  ::setenv("ATTNREG_PLUGIN_PATH", ATTNREG_BUILD_PLUGIN_DIR, 1);
  EXPECT_EQ(AttentionBackendEnum::NO_ATTENTION.get_path(),
            "attnreg.backends.no_attention.NoAttentionBackend");
  const AttentionBackend& cls = AttentionBackendEnum::NO_ATTENTION.get_class();
  EXPECT_EQ(cls.get_name(), "NO_ATTENTION");
  EXPECT_FALSE(cls.supports_attention());
  EXPECT_EQ(cls.get_kv_cache_shape(4, 16, 8, 64), std::vector<std::int64_t>{0});
  EXPECT_EQ(&resolve_class("attnreg.backends.no_attention.NoAttentionBackend"), &cls);
}

}  // namespace
}  // namespace attnreg::no_attention
