// validate_forward_args: a valid mixed batch passes with the right sizes, and
// every invalid input is refused with a ValueError whose message names the
// tensor, what it got and what it needs.
#include <gtest/gtest.h>

#include <attnreg/errors.hpp>
#include <attnreg/forward_args.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <cmath>
#include <string>

#include "mutable_tensor.hpp"

namespace attnreg {
namespace {

using testing::MutableTensor;

BatchSpec small_spec() {
  BatchSpec s;
  s.context_lens = {5, 0, 17};
  s.query_lens = {3, 4, 1};
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.head_size = 8;
  s.block_size = 4;
  s.num_padding_tokens = 2;
  return s;
}

// Mutable copies of every tensor of a small batch: T = 10 tokens in 4
// requests (the last one padding), 9 blocks of 4 slots, 5 blocks per request
// at most. Blocks are handed out in order: request 0 has blocks 0-1, request 1
// block 2, request 2 blocks 3-7, the padding request block 8.
class ForwardArgsTest : public ::testing::Test {
 protected:
  explicit ForwardArgsTest(BatchSpec spec = small_spec()) : batch(std::move(spec)) {}

  ForwardArgs validate(DeviceType device = DeviceType::CPU, bool check_index_ranges = true) {
    meta.query_start_loc = qsl_null ? nullptr : &*qsl;
    meta.seq_lens = seq_lens_null ? nullptr : &*seq_lens;
    meta.block_table = table_null ? nullptr : &*table;
    meta.slot_mapping = slots_null ? nullptr : &*slots;
    return validate_forward_args(params, *query, *key, *value, *cache, meta, *output, device,
                                 check_index_ranges);
  }
  std::string error(DeviceType device = DeviceType::CPU) {
    try {
      validate(device);
    } catch (const ValueError& e) {
      return e.what();
    }
    return "no ValueError";
  }
  void all_on_cuda() {
    for (MutableTensor* t : {&query, &key, &value, &cache, &output, &qsl, &seq_lens, &table, &slots})
      (*t)->device = {kDLCUDA, 0};
  }

