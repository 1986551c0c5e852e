// A NaN in the KV cache reaches exactly the outputs that read it, as in the
// float64 reference: every head of its KV group when it is a key (its scores
// are NaN), one output dimension of those heads when it is a value. Checked
// for each cache type on the decode fast path (a one-token request whose keys
// are split across threads) and the general kernel (a chunked prefill), so no path reads NaN as a finite
// value (an fp8 byte widened by bit tricks) or drops it as a masked key.
#include <gtest/gtest.h>

#include <attnreg/numeric.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "cpu_attn_backend.hpp"

namespace attnreg::cpu_attn {
namespace {

constexpr int kHeads = 8, kKvHeads = 2, kHeadSize = 128, kBlockSize = 16;
constexpr int kNanHead = 1;  // KV head whose cached element is NaN
constexpr int kNanDim = 3;
constexpr int kNanKey = 5;  // position, visible to every query token below

struct NanCase {
  std::string name;
  ScalarType query_dtype;
  std::string kv_cache_dtype;  // "auto": the cache has the query's type
  bool in_key;
  std::uint32_t nan_bits;  // the NaN's bit pattern in the cache's element type
};

/// Writes `bits` (element_size bytes) into cache element [kv, block of pos, pos % bs, head, dim] of request
/// 0.
void poke(SyntheticBatch& batch, int kv, int request, int pos, int head, int dim, std::uint32_t bits,
          int esize) {
  const std::int64_t cols = static_cast<std::int64_t>(batch.block_table_values().size()) / batch.num_reqs();
  const std::int64_t block = batch.block_table_values()[request * cols + pos / kBlockSize];
  const std::int64_t element =
      (((kv * batch.num_blocks() + block) * kBlockSize + pos % kBlockSize) * kKvHeads + head) * kHeadSize +
      dim;
  std::memcpy(batch.cache_bytes().data() + element * esize, &bits, static_cast<std::size_t>(esize));
}

class CpuAttnNan : public ::testing::TestWithParam<NanCase> {};

TEST_P(CpuAttnNan, ReachesTheOutputsThatReadIt) {
  const NanCase& c = GetParam();
  BatchSpec spec;
  spec.context_lens = {2000, 40};
  spec.query_lens = {1, 8};  // a decode (fast path, its keys split and merged) and a chunked prefill
  spec.num_heads = kHeads;
  spec.num_kv_heads = kKvHeads;
  spec.head_size = kHeadSize;
  spec.block_size = kBlockSize;
  spec.dtype = c.query_dtype;
  spec.kv_cache_dtype = c.kv_cache_dtype;
  spec.shuffle_blocks = true;
  spec.seed = 4242;
  SyntheticBatch batch(spec);
  const ScalarType cache_type = c.kv_cache_dtype == "fp8_e4m3" ? ScalarType::Float8_E4M3 : c.query_dtype;
  const int esize = element_size(cache_type);
  for (int r = 0; r < 2; ++r) poke(batch, c.in_key ? 0 : 1, r, kNanKey, kNanHead, kNanDim, c.nan_bits, esize);

  const auto impl = CPUAttentionBackend().make_impl(batch.params());
  impl->forward(batch.query(), batch.key(), batch.value(), batch.kv_cache(), batch.metadata(),
                batch.output());

  const int group = kHeads / kKvHeads;
  const int out_size = element_size(c.query_dtype);
  int nan_count = 0;
  for (std::int64_t t = 0; t < batch.num_tokens(); ++t)
    for (int h = 0; h < kHeads; ++h)
      for (int e = 0; e < kHeadSize; ++e) {
        const double x = numeric::load_as_double(
            batch.output_bytes().data() + ((t * kHeads + h) * kHeadSize + e) * out_size, c.query_dtype);
        const bool reads_nan = h / group == kNanHead && (c.in_key || e == kNanDim);
        ASSERT_EQ(std::isnan(x), reads_nan) << "token " << t << " head " << h << " dim " << e << ": " << x;
        nan_count += reads_nan;
      }
  EXPECT_GT(nan_count, 0);
}

INSTANTIATE_TEST_SUITE_P(
    CacheTypes, CpuAttnNan,
    ::testing::Values(NanCase{"fp8_key", ScalarType::BFloat16, "fp8_e4m3", true, 0x7F},
                      NanCase{"fp8_value_negative", ScalarType::BFloat16, "fp8_e4m3", false, 0xFF},
                      NanCase{"fp8_key_fp32_query", ScalarType::Float32, "fp8_e4m3", true, 0xFF},
                      NanCase{"fp8_value_fp16_query", ScalarType::Float16, "fp8_e4m3", false, 0x7F},
                      NanCase{"bf16_key", ScalarType::BFloat16, "auto", true, 0x7FC0},
                      NanCase{"bf16_value", ScalarType::BFloat16, "auto", false, 0x7FC0},
                      NanCase{"fp16_key", ScalarType::Float16, "auto", true, 0x7E00},
                      NanCase{"fp32_key", ScalarType::Float32, "auto", true, 0x7FC00000},
                      NanCase{"fp32_value", ScalarType::Float32, "auto", false, 0x7FC00000}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace attnreg::cpu_attn
