// SyntheticBatch: layout of the batch it builds, its randomness, its checks
// and its spec errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <attnreg/errors.hpp>
#include <attnreg/forward_args.hpp>
#include <attnreg/numeric.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <attnreg/tensor.hpp>
#include <cmath>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace attnreg {
namespace {

BatchSpec small_spec() {
  BatchSpec s;
  s.context_lens = {5, 0, 17};
  s.query_lens = {3, 4, 1};
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.head_size = 8;
  s.block_size = 4;
  s.num_padding_tokens = 2;
  s.dtype = ScalarType::Float16;
  return s;
}

// Every element of a float tensor, read through its strides.
std::vector<double> values_of(const DLTensor& t, ScalarType type) {
  std::vector<double> out;
  std::vector<std::int64_t> index(t.ndim, 0);
  const std::int64_t n = tensor::numel(t);
  for (std::int64_t i = 0; i < n; ++i) {
    out.push_back(numeric::load_as_double(tensor::element_address(t, index), type));
    for (int d = t.ndim - 1; d >= 0 && ++index[d] == t.shape[d]; --d) index[d] = 0;
  }
  return out;
}

TEST(SyntheticBatch, MixedBatchLayout) {
  const SyntheticBatch b(small_spec());
  EXPECT_EQ(b.num_tokens(), 10);
  EXPECT_EQ(b.num_reqs(), 4);
  EXPECT_EQ(b.num_blocks(), 9);
  EXPECT_EQ(tensor::shape_string(b.query()), "[10, 4, 8]");
  EXPECT_EQ(tensor::shape_string(b.key()), "[10, 2, 8]");
  EXPECT_EQ(tensor::shape_string(b.kv_cache()), "[2, 9, 4, 2, 8]");
  EXPECT_EQ(tensor::shape_string(b.block_table()), "[4, 5]");
  EXPECT_EQ(tensor::dtype_string(b.query()), "float16");
  EXPECT_EQ(tensor::dtype_string(b.slot_mapping()), "int64");
  SyntheticBatch& m = const_cast<SyntheticBatch&>(b);
  EXPECT_EQ(m.query_start_loc_values(), (std::vector<std::int32_t>{0, 3, 7, 8, 10}));
  EXPECT_EQ(m.seq_lens_values(), (std::vector<std::int32_t>{8, 4, 18, 2}));
  EXPECT_EQ(m.block_table_values(),
            (std::vector<std::int32_t>{0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0}));
  EXPECT_EQ(m.slot_mapping_values(), (std::vector<std::int64_t>{5, 6, 7, 8, 9, 10, 11, 29, -1, -1}));
  EXPECT_EQ(b.metadata().max_query_len, 4);
  EXPECT_EQ(b.metadata().max_seq_len, 18);
  EXPECT_TRUE(b.metadata().causal);
  EXPECT_EQ(b.params().num_heads, 4);
  EXPECT_EQ(b.params().sinks, nullptr);
  EXPECT_EQ(b.params().alibi_slopes, nullptr);
  const ForwardArgs a = validate_forward_args(b.params(), b.query(), b.key(), b.value(), b.kv_cache(),
                                              b.metadata(), b.output(), DeviceType::CPU);
  EXPECT_TRUE(a.index_ranges_checked);
}

TEST(SyntheticBatch, OutputIsPoisonedAndInputsAreFiniteAndBounded) {
  for (bool strided : {false, true}) {
    BatchSpec s = small_spec();
    s.strided_cache = strided;
    s.kv_cache_dtype = "fp8_e4m3";
    s.k_scale = 0.5f;
    SyntheticBatch b(s);
    for (double x : values_of(b.output(), ScalarType::Float16)) ASSERT_TRUE(std::isnan(x));
    for (const DLTensor* t : {&b.query(), &b.key(), &b.value()})
      for (double x : values_of(*t, ScalarType::Float16)) ASSERT_TRUE(x >= -1.0 && x <= 1.0) << x;
    // Keys are stored as x / k_scale, so up to 2 in magnitude; values as x / 1.
    const auto cache = values_of(b.kv_cache(), ScalarType::Float8_E4M3);
    const std::size_t half = cache.size() / 2;
    for (std::size_t i = 0; i < cache.size(); ++i)
      ASSERT_LE(std::abs(cache[i]), i < half ? 2.0 : 1.0) << "element " << i << (strided ? " strided" : "");
    EXPECT_EQ(tensor::dtype_string(b.kv_cache()), "uint8");
  }
}

TEST(SyntheticBatch, ShuffledBlocksHaveHolesAndNoSharing) {
  BatchSpec s = small_spec();
  s.shuffle_blocks = true;
  s.extra_block_table_columns = 2;
  SyntheticBatch b(s);
  EXPECT_EQ(b.num_blocks(), 2 * 9 + 1);
  EXPECT_EQ(b.block_table().shape[1], 7);
  const std::vector<int> needed{2, 1, 5, 1};
  std::set<std::int32_t> used;
  std::vector<std::int32_t> in_order;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 7; ++c) {
      const std::int32_t block = b.block_table_values()[r * 7 + c];
      if (c >= needed[r]) {
        EXPECT_EQ(block, 0) << "unused entry [" << r << ", " << c << "]";
        continue;
      }
      EXPECT_TRUE(block >= 0 && block < 19);
      EXPECT_TRUE(used.insert(block).second) << "block " << block << " given twice";
      in_order.push_back(block);
    }
  EXPECT_EQ(used.size(), 9u);
  EXPECT_FALSE(std::is_sorted(in_order.begin(), in_order.end()));
  EXPECT_TRUE(validate_forward_args(b.params(), b.query(), b.key(), b.value(), b.kv_cache(), b.metadata(),
                                    b.output(), DeviceType::CPU)
                  .index_ranges_checked);
}