  SyntheticBatch batch;
  AttentionLayerParams params = batch.params();
  MutableTensor query{batch.query()}, key{batch.key()}, value{batch.value()}, cache{batch.kv_cache()},
      output{batch.output()}, qsl{batch.query_start_loc()}, seq_lens{batch.seq_lens()},
      table{batch.block_table()}, slots{batch.slot_mapping()};
  AttentionMetadata meta = batch.metadata();
  bool qsl_null = false, seq_lens_null = false, table_null = false, slots_null = false;
};

TEST_F(ForwardArgsTest, ValidBatchGivesItsSizes) {
  const ForwardArgs a = validate();
  EXPECT_EQ(a.num_tokens, 10);
  EXPECT_EQ(a.num_reqs, 4);
  EXPECT_EQ(a.num_heads, 4);
  EXPECT_EQ(a.num_kv_heads, 2);
  EXPECT_EQ(a.head_size, 8);
  EXPECT_EQ(a.num_blocks, 9);
  EXPECT_EQ(a.block_size, 4);
  EXPECT_EQ(a.max_blocks_per_req, 5);
  EXPECT_EQ(a.dtype, ScalarType::Float32);
  EXPECT_EQ(a.cache_dtype, ScalarType::Float32);
  EXPECT_FALSE(a.fp8_cache);
  EXPECT_FLOAT_EQ(a.scale, 1.0f / std::sqrt(8.0f));
  EXPECT_TRUE(a.causal);
  EXPECT_TRUE(a.index_ranges_checked);
}

TEST_F(ForwardArgsTest, ScaleAndCausality) {
  params.scale = 0.5f;
  EXPECT_EQ(validate().scale, 0.5f);
  meta.causal = false;
  EXPECT_FALSE(validate().causal);
  meta.causal = true;
  for (auto type : {AttentionType::ENCODER, AttentionType::ENCODER_ONLY, AttentionType::ENCODER_DECODER}) {
    params.attn_type = type;
    EXPECT_FALSE(validate().causal) << to_string(type);
  }
}

TEST_F(ForwardArgsTest, PinnedHostMemoryIsHostMemory) {
  for (MutableTensor* t : {&query, &output, &slots}) (*t)->device = {kDLCUDAHost, 0};
  EXPECT_TRUE(validate().index_ranges_checked);
}

TEST_F(ForwardArgsTest, NegativeSlotsInsideARequestArePadding) {
  batch.slot_mapping_values()[1] = -1;
  EXPECT_NO_THROW(validate());
}

TEST_F(ForwardArgsTest, UnusedBlockTableEntriesAreNotChecked) {
  batch.block_table_values()[1 * 5 + 1] = 1000;  // request 1 uses one block
  EXPECT_NO_THROW(validate());
}

TEST_F(ForwardArgsTest, IndexChecksCanBeSkipped) {
  batch.slot_mapping_values()[0] = 1000;
  EXPECT_FALSE(validate(DeviceType::CPU, false).index_ranges_checked);
}

TEST_F(ForwardArgsTest, LayerParams) {
  auto expect = [&](auto change, const std::string& message) {
    const AttentionLayerParams saved = params;
    change(params);
    EXPECT_EQ(error(), message);
    params = saved;
  };
  expect([](auto& p) { p.num_heads = 0; },
         "params.num_heads: got 0; expected a positive number of query heads");
  expect([](auto& p) { p.num_kv_heads = 3; },
         "params.num_kv_heads: got 3; expected a positive divisor of num_heads = 4");
  expect([](auto& p) { p.num_kv_heads = 0; },
         "params.num_kv_heads: got 0; expected a positive divisor of num_heads = 4");
  expect([](auto& p) { p.head_size = 0; }, "params.head_size: got 0; expected a positive head size");
  expect([](auto& p) { p.scale = -1.0f; },
         "params.scale: got -1; expected a finite scale > 0, or 0 for 1/sqrt(head_size)");
  expect([](auto& p) { p.scale = INFINITY; },
         "params.scale: got inf; expected a finite scale > 0, or 0 for 1/sqrt(head_size)");
  expect([](auto& p) { p.sliding_window = 0; },
         "params.sliding_window: got 0; expected a positive window, or none");
  expect([](auto& p) { p.logits_soft_cap = -2.5f; },
         "params.logits_soft_cap: got -2.5; expected a finite cap > 0, or 0 for off");
  expect([](auto& p) { p.kv_cache_dtype = "fp8"; },
         "params.kv_cache_dtype: got \"fp8\"; expected \"auto\" or \"fp8_e4m3\"");
  expect([](auto& p) { p.k_scale = NAN; }, "params.k_scale: got nan; expected a finite positive scale");
  expect([](auto& p) { p.v_scale = 0.0f; }, "params.v_scale: got 0; expected a finite positive scale");
}

TEST_F(ForwardArgsTest, Query) {
  query->device = {kDLCUDA, 0};
  EXPECT_EQ(error(), "query: expected a cpu tensor (kDLCPU or kDLCUDAHost), got cuda:0");
  query->device = {kDLCPU, 0};
  query.set_shape({10, 32});
  EXPECT_EQ(error(),
            "query: expected 3 dimensions (num_tokens, num_heads, head_size), got 2 (shape [10, 32])");
  query.set_shape({10, 3, 8});
  EXPECT_EQ(error(), "query: expected shape [10, 4, 8] (num_tokens, num_heads, head_size), got [10, 3, 8]");
  query.set_shape({10, 4, 8});
  query.set_strides({64, 16, 2});
  EXPECT_EQ(
      error(),
      "query: stride 2 is 2; expected 1 (the last dimension of (num_tokens, num_heads, head_size) must be "
      "contiguous)");
  query->strides = nullptr;
  query->dtype = {kDLInt, 32, 1};
  EXPECT_EQ(error(), "query: expected dtype bfloat16, float16 or float32, got int32");
}

TEST_F(ForwardArgsTest, KeyAndValue) {
  key->dtype = {kDLFloat, 16, 1};
  EXPECT_EQ(error(), "key: expected dtype float32, got float16");
  key->dtype = {kDLFloat, 32, 1};
  key.set_shape({10, 4, 8});
  EXPECT_EQ(error(), "key: expected shape [10, 2, 8] (num_tokens, num_kv_heads, head_size), got [10, 4, 8]");
  key.set_shape({10, 2, 8});
  value.set_shape({9, 2, 8});
  EXPECT_EQ(error(), "value: expected shape [10, 2, 8] (num_tokens, num_kv_heads, head_size), got [9, 2, 8]");
  value.set_shape({10, 2, 8});
  value->device = {kDLCUDA, 0};
  EXPECT_EQ(error(), "value: expected a cpu tensor (kDLCPU or kDLCUDAHost), got cuda:0");
}

TEST_F(ForwardArgsTest, KvCache) {
  cache->dtype = {kDLFloat, 16, 1};
  EXPECT_EQ(error(),
            "kv_cache: expected dtype float32 (kv_cache_dtype auto stores the query's dtype), got float16");
  cache->dtype = {kDLFloat, 32, 1};
  params.kv_cache_dtype = "fp8_e4m3";
  EXPECT_EQ(
      error(),
      "kv_cache: expected dtype uint8 (kv_cache_dtype fp8_e4m3 stores float8_e4m3fn bytes), got float32");
  params.kv_cache_dtype = "auto";
  cache.set_shape({3, 9, 4, 2, 8});
  EXPECT_EQ(error(),
            "kv_cache: expected shape [2, 9, 4, 2, 8] (2, num_blocks, block_size, num_kv_heads, head_size), "
            "got [3, 9, "
            "4, 2, 8]");
  cache.set_shape({2, 9, 4, 2});
  EXPECT_EQ(error(),
            "kv_cache: expected 5 dimensions (2, num_blocks, block_size, num_kv_heads, head_size), got 4 "
            "(shape [2, 9, "
            "4, 2])");
  cache.set_shape({2, 0, 4, 2, 8});
  EXPECT_EQ(error(),
            "kv_cache: shape [2, 0, 4, 2, 8] has no slots; expected num_blocks >= 1 and block_size >= 1");
  cache.set_shape({2, 9, 4, 2, 8});
  cache.set_strides({576, 64, 16, 0, 1});
  EXPECT_EQ(error(), "kv_cache: stride 3 is 0; expected a positive stride (dimension 3 has size 2)");
  // The K and V halves one block apart: every block but the first of V is a block of K.
  cache.set_strides({64, 64, 16, 8, 1});
  EXPECT_EQ(error(),
            "kv_cache: strides [64, 64, 16, 8, 1] let elements share memory (dimension 0 steps 64 elements, "
            "within the 576 that the dimensions of smaller stride span); expected strides that keep elements "
            "apart, e.g. the contiguous [576, 64, 16, 8, 1]");
}

TEST_F(ForwardArgsTest, Output) {
  output->dtype = {kDLBfloat, 16, 1};
  EXPECT_EQ(error(), "output: expected dtype float32, got bfloat16");
  output->dtype = {kDLFloat, 32, 1};
  output.set_shape({10, 4, 4});
  EXPECT_EQ(error(), "output: expected shape [10, 4, 8] (num_tokens, num_heads, head_size), got [10, 4, 4]");
  output.set_shape({10, 4, 8});
  output.set_strides({32, 4, 1});  // head rows half as far apart as they are long
  EXPECT_EQ(
      error(),
      "output: strides [32, 4, 1] let elements share memory (dimension 1 steps 4 elements, within the 8 "
      "that the dimensions of smaller stride span); expected strides that keep elements apart, e.g. the "
      "contiguous [32, 8, 1]");
  output->strides = nullptr;
  output->data = query->data;
  EXPECT_EQ(
      error(),
      "output: overlaps query in memory; expected a separate buffer (in-place attention is not supported)");
  output->data = cache->data;
  EXPECT_EQ(error(),
            "output: overlaps kv_cache in memory; expected a separate buffer (in-place attention is not "
            "supported)");
}

TEST_F(ForwardArgsTest, CacheApartFromWhatForwardReads) {
  // The cache is written (this step's keys at their slots) while the call
  // still reads key, value, query and the metadata: none may share its memory.
  void* const key_data = key->data;
  key->data = cache->data;
  EXPECT_EQ(error(),
            "kv_cache: overlaps key in memory; expected a separate buffer (forward writes the cache while it "
            "reads the others)");
  key->data = key_data;
  slots->data = static_cast<std::byte*>(cache->data) + 8;
  EXPECT_EQ(
      error(),
      "kv_cache: overlaps metadata.slot_mapping in memory; expected a separate buffer (forward writes the "
      "cache while it reads the others)");
}

TEST_F(ForwardArgsTest, MissingMetadata) {
  qsl_null = true;
  EXPECT_EQ(error(), "metadata.query_start_loc: is null; expected an int32 tensor [num_reqs + 1]");
  qsl_null = false;
  seq_lens_null = true;
  EXPECT_EQ(error(), "metadata.seq_lens: is null; expected an int32 tensor [num_reqs]");
  seq_lens_null = false;
  table_null = true;
  EXPECT_EQ(error(),
            "metadata.block_table: is null; expected an int32 tensor [num_reqs, max_blocks_per_req]");
  table_null = false;
  slots_null = true;
  EXPECT_EQ(error(), "metadata.slot_mapping: is null; expected an int64 tensor [num_tokens]");
}

TEST_F(ForwardArgsTest, MetadataTensors) {
  qsl->dtype = {kDLInt, 64, 1};
  EXPECT_EQ(error(), "metadata.query_start_loc: expected dtype int32, got int64");
  qsl->dtype = {kDLInt, 32, 1};
  qsl.set_shape({0});
  EXPECT_EQ(error(),
            "metadata.query_start_loc: expected shape [num_reqs + 1] with at least one entry, got [0]");
  qsl.set_shape({5});
  seq_lens.set_shape({3});
  EXPECT_EQ(error(), "metadata.seq_lens: expected shape [4] (num_reqs), got [3]");
  seq_lens.set_shape({4});
  seq_lens->device = {kDLCUDA, 0};
  EXPECT_EQ(error(), "metadata.seq_lens: expected a cpu tensor (kDLCPU or kDLCUDAHost), got cuda:0");
  seq_lens->device = {kDLCPU, 0};
  table.set_shape({3, 5});
  EXPECT_EQ(error(),
            "metadata.block_table: expected shape [4, 5] (num_reqs, max_blocks_per_req), got [3, 5]");
  table.set_shape({4, 5});
  table->dtype = {kDLUInt, 8, 1};
  EXPECT_EQ(error(), "metadata.block_table: expected dtype int32, got uint8");
  table->dtype = {kDLInt, 32, 1};
  slots->dtype = {kDLInt, 32, 1};
  EXPECT_EQ(error(), "metadata.slot_mapping: expected dtype int64, got int32");
  slots->dtype = {kDLInt, 64, 1};
  slots.set_shape({9});
  EXPECT_EQ(error(), "metadata.slot_mapping: expected shape [10] (num_tokens), got [9]");
  slots.set_shape({10});
  meta.max_query_len = -1;
  EXPECT_EQ(error(), "metadata.max_query_len: got -1; expected >= 0");
  meta.max_query_len = 4;
  meta.max_seq_len = -1;
  EXPECT_EQ(error(), "metadata.max_seq_len: got -1; expected >= 0");
}

TEST_F(ForwardArgsTest, CudaTensorsOnOneGpuWithoutIndexChecks) {
  all_on_cuda();
  batch.slot_mapping_values()[0] = 1000;  // not read: the metadata is device memory
  EXPECT_FALSE(validate(DeviceType::CUDA).index_ranges_checked);
  key->device = {kDLCUDA, 1};
  EXPECT_EQ(error(DeviceType::CUDA), "key: expected device cuda:0 (the query's device), got cuda:1");
  key->device = {kDLCUDA, 0};
  table->device = {kDLCUDA, 1};
  EXPECT_EQ(error(DeviceType::CUDA),
            "metadata.block_table: expected device cuda:0 (the query's device), got cuda:1");
  table->device = {kDLCPU, 0};
  EXPECT_EQ(error(DeviceType::CUDA),
            "metadata.block_table: expected a cuda tensor (kDLCUDA or kDLCUDAManaged), got cpu");
}

TEST_F(ForwardArgsTest, QueryStartLoc) {
  auto& q = batch.query_start_loc_values();
  ASSERT_EQ(q, (std::vector<std::int32_t>{0, 3, 7, 8, 10}));
  q[0] = 1;
  EXPECT_EQ(error(), "metadata.query_start_loc: entry 0 is 1; expected 0");
  q[0] = 0;
  q[2] = 2;
  EXPECT_EQ(error(),
            "metadata.query_start_loc: decreases from 3 at entry 1 to 2 at entry 2; expected non-decreasing "
            "offsets");
  q[2] = 7;
  q[3] = 11;
  EXPECT_EQ(error(), "metadata.query_start_loc: entry 3 is 11; expected at most num_tokens = 10");
  q[3] = 8;
  q[4] = 9;
  EXPECT_EQ(error(), "metadata.query_start_loc: last entry (4) is 9; expected num_tokens = 10");
}

TEST_F(ForwardArgsTest, SeqLens) {
  auto& s = batch.seq_lens_values();
  ASSERT_EQ(s, (std::vector<std::int32_t>{8, 4, 18, 2}));
  s[1] = 3;
  EXPECT_EQ(
      error(),
      "metadata.seq_lens: entry 1 is 3 but request 1 has 4 query tokens; expected seq_lens[r] >= its query "
      "length");
  s[1] = 4;
  s[2] = 21;
  EXPECT_EQ(error(),
            "metadata.seq_lens: entry 2 is 21; expected at most 20 (max_blocks_per_req 5 * block_size 4)");
  s[2] = 18;
  meta.max_query_len = 3;
  EXPECT_EQ(error(), "metadata.max_query_len: got 3; expected at least 4, the longest query");
  meta.max_query_len = 4;
  meta.max_seq_len = 17;
  EXPECT_EQ(error(), "metadata.max_seq_len: got 17; expected at least 18, the longest seq_lens entry");
}

TEST_F(ForwardArgsTest, BlockTable) {
  auto& t = batch.block_table_values();
  t[2 * 5 + 3] = 9;
  EXPECT_EQ(
      error(),
      "metadata.block_table: entry [2, 3] is 9; expected a block index in [0, 9) (request 2 uses 5 blocks)");
  t[2 * 5 + 3] = -1;
  EXPECT_EQ(
      error(),
      "metadata.block_table: entry [2, 3] is -1; expected a block index in [0, 9) (request 2 uses 5 blocks)");
}

TEST_F(ForwardArgsTest, SlotMapping) {
  auto& s = batch.slot_mapping_values();
  ASSERT_EQ(s, (std::vector<std::int64_t>{5, 6, 7, 8, 9, 10, 11, 29, -1, -1}));
  s[4] = 36;
  EXPECT_EQ(error(),
            "metadata.slot_mapping: entry 4 is 36; expected a negative (padding) slot or one in [0, 36) "
            "(num_blocks "
            "9 * block_size 4)");
  s[4] = 9;
  s[0] = 4;
  EXPECT_EQ(error(),
            "metadata.slot_mapping: entry 0 (request 0, position 5) is 4; expected 5, the slot "
            "block_table[0][1] = 1 "
            "gives that position with block_size 4");
}

TEST_F(ForwardArgsTest, EmptyBatch) {
  for (MutableTensor* t : {&query, &output}) t->set_shape({0, 4, 8});
  for (MutableTensor* t : {&key, &value}) t->set_shape({0, 2, 8});
  qsl.set_shape({1});
  seq_lens.set_shape({0});
  table.set_shape({0, 5});
  slots.set_shape({0});
  const ForwardArgs a = validate();
  EXPECT_EQ(a.num_tokens, 0);
  EXPECT_EQ(a.num_reqs, 0);
  EXPECT_TRUE(a.index_ranges_checked);
}

// vLLM's query, key and value are often views of one fused QKV projection:
// overlapping, strided inputs are fine (only the output must stand alone).
TEST_F(ForwardArgsTest, PackedQkvViews) {
  std::vector<float> qkv(10 * (4 + 2 + 2) * 8);
  query->data = qkv.data();
  key->data = qkv.data() + 4 * 8;
  value->data = qkv.data() + 6 * 8;
  query.set_strides({64, 8, 1});
  key.set_strides({64, 8, 1});
  value.set_strides({64, 8, 1});
  EXPECT_NO_THROW(validate());
  output->data = qkv.data() + 8;
  EXPECT_EQ(
      error(),
      "output: overlaps query in memory; expected a separate buffer (in-place attention is not supported)");
}

class Fp8ForwardArgsTest : public ForwardArgsTest {
 protected:
  static BatchSpec spec() {
    BatchSpec s = small_spec();
    s.kv_cache_dtype = "fp8_e4m3";
    s.dtype = ScalarType::BFloat16;
    return s;
  }
  Fp8ForwardArgsTest() : ForwardArgsTest(spec()) {}
};

TEST_F(Fp8ForwardArgsTest, Fp8CacheIsUint8) {
  const ForwardArgs a = validate();
  EXPECT_EQ(a.dtype, ScalarType::BFloat16);
  EXPECT_EQ(a.cache_dtype, ScalarType::Float8_E4M3);
  EXPECT_TRUE(a.fp8_cache);
  params.kv_cache_dtype = "auto";
  EXPECT_EQ(error(),
            "kv_cache: expected dtype bfloat16 (kv_cache_dtype auto stores the query's dtype), got uint8");
}

}  // namespace
}  // namespace attnreg
