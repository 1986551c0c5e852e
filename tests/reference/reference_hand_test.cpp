// reference::forward on cases small enough to compute by hand: one request
// with one cached token and one new token, head_size 2.
#include <gtest/gtest.h>

#include <array>
#include <attnreg/errors.hpp>
#include <attnreg/numeric.hpp>
#include <attnreg/reference.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

namespace attnreg::reference {
namespace {

// Request 0: cached key k0 = (1, 0), value v0 = (1, 2) at position 0 (slot 0);
// new token at position 1 (slot 1) with key k1 = (0, 1), value v1 = (3, 4) and
// query q = (a, 0). With scale 1 the logits are a (k0) and 0 (k1).
struct TinyCase {
  static constexpr float a = 0.75f;
  std::array<float, 2> query{a, 0.0f}, key{0.0f, 1.0f}, value{3.0f, 4.0f}, output{NAN, NAN};
  std::array<float, 8> cache{};  // [2 (k/v), 1 block, 2 slots, 1 head, 2]
  std::array<std::int32_t, 2> query_start_loc{0, 1}, seq_lens{2};
  std::array<std::int32_t, 1> block_table{0};
  std::array<std::int64_t, 1> slot_mapping{1};
  std::array<std::int64_t, 3> token_shape{1, 1, 2};
  std::array<std::int64_t, 5> cache_shape{2, 1, 2, 1, 2};
  std::array<std::int64_t, 1> reqs1{2}, reqs{1}, tokens{1};
  std::array<std::int64_t, 2> table_shape{1, 1};
  DLTensor q{query.data(), {kDLCPU, 0}, 3, {kDLFloat, 32, 1}, token_shape.data(), nullptr, 0};
  DLTensor k{key.data(), {kDLCPU, 0}, 3, {kDLFloat, 32, 1}, token_shape.data(), nullptr, 0};
  DLTensor v{value.data(), {kDLCPU, 0}, 3, {kDLFloat, 32, 1}, token_shape.data(), nullptr, 0};
  DLTensor out{output.data(), {kDLCPU, 0}, 3, {kDLFloat, 32, 1}, token_shape.data(), nullptr, 0};
  DLTensor kv{cache.data(), {kDLCPU, 0}, 5, {kDLFloat, 32, 1}, cache_shape.data(), nullptr, 0};
  DLTensor qsl{query_start_loc.data(), {kDLCPU, 0}, 1, {kDLInt, 32, 1}, reqs1.data(), nullptr, 0};
  DLTensor lens{seq_lens.data(), {kDLCPU, 0}, 1, {kDLInt, 32, 1}, reqs.data(), nullptr, 0};
  DLTensor table{block_table.data(), {kDLCPU, 0}, 2, {kDLInt, 32, 1}, table_shape.data(), nullptr, 0};
  DLTensor slots{slot_mapping.data(), {kDLCPU, 0}, 1, {kDLInt, 64, 1}, tokens.data(), nullptr, 0};
  AttentionLayerParams params;
  AttentionMetadata meta{&qsl, &lens, &table, &slots, 1, 2, true};