TEST(SyntheticBatch, HeadMajorCacheStridesCoverTheBufferOnce) {
  BatchSpec s = small_spec();
  s.head_major_cache = true;
  SyntheticBatch b(s);
  // Physically [2][9][2][4][8]: each block holds one KV head's 4 rows together.
  const std::vector<std::int64_t> strides(b.kv_cache().strides, b.kv_cache().strides + 5);
  EXPECT_EQ(strides, (std::vector<std::int64_t>{9 * 64, 64, 8, 32, 1}));
  // The strides map the logical elements one to one onto the buffer.
  const DLTensor& c = b.kv_cache();
  std::vector<int> hits(b.cache_bytes().size() / 2, 0);
  for (std::int64_t kv = 0; kv < 2; ++kv)
    for (std::int64_t blk = 0; blk < c.shape[1]; ++blk)
      for (std::int64_t slot = 0; slot < 4; ++slot)
        for (std::int64_t h = 0; h < 2; ++h)
          for (std::int64_t d = 0; d < 8; ++d) {
            const std::int64_t e =
                kv * c.strides[0] + blk * c.strides[1] + slot * c.strides[2] + h * c.strides[3] + d;
            ASSERT_TRUE(e >= 0 && e < static_cast<std::int64_t>(hits.size())) << e;
            ++hits[static_cast<std::size_t>(e)];
          }
  EXPECT_EQ(std::count(hits.begin(), hits.end(), 1), static_cast<std::ptrdiff_t>(hits.size()));
  EXPECT_TRUE(validate_forward_args(b.params(), b.query(), b.key(), b.value(), b.kv_cache(), b.metadata(),
                                    b.output(), DeviceType::CPU)
                  .index_ranges_checked);
}

TEST(SyntheticBatch, StridedCacheStrides) {
  BatchSpec s = small_spec();
  s.strided_cache = true;
  const SyntheticBatch b(s);
  // Physically [9][2][4][2][8 + 8].
  const std::vector<std::int64_t> strides(b.kv_cache().strides, b.kv_cache().strides + 5);
  EXPECT_EQ(strides, (std::vector<std::int64_t>{128, 256, 32, 16, 1}));
  EXPECT_NO_THROW(validate_forward_args(b.params(), b.query(), b.key(), b.value(), b.kv_cache(), b.metadata(),
                                        b.output(), DeviceType::CPU));
}

TEST(SyntheticBatch, SeedDecidesTheData) {
  BatchSpec s = small_spec();
  s.shuffle_blocks = true;
  SyntheticBatch a(s), same(s);
  s.seed = 1;
  SyntheticBatch other(s);
  EXPECT_EQ(a.cache_bytes(), same.cache_bytes());
  EXPECT_EQ(a.block_table_values(), same.block_table_values());
  EXPECT_EQ(values_of(a.query(), ScalarType::Float16), values_of(same.query(), ScalarType::Float16));
  EXPECT_NE(a.cache_bytes(), other.cache_bytes());
  EXPECT_NE(values_of(a.query(), ScalarType::Float16), values_of(other.query(), ScalarType::Float16));
}

TEST(SyntheticBatch, SinksAndAlibiSlopes) {
  BatchSpec s = small_spec();
  s.use_sinks = s.use_alibi = true;
  const SyntheticBatch b(s);
  ASSERT_NE(b.params().sinks, nullptr);
  for (int h = 0; h < 4; ++h) EXPECT_TRUE(std::abs(b.params().sinks[h]) <= 1.0f);
  ASSERT_NE(b.params().alibi_slopes, nullptr);
  EXPECT_EQ(b.params().alibi_slopes[0], 0.25f);  // 2^(-8 * 1 / 4)
  EXPECT_EQ(b.params().alibi_slopes[3], 1.0f / 256);
}

