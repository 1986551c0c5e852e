// A NaN in the KV cache reaches exactly the outputs that read it, as in the
// float64 reference: every head of its KV group when it is a key, one output
// dimension of those heads when it is a value. The batch has a long decode
// (split and merged), a short one and a prefill chunk, so each decode kernel
// (16-bit and fp8 caches), the split merge and the prefill kernel are checked
// for dropping a NaN score as if its key were masked.
#include <cstring>
#include <string>

#include "device_batch.hpp"

namespace attnreg::flash_attn::test {
namespace {

constexpr int kNanHead = 1;  // KV head whose cached element is NaN
constexpr int kNanDim = 3;
constexpr int kNanKey = 5;  // position, visible to every query token of the batch

struct NanCase {
  std::string name;
  bool bf16, fp8, in_key;
  std::uint16_t nan_bits;  // in the cache's element type (one byte for fp8)
};

bool is_nan(std::uint16_t bits, bool bf16) {
  return bf16 ? (bits & 0x7F80u) == 0x7F80u && (bits & 0x7Fu) != 0
              : (bits & 0x7C00u) == 0x7C00u && (bits & 0x3FFu) != 0;
}

class NanTest : public ::testing::TestWithParam<NanCase> {};

TEST_P(NanTest, ReachesTheOutputsThatReadIt) {
  FA_REQUIRE_DEVICE();
  const NanCase& c = GetParam();
  BatchSpec s;
  s.bf16 = c.bf16;
  s.fp8 = c.fp8;
  s.requests = {{1, 3000}, {1, 200}, {40, 300}};
  HostBatch b = make_batch(s);
  const int bs = s.block_size, hkv = s.num_kv_heads, d = s.head_size, esize = b.cache_elem();
  for (int r = 0; r < b.num_reqs; ++r) {
    const std::int64_t block = b.block_table[r * b.max_blocks_per_req + kNanKey / bs];
    const std::int64_t element =
        ((((c.in_key ? 0 : 1) * std::int64_t{b.num_blocks} + block) * bs + kNanKey % bs) * hkv + kNanHead) *
            d +
        kNanDim;
    std::memcpy(b.cache.data() + element * esize, &c.nan_bits, static_cast<std::size_t>(esize));
  }
  const DeviceBatch dev(b);
  auto impl = make_impl_for(b);
  impl->forward(dev.tq, dev.tk, dev.tv, dev.tcache, dev.metadata, dev.tout);
  FA_CUDA_OK(cudaDeviceSynchronize());
  std::vector<std::uint16_t> out(b.q.size());
  dev.out.download(out.data());

  const int heads = s.num_heads, group = heads / hkv;
  int nan_count = 0;
  for (int t = 0; t < b.query_start_loc[b.num_reqs]; ++t)
    for (int h = 0; h < heads; ++h)
      for (int e = 0; e < d; ++e) {
        const bool reads_nan = h / group == kNanHead && (c.in_key || e == kNanDim);
        ASSERT_EQ(is_nan(out[(static_cast<std::size_t>(t) * heads + h) * d + e], c.bf16), reads_nan)
            << "token " << t << " head " << h << " dim " << e;
        nan_count += reads_nan;
      }
  EXPECT_GT(nan_count, 0);
}

INSTANTIATE_TEST_SUITE_P(CacheTypes, NanTest,
                         ::testing::Values(NanCase{"bf16_key", true, false, true, 0x7FC0},
                                           NanCase{"bf16_value", true, false, false, 0x7FC0},
                                           NanCase{"fp16_key", false, false, true, 0x7E00},
                                           NanCase{"fp8_key", true, true, true, 0x7F},
                                           NanCase{"fp8_value_fp16", false, true, false, 0xFF}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace attnreg::flash_attn::test