  TinyCase() {
    params.num_heads = params.num_kv_heads = 1;
    params.head_size = 2;
    params.scale = 1.0f;
    cache = {1, 0, /*slot 1 key*/ 9, 9, /*values*/ 1, 2, 9, 9};  // slot 1 holds stale 9s until written
  }
  std::array<double, 2> run() {
    std::array<double, 2> result{NAN, NAN};
    forward(params, q, k, v, kv, meta, out, result);
    return result;
  }
};

// Softmax-weighted average of v0 = (1, 2) and v1 = (3, 4) with logits l0, l1
// and an optional extra denominator term.
std::array<double, 2> mix(double l0, double l1, double extra = 0.0) {
  const double w0 = std::exp(l0), w1 = std::exp(l1), z = w0 + w1 + extra;
  return {(w0 * 1 + w1 * 3) / z, (w0 * 2 + w1 * 4) / z};
}

void expect_near(const std::array<double, 2>& got, const std::array<double, 2>& want) {
  EXPECT_NEAR(got[0], want[0], 1e-12);
  EXPECT_NEAR(got[1], want[1], 1e-12);
}

TEST(ReferenceByHand, DecodeOverCachedPrefix) {
  TinyCase c;
  expect_near(c.run(), mix(TinyCase::a, 0.0));
  // The new key/value went to slot 1; the cached slot 0 is unchanged.
  EXPECT_EQ(c.cache, (std::array<float, 8>{1, 0, 0, 1, 1, 2, 3, 4}));
  EXPECT_TRUE(std::isnan(c.output[0]));  // the reference never writes `output`
}

TEST(ReferenceByHand, Scale) {
  TinyCase c;
  c.params.scale = 2.0f;
  expect_near(c.run(), mix(2 * TinyCase::a, 0.0));
  c.params.scale = 0.0f;  // 1/sqrt(head_size)
  expect_near(c.run(), mix(TinyCase::a / std::sqrt(2.0), 0.0));
}

TEST(ReferenceByHand, SoftCap) {
  TinyCase c;
  c.params.logits_soft_cap = 0.5f;
  expect_near(c.run(), mix(0.5 * std::tanh(TinyCase::a / 0.5), 0.0));
}

TEST(ReferenceByHand, Sink) {
  TinyCase c;
  const float sink = 0.3f;
  c.params.sinks = &sink;
  expect_near(c.run(), mix(TinyCase::a, 0.0, std::exp(static_cast<double>(sink))));
}

TEST(ReferenceByHand, Alibi) {
  TinyCase c;
  const float slope = 0.25f;
  c.params.alibi_slopes = &slope;
  expect_near(c.run(), mix(TinyCase::a - 0.25, 0.0));  // key 0 is one position behind the query
}

TEST(ReferenceByHand, SlidingWindowOfOneSeesOnlyItself) {
  TinyCase c;
  c.params.sliding_window = 1;
  expect_near(c.run(), {3.0, 4.0});
  c.params.sliding_window = 2;
  expect_near(c.run(), mix(TinyCase::a, 0.0));
}

TEST(ReferenceByHand, PaddingSlotIsNotWritten) {
  TinyCase c;
  c.slot_mapping[0] = -1;
  // The query still attends over positions 0 and 1, and position 1 is whatever
  // the cache held: key (9, 9), value (9, 9).
  const auto got = c.run();
  const double w0 = std::exp(static_cast<double>(TinyCase::a)), w1 = std::exp(9.0 * TinyCase::a);
  EXPECT_NEAR(got[0], (w0 * 1 + w1 * 9) / (w0 + w1), 1e-12);
  EXPECT_NEAR(got[1], (w0 * 2 + w1 * 9) / (w0 + w1), 1e-12);
  EXPECT_EQ(c.cache, (std::array<float, 8>{1, 0, 9, 9, 1, 2, 9, 9}));
}

// A two-token prefill (no cache history): query 0 sees only key 0 when
// causal, both keys when not.
TEST(ReferenceByHand, CausalAndNonCausalPrefill) {
  TinyCase c;
  std::array<float, 4> query{TinyCase::a, 0, TinyCase::a, 0}, key{1, 0, 0, 1}, value{1, 2, 3, 4}, output{};
  std::array<std::int64_t, 3> shape{2, 1, 2};
  std::array<std::int64_t, 1> two{2};
  std::array<std::int64_t, 2> slots{0, 1};
  c.q = {query.data(), {kDLCPU, 0}, 3, {kDLFloat, 32, 1}, shape.data(), nullptr, 0};
  c.k = {key.data(), {kDLCPU, 0}, 3, {kDLFloat, 32, 1}, shape.data(), nullptr, 0};
  c.v = {value.data(), {kDLCPU, 0}, 3, {kDLFloat, 32, 1}, shape.data(), nullptr, 0};
  c.out = {output.data(), {kDLCPU, 0}, 3, {kDLFloat, 32, 1}, shape.data(), nullptr, 0};
  c.slots = {slots.data(), {kDLCPU, 0}, 1, {kDLInt, 64, 1}, two.data(), nullptr, 0};
  c.query_start_loc = {0, 2};
  c.meta.max_query_len = 2;
  std::array<double, 4> result{};
  forward(c.params, c.q, c.k, c.v, c.kv, c.meta, c.out, result);
  EXPECT_NEAR(result[0], 1.0, 1e-12);
  EXPECT_NEAR(result[1], 2.0, 1e-12);
  const auto both = mix(TinyCase::a, 0.0);
  EXPECT_NEAR(result[2], both[0], 1e-12);
  EXPECT_NEAR(result[3], both[1], 1e-12);
  c.meta.causal = false;
  forward(c.params, c.q, c.k, c.v, c.kv, c.meta, c.out, result);
  for (int i : {0, 2}) {
    EXPECT_NEAR(result[i], both[0], 1e-12);
    EXPECT_NEAR(result[i + 1], both[1], 1e-12);
  }
  // A non-causal window of 1 keeps only the key at the query's own position.
  c.params.sliding_window = 1;
  forward(c.params, c.q, c.k, c.v, c.kv, c.meta, c.out, result);
  EXPECT_NEAR(result[0], 1.0, 1e-12);
  EXPECT_NEAR(result[3], 4.0, 1e-12);
}

TEST(ReferenceByHand, Fp8CacheQuantisesWithScales) {
  TinyCase c;
  std::array<std::uint8_t, 8> cache{};
  c.kv.data = cache.data();
  c.kv.dtype = {kDLUInt, 8, 1};
  c.params.kv_cache_dtype = "fp8_e4m3";
  c.params.k_scale = 0.5f;
  c.params.v_scale = 0.25f;
  // History as fp8 codes of k0 / 0.5 = (2, 0) and v0 / 0.25 = (4, 8).
  cache = {numeric::float_to_fp8_e4m3(2), 0, 0, 0, numeric::float_to_fp8_e4m3(4),
           numeric::float_to_fp8_e4m3(8), 0, 0};
  expect_near(c.run(), mix(TinyCase::a, 0.0));             // every value is exact in fp8
  EXPECT_EQ(cache[3], numeric::float_to_fp8_e4m3(2.0f));   // k1 = 1 stored as 1 / 0.5
  EXPECT_EQ(cache[6], numeric::float_to_fp8_e4m3(12.0f));  // v1 = 3 stored as 3 / 0.25
  EXPECT_EQ(cache[7], numeric::float_to_fp8_e4m3(16.0f));
  // Saturation: a value of 3 with v_scale 1/256 would be 768, stored as 448.
  c.params.v_scale = 1.0f / 256;
  c.run();
  EXPECT_EQ(cache[6], 0x7E);
}

TEST(ReferenceByHand, InvalidInputWritesNothing) {
  TinyCase c;
  c.slot_mapping[0] = 2;  // past the 2 slots of the cache
  std::array<double, 2> result{7, 7};
  try {
    forward(c.params, c.q, c.k, c.v, c.kv, c.meta, c.out, result);
    FAIL() << "no ValueError";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(),
                 "metadata.slot_mapping: entry 0 is 2; expected a negative (padding) slot or one in [0, 2) "
                 "(num_blocks "
                 "1 * block_size 2)");
  }
  EXPECT_EQ(c.cache, (std::array<float, 8>{1, 0, 9, 9, 1, 2, 9, 9}));
  EXPECT_EQ(result, (std::array<double, 2>{7, 7}));
}

TEST(ReferenceByHand, OutOfTheWrongSize) {
  TinyCase c;
  std::array<double, 3> result{};
  try {
    forward(c.params, c.q, c.k, c.v, c.kv, c.meta, c.out, result);
    FAIL() << "no ValueError";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "out: has 3 elements; expected num_tokens * num_heads * head_size = 2");
  }
  EXPECT_EQ(c.cache, (std::array<float, 8>{1, 0, 9, 9, 1, 2, 9, 9}));
}

}  // namespace
}  // namespace attnreg::reference