TEST(SyntheticBatch, ReferenceForwardLeavesTheExpectedCacheAndOutputChecks) {
  SyntheticBatch b(small_spec());
  const std::vector<double> expected = b.reference_output();
  EXPECT_NE(b.check_kv_cache(), std::nullopt);
  std::vector<double> out(expected.size());
  reference::forward(b.params(), b.query(), b.key(), b.value(), b.kv_cache(), b.metadata(), b.output(), out);
  EXPECT_EQ(b.check_kv_cache(), std::nullopt);
  EXPECT_EQ(out, expected);  // the write is idempotent: the same answer from the written cache

  const reference::Comparison poisoned = b.check_output();
  EXPECT_FALSE(poisoned.passed);
  EXPECT_EQ(poisoned.num_nonfinite, 10 * 4 * 8);
  const auto view = tensor::TensorView::of(b.output(), ScalarType::Float16);
  for (std::int64_t i = 0; i < 10 * 4 * 8; ++i)
    numeric::store_from_float(view.data + 2 * i, ScalarType::Float16, static_cast<float>(expected[i]));
  EXPECT_TRUE(b.check_output().passed);
  b.poison_output();
  EXPECT_EQ(b.check_output().num_nonfinite, 10 * 4 * 8);

  // A corrupted element is reported by its index.
  const std::size_t v_block0 = 9 * 4 * 2 * 8 * 2;  // byte offset of kv_cache[1, 0, 0, 0, 0]
  b.cache_bytes()[v_block0] = std::byte{0x00};
  b.cache_bytes()[v_block0 + 1] = std::byte{0x7C};  // +inf in fp16, never a random value
  const auto report = b.check_kv_cache();
  ASSERT_NE(report, std::nullopt);
  EXPECT_EQ(report->substr(0, 39), "kv_cache[1, 0, 0, 0, 0] = 0x7c00, expec");
  b.reset_cache();
  EXPECT_EQ(b.cache_bytes(), SyntheticBatch(small_spec()).cache_bytes());
}

TEST(SyntheticBatch, WithoutInitialCache) {
  BatchSpec s = small_spec();
  s.keep_initial_cache = false;
  SyntheticBatch b(s);
  try {
    b.reference_output();
    FAIL() << "no ValueError";
  } catch (const ValueError& e) {
    EXPECT_STREQ(
        e.what(),
        "SyntheticBatch::reference_output: the batch was built with keep_initial_cache = false; expected a "
        "batch that keeps its initial cache");
  }
  try {
    b.reset_cache();
    FAIL() << "no ValueError";
  } catch (const ValueError& e) {
    EXPECT_STREQ(
        e.what(),
        "SyntheticBatch::reset_cache: the batch was built with keep_initial_cache = false; expected a batch "
        "that keeps its initial cache");
  }
}

TEST(SyntheticBatch, SpecErrors) {
  auto error = [](const std::function<void(BatchSpec&)>& change) -> std::string {
    BatchSpec s = small_spec();
    change(s);
    try {
      SyntheticBatch b(s);
    } catch (const ValueError& e) {
      return e.what();
    }
    return "no ValueError";
  };
  EXPECT_EQ(error([](auto& s) { s.context_lens.clear(), s.query_lens.clear(); }),
            "BatchSpec.context_lens: is empty; expected one entry per request (at least one request)");
  EXPECT_EQ(error([](auto& s) { s.query_lens.pop_back(); }),
            "BatchSpec.query_lens: has 2 entries; expected one per request, 3 (as context_lens)");
  EXPECT_EQ(error([](auto& s) { s.context_lens[1] = -1; }),
            "BatchSpec: request 1 has context_len -1 and query_len 4; expected non-negative lengths with at "
            "least one "
            "token in total");
  EXPECT_EQ(error([](auto& s) { s.query_lens[1] = 0; }),
            "BatchSpec: request 1 has context_len 0 and query_len 0; expected non-negative lengths with at "
            "least one "
            "token in total");
  EXPECT_EQ(error([](auto& s) { s.block_size = 0; }),
            "BatchSpec.block_size: got 0; expected a positive block size");
  EXPECT_EQ(error([](auto& s) { s.num_padding_tokens = -1; }),
            "BatchSpec.num_padding_tokens: got -1; expected >= 0");
  EXPECT_EQ(error([](auto& s) { s.extra_block_table_columns = -1; }),
            "BatchSpec.extra_block_table_columns: got -1; expected >= 0");
  EXPECT_EQ(error([](auto& s) { s.strided_cache = s.head_major_cache = true; }),
            "BatchSpec: strided_cache and head_major_cache are both set; expected at most one cache layout");
  EXPECT_EQ(error([](auto& s) { s.dtype = ScalarType::Int32; }),
            "BatchSpec.dtype: got int32; expected bfloat16, float16 or float32");
  EXPECT_EQ(error([](auto& s) { s.num_kv_heads = 3; }),
            "params.num_kv_heads: got 3; expected a positive divisor of num_heads = 4");
  EXPECT_EQ(error([](auto& s) { s.kv_cache_dtype = "int8"; }),
            "params.kv_cache_dtype: got \"int8\"; expected \"auto\" or \"fp8_e4m3\"");
}

}  // namespace
}  // namespace attnreg
