// reference::write_kv_cache: what lands where, and its input checks.
#include <gtest/gtest.h>

#include <attnreg/errors.hpp>
#include <attnreg/reference.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <string>

#include "../contract/mutable_tensor.hpp"

namespace attnreg::reference {
namespace {

using attnreg::testing::MutableTensor;

BatchSpec spec(std::string cache_dtype) {
  BatchSpec s;
  s.context_lens = {3, 0};
  s.query_lens = {2, 5};
  s.num_heads = 2;
  s.num_kv_heads = 2;
  s.head_size = 4;
  s.block_size = 2;
  s.dtype = ScalarType::Float16;
  s.kv_cache_dtype = std::move(cache_dtype);
  s.k_scale = 0.125f;
  s.num_padding_tokens = 1;
  s.shuffle_blocks = true;
  s.strided_cache = true;
  return s;
}

TEST(WriteKvCache, WritesExactlyTheNewTokens) {
  for (const char* cache_dtype : {"auto", "fp8_e4m3"}) {
    SyntheticBatch b(spec(cache_dtype));
    ASSERT_NE(b.check_kv_cache(), std::nullopt);  // the new tokens are not in the cache yet
    write_kv_cache(b.params(), b.key(), b.value(), b.kv_cache(), b.slot_mapping());
    EXPECT_EQ(b.check_kv_cache(), std::nullopt) << cache_dtype;
  }
}

std::string error_of(const AttentionLayerParams& p, const DLTensor& k, const DLTensor& v, const DLTensor& c,
                     const DLTensor& s) {
  try {
    write_kv_cache(p, k, v, c, s);
  } catch (const ValueError& e) {
    return e.what();
  }
  return "no ValueError";
}

TEST(WriteKvCache, Errors) {
  SyntheticBatch b(spec("auto"));
  const auto before = b.cache_bytes();
  MutableTensor key{b.key()}, value{b.value()}, cache{b.kv_cache()}, slots{b.slot_mapping()};
  AttentionLayerParams params = b.params();
  auto error = [&] { return error_of(params, *key, *value, *cache, *slots); };

  // Shuffled blocks: 2 * 7 needed blocks (3 + 3 + 1 for the padding request) + 1 = 15 blocks of 2.
  b.slot_mapping_values()[2] = 1000;
  EXPECT_EQ(
      error(),
      "slot_mapping: entry 2 is 1000; expected a negative (padding) slot or one in [0, 30) (num_blocks 15 * "
      "block_size 2)");
  b.slot_mapping_values()[2] = 30;
  EXPECT_EQ(
      error(),
      "slot_mapping: entry 2 is 30; expected a negative (padding) slot or one in [0, 30) (num_blocks 15 * "
      "block_size 2)");
  b.slot_mapping_values()[2] = 0;
  slots->dtype = {kDLInt, 32, 1};
  EXPECT_EQ(error(), "slot_mapping: expected dtype int64, got int32");
  slots->dtype = {kDLInt, 64, 1};
  slots.set_shape({7});
  EXPECT_EQ(error(), "slot_mapping: expected shape [8] (num_tokens), got [7]");
  slots.set_shape({8});
  value.set_shape({8, 1, 4});
  EXPECT_EQ(error(), "value: expected shape [8, 2, 4] (num_tokens, num_kv_heads, head_size), got [8, 1, 4]");
  value.set_shape({8, 2, 4});
  key->dtype = {kDLInt, 32, 1};
  EXPECT_EQ(error(), "key: expected dtype bfloat16, float16 or float32, got int32");
  key->dtype = {kDLFloat, 16, 1};
  params.kv_cache_dtype = "fp8_e4m3";
  EXPECT_EQ(error(), "kv_cache: expected dtype uint8, got float16");
  params.kv_cache_dtype = "auto";
  cache->device = {kDLCUDA, 0};
  EXPECT_EQ(error(), "kv_cache: expected a cpu tensor (kDLCPU or kDLCUDAHost), got cuda:0");
  cache->device = {kDLCPU, 0};
  params.num_kv_heads = 3;
  EXPECT_EQ(error(), "params.num_kv_heads: got 3; expected a positive divisor of num_heads = 2");
  EXPECT_EQ(b.cache_bytes(), before);  // nothing was written by any failed call
}

}  // namespace
}  // namespace attnreg::reference
