// Every invalid forward input gives ValueError with a message naming it, and
// leaves both the output (still NaN-poisoned) and the KV cache untouched;
// make_impl refuses layers CPU_ATTN cannot run.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <attnreg/errors.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "cpu_attn_backend.hpp"

namespace attnreg::cpu_attn {
namespace {

using ::testing::HasSubstr;

BatchSpec small_spec() {
  BatchSpec s;
  s.context_lens = {0, 20};
  s.query_lens = {5, 1};
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.head_size = 64;
  s.block_size = 16;
  s.seed = 11;
  return s;
}

/// The tensors a forward call receives; a case edits them (or the batch's
/// metadata buffers) before the call.
struct Call {
  DLTensor query, key, value, cache, output;
  AttentionMetadata metadata;
};

void expect_refused(const std::function<void(SyntheticBatch&, Call&)>& corrupt, const std::string& message) {
  SyntheticBatch batch(small_spec());
  const auto impl = CPUAttentionBackend().make_impl(batch.params());
  Call call{batch.query(), batch.key(), batch.value(), batch.kv_cache(), batch.output(), batch.metadata()};
  corrupt(batch, call);
  const std::vector<std::byte> cache_before = batch.cache_bytes();
  const std::vector<std::byte> output_before = batch.output_bytes();
  try {
    impl->forward(call.query, call.key, call.value, call.cache, call.metadata, call.output);
    ADD_FAILURE() << "no exception; expected ValueError containing: " << message;
  } catch (const ValueError& e) {
    EXPECT_THAT(e.what(), HasSubstr(message));
  }
  EXPECT_TRUE(batch.cache_bytes() == cache_before) << "kv_cache written before the error";
  EXPECT_EQ(std::memcmp(batch.output_bytes().data(), output_before.data(), output_before.size()), 0)
      << "output written before the error";
}

TEST(CpuAttnValidation, QueryOfAnIntegerDtype) {
  expect_refused(
      [](SyntheticBatch&, Call& c) {
        c.query.dtype = DLDataType{kDLInt, 32, 1};
      },
      "query: expected dtype bfloat16, float16 or float32, got int32");
}

TEST(CpuAttnValidation, KeyWithTheWrongHeadCount) {
  static std::int64_t shape[3];
  expect_refused(
      [](SyntheticBatch&, Call& c) {
        std::memcpy(shape, c.key.shape, sizeof shape);
        shape[1] = 4;
        c.key.shape = shape;
      },
      "key: expected shape [6, 2, 64]");
}

TEST(CpuAttnValidation, BlockTableEntryOutOfRange) {
  expect_refused([](SyntheticBatch& b, Call&) { b.block_table_values()[0] = 1000; },
                 "metadata.block_table: entry [0, 0] is 1000; expected a block index in [0, ");
}

TEST(CpuAttnValidation, SlotThatDisagreesWithTheBlockTable) {
  expect_refused([](SyntheticBatch& b, Call&) { b.slot_mapping_values()[1] += 1; },
                 "metadata.slot_mapping: entry 1 (request 0, position 1)");
}

TEST(CpuAttnValidation, SeqLenShorterThanTheQuery) {
  expect_refused([](SyntheticBatch& b, Call&) { b.seq_lens_values()[0] = 2; },
                 "metadata.seq_lens: entry 0 is 2 but request 0 has 5 query tokens");
}

TEST(CpuAttnValidation, QueryStartLocNotEndingAtNumTokens) {
  expect_refused([](SyntheticBatch& b, Call&) { b.query_start_loc_values()[2] = 5; },
                 "metadata.query_start_loc: last entry (2) is 5; expected num_tokens = 6");
}

TEST(CpuAttnValidation, OutputAliasingTheQuery) {
  expect_refused([](SyntheticBatch&, Call& c) { c.output = c.query; }, "output: overlaps query in memory");
}

TEST(CpuAttnValidation, MissingMetadataTensor) {
  expect_refused([](SyntheticBatch&, Call& c) { c.metadata.seq_lens = nullptr; },
                 "metadata.seq_lens: is null");
}

void expect_make_impl_refused(const std::function<void(AttentionLayerParams&)>& change,
                              const std::string& message) {
  AttentionLayerParams p;
  p.num_heads = 8;
  p.num_kv_heads = 2;
  p.head_size = 128;
  change(p);
  try {
    CPUAttentionBackend().make_impl(p);
    ADD_FAILURE() << "no exception; expected ValueError: " << message;
  } catch (const ValueError& e) {
    EXPECT_THAT(e.what(), HasSubstr(message));
  }
}

TEST(CpuAttnMakeImpl, RefusesUnsupportedHeadSize) {
  expect_make_impl_refused(
      [](auto& p) { p.head_size = 72; },
      "CPU_ATTN: cannot run this layer: head_size not supported: 72 (supported: 32, 48, 64, "
      "80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256)");
}

TEST(CpuAttnMakeImpl, RefusesUnknownCacheDtype) {
  expect_make_impl_refused([](auto& p) { p.kv_cache_dtype = "fp8_e5m2"; },
                           "params.kv_cache_dtype: got \"fp8_e5m2\"; expected \"auto\" or \"fp8_e4m3\"");
}

TEST(CpuAttnMakeImpl, RefusesKvHeadsNotDividingHeads) {
  expect_make_impl_refused([](auto& p) { p.num_kv_heads = 3; },
                           "params.num_kv_heads: got 3; expected a positive divisor");
}

TEST(CpuAttnBackend, DescribesItsCapabilities) {
  const CPUAttentionBackend cpu;
  const TorchSDPABackend sdpa;
  EXPECT_EQ(cpu.get_name(), "CPU_ATTN");
  EXPECT_EQ(sdpa.get_name(), "TORCH_SDPA");
  EXPECT_EQ(cpu.supported_kv_cache_dtypes(), (std::vector<std::string>{"auto", "fp8_e4m3"}));
  EXPECT_EQ(sdpa.supported_head_sizes(), cpu.supported_head_sizes());
  EXPECT_TRUE(cpu.supports_sink());
  EXPECT_TRUE(cpu.supports_alibi());
  EXPECT_TRUE(cpu.supports_non_causal());
  AttentionConfig c;
  c.head_size = 128;
  c.dtype = ScalarType::BFloat16;
  c.device = DeviceType::CPU;
  c.num_heads = 32;
  c.num_kv_heads = 8;
  c.has_sink = true;
  c.has_alibi = true;
  c.attn_type = AttentionType::ENCODER_DECODER;
  EXPECT_TRUE(cpu.validate_configuration(c).empty());
  c.device = DeviceType::CUDA;
  EXPECT_THAT(cpu.validate_configuration(c),
              ::testing::ElementsAre("device not supported: cuda (supported: cpu)"));
}

}  // namespace
}  // namespace attnreg::cpu_attn
