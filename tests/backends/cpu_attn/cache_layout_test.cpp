// CPU_ATTN over every physical order of the paged cache's dimensions (the
// head dimension innermost and contiguous, as the contract asks), with and
// without padding after each head row. Each layout holds the same logical
// cache as the packed one and reaches forward as a strided view of the
// contract's [2, num_blocks, block_size, Hkv, D]; the output must match the
// float64 reference and the cache must end up holding what the packed
// layout's would, element by element.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <attnreg/synthetic_batch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "cpu_attn_backend.hpp"

namespace attnreg::cpu_attn {
namespace {

BatchSpec layout_spec(ScalarType dtype, std::string kv_cache_dtype) {
  BatchSpec s;
  s.context_lens = {0, 40, 70, 3};
  s.query_lens = {9, 1, 1, 4};  // a first prefill, two decodes over several tiles, a chunked prefill
  s.num_heads = 8;
  s.num_kv_heads = 2;
  s.head_size = 64;
  s.block_size = 16;
  s.dtype = dtype;
  s.kv_cache_dtype = std::move(kv_cache_dtype);
  s.shuffle_blocks = true;
  s.seed = 4242;
  return s;
}

/// The packed cache's contents laid out with the dimensions [2, num_blocks,
/// block_size, Hkv] in the physical order `outer_to_inner` and head rows of
/// D + pad elements.
struct Layout {
  std::array<std::int64_t, 5> shape{}, strides{};
  std::vector<std::byte> bytes;
  DLTensor view{};

  Layout(const DLTensor& packed, std::array<int, 4> outer_to_inner, std::int64_t pad, int esize) {
    std::copy(packed.shape, packed.shape + 5, shape.begin());
    strides[4] = 1;
    std::int64_t extent = shape[4] + pad;
    for (int i = 3; i >= 0; --i) {
      strides[outer_to_inner[i]] = extent;
      extent *= shape[outer_to_inner[i]];
    }
    bytes.assign(static_cast<std::size_t>(extent * esize), std::byte{0x7f});
    view = packed;
    view.data = bytes.data();
    view.byte_offset = 0;
    view.shape = shape.data();
    view.strides = strides.data();
    for_each_row(
        packed,
        [&](const std::byte* from, std::byte* to) {
          std::memcpy(to, from, static_cast<std::size_t>(shape[4] * esize));
        },
        esize);
  }

  /// Calls f(packed row, this layout's row) for every (kv, block, slot, head).
  template <class F>
  void for_each_row(const DLTensor& packed, F f, int esize) {
    auto* src = static_cast<std::byte*>(packed.data) + packed.byte_offset;
    for (std::int64_t kv = 0; kv < shape[0]; ++kv)
      for (std::int64_t b = 0; b < shape[1]; ++b)
        for (std::int64_t s = 0; s < shape[2]; ++s)
          for (std::int64_t h = 0; h < shape[3]; ++h) {
            const std::int64_t packed_at = kv * packed.strides[0] + b * packed.strides[1] +
                                           s * packed.strides[2] + h * packed.strides[3];
            const std::int64_t here = kv * strides[0] + b * strides[1] + s * strides[2] + h * strides[3];
            f(src + packed_at * esize, bytes.data() + here * esize);
          }
  }
};

void run_every_layout(ScalarType dtype, const std::string& kv_cache_dtype) {
  SyntheticBatch batch(layout_spec(dtype, kv_cache_dtype));
  const auto impl = CPUAttentionBackend().make_impl(batch.params());
  const std::vector<std::byte> expected_cache = batch.expected_kv_cache();  // packed, after the write
  const int esize = static_cast<int>((batch.kv_cache().dtype.bits + 7) / 8);
  std::array<int, 4> order{0, 1, 2, 3};
  int layouts = 0;
  do {
    for (std::int64_t pad : {0, 8}) {
      batch.reset_cache();
      batch.poison_output();
      Layout layout(batch.kv_cache(), order, pad, esize);
      const std::string name = "physical order [" + std::to_string(order[0]) + ", " +
                               std::to_string(order[1]) + ", " + std::to_string(order[2]) + ", " +
                               std::to_string(order[3]) + ", 4], pad " + std::to_string(pad);
      impl->forward(batch.query(), batch.key(), batch.value(), layout.view, batch.metadata(), batch.output());
      const auto cmp = batch.check_output();
      EXPECT_TRUE(cmp.passed) << name << ": " << cmp.first_failure;
      // The written cache, read back through the layout, is the packed
      // layout's expected cache row by row.
      DLTensor expected_view = batch.kv_cache();
      expected_view.data = const_cast<std::byte*>(expected_cache.data());
      expected_view.byte_offset = 0;
      int differing_rows = 0;
      layout.for_each_row(
          expected_view,
          [&](const std::byte* want, std::byte* got) {
            differing_rows += std::memcmp(want, got, static_cast<std::size_t>(layout.shape[4] * esize)) != 0;
          },
          esize);
      EXPECT_EQ(differing_rows, 0) << name;
      ++layouts;
    }
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(layouts, 48);
}

TEST(CpuAttnCacheLayout, BFloat16EveryPhysicalOrder) { run_every_layout(ScalarType::BFloat16, "auto"); }
TEST(CpuAttnCacheLayout, Float32EveryPhysicalOrder) { run_every_layout(ScalarType::Float32, "auto"); }
TEST(CpuAttnCacheLayout, Fp8CacheEveryPhysicalOrder) { run_every_layout(ScalarType::BFloat16, "fp8_e4m3"); }

}  // namespace
}  // namespace attnreg::cpu_attn
