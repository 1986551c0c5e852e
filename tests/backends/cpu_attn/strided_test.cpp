// Non-contiguous query and output views (rows padded, as slices of a larger
// tensor are) over a strided cache: CPU_ATTN honours every stride.
#include <gtest/gtest.h>

#include <attnreg/numeric.hpp>
#include <attnreg/reference.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu_attn_backend.hpp"

namespace attnreg::cpu_attn {
namespace {

constexpr std::int64_t kPad = 24;  // extra elements after each head row

/// A [T, H, D] view over a buffer whose head rows are D + kPad apart.
struct PaddedTensor {
  std::vector<std::byte> bytes;
  std::int64_t shape[3], strides[3];
  DLTensor t{};

  PaddedTensor(const DLTensor& like, ScalarType type) {
    std::memcpy(shape, like.shape, sizeof shape);
    strides[2] = 1;
    strides[1] = shape[2] + kPad;
    strides[0] = shape[1] * strides[1];
    bytes.resize(static_cast<std::size_t>(shape[0] * strides[0] * element_size(type)));
    t = like;
    t.data = bytes.data();
    t.byte_offset = 0;
    t.shape = shape;
    t.strides = strides;
  }
  std::byte* at(std::int64_t i, std::int64_t h, int esize) {
    return bytes.data() + (i * strides[0] + h * strides[1]) * esize;
  }
};

void run_strided(ScalarType dtype) {
  BatchSpec spec;
  spec.context_lens = {0, 30, 70};
  spec.query_lens = {12, 1, 4};
  spec.num_heads = 6;
  spec.num_kv_heads = 2;
  spec.head_size = 64;
  spec.block_size = 16;
  spec.dtype = dtype;
  spec.strided_cache = true;
  spec.shuffle_blocks = true;
  spec.seed = 99;
  SyntheticBatch batch(spec);
  const int esize = element_size(dtype);
  const std::int64_t T = batch.num_tokens(), H = spec.num_heads, D = spec.head_size;
  PaddedTensor query(batch.query(), dtype), output(batch.output(), dtype);
  const auto* src = static_cast<const std::byte*>(batch.query().data);  // compact [T, H, D]
  for (std::int64_t i = 0; i < T; ++i)
    for (std::int64_t h = 0; h < H; ++h)
      std::memcpy(query.at(i, h, esize), src + (i * H + h) * D * esize, static_cast<std::size_t>(D * esize));
  for (std::int64_t e = 0; e < static_cast<std::int64_t>(output.bytes.size()) / esize; ++e)
    numeric::store_from_float(output.bytes.data() + e * esize, dtype,
                              std::numeric_limits<float>::quiet_NaN());

  const std::vector<double> expected = batch.reference_output();
  CPUAttentionBackend()
      .make_impl(batch.params())
      ->forward(query.t, batch.key(), batch.value(), batch.kv_cache(), batch.metadata(), output.t);
  const auto cmp = reference::compare(output.t, expected, reference::tolerance(dtype));
  EXPECT_TRUE(cmp.passed) << cmp.first_failure;
  EXPECT_EQ(batch.check_kv_cache(), std::nullopt);
  // The padding between rows is never written.
  for (std::int64_t i = 0; i < T; ++i)
    for (std::int64_t h = 0; h < H; ++h) {
      const float pad =
          static_cast<float>(numeric::load_as_double(output.at(i, h, esize) + D * esize, dtype));
      EXPECT_TRUE(std::isnan(pad)) << "padding after output[" << i << ", " << h << "] written";
    }
}

TEST(CpuAttnStrided, Float32PaddedQueryAndOutputOverStridedCache) { run_strided(ScalarType::Float32); }
TEST(CpuAttnStrided, BFloat16PaddedQueryAndOutputOverStridedCache) { run_strided(ScalarType::BFloat16); }

}  // namespace
}  // namespace attnreg::cpu_attn
