// reference::forward against an independent naive computation: each
// request's keys and values are first gathered into contiguous [seq, Hkv, D]
// arrays (the new tokens straight from key/value, the history from the
// cache), then every query row is a dense masked softmax with the sink as an
// extra column. One case per feature, on shuffled, strided, padded batches.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <attnreg/numeric.hpp>
#include <attnreg/reference.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <attnreg/tensor.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

namespace attnreg {
namespace {

double element(const DLTensor& t, ScalarType type, std::initializer_list<std::int64_t> index) {
  const std::vector<std::int64_t> idx(index);
  return numeric::load_as_double(tensor::element_address(t, idx), type);
}

std::int64_t int_at(const DLTensor& t, std::initializer_list<std::int64_t> index) {
  const std::vector<std::int64_t> idx(index);
  const std::byte* p = tensor::element_address(t, idx);
  return t.dtype.bits == 64 ? *reinterpret_cast<const std::int64_t*>(p)
                            : *reinterpret_cast<const std::int32_t*>(p);
}

// What the cache holds for a new element x after a correct write.
double stored(double x, const BatchSpec& s, float scale) {
  if (s.kv_cache_dtype != "fp8_e4m3") return x;
  return numeric::fp8_e4m3_to_float(numeric::float_to_fp8_e4m3(static_cast<float>(x) / scale)) *
         static_cast<double>(scale);
}

std::vector<double> naive_attention(const SyntheticBatch& b) {
  const BatchSpec& s = b.spec();
  const AttentionLayerParams& p = b.params();
  const bool fp8 = s.kv_cache_dtype == "fp8_e4m3";
  const ScalarType cache_type = fp8 ? ScalarType::Float8_E4M3 : s.dtype;
  const std::int64_t H = s.num_heads, Hkv = s.num_kv_heads, D = s.head_size, bs = s.block_size;
  const bool causal = s.causal && s.attn_type == AttentionType::DECODER;
  const double scale = s.scale != 0.0f ? s.scale : 1.0 / std::sqrt(static_cast<double>(D));
  std::vector<double> out(b.num_tokens() * H * D, std::numeric_limits<double>::quiet_NaN());
  for (std::int64_t r = 0; r < b.num_reqs(); ++r) {
    const std::int64_t begin = int_at(b.query_start_loc(), {r});
    const std::int64_t q_len = int_at(b.query_start_loc(), {r + 1}) - begin;
    const std::int64_t seq = int_at(b.seq_lens(), {r});
    const std::int64_t ctx = seq - q_len;
    // Contiguous K and V of the request, [seq][Hkv][D].
    std::vector<double> K(seq * Hkv * D), V(seq * Hkv * D);
    for (std::int64_t pos = 0; pos < seq; ++pos) {
      const std::int64_t token = begin + (pos - ctx);
      const bool is_new = pos >= ctx && int_at(b.slot_mapping(), {token}) >= 0;
      const std::int64_t block = int_at(b.block_table(), {r, pos / bs});
      for (std::int64_t h = 0; h < Hkv; ++h)
        for (std::int64_t d = 0; d < D; ++d) {
          const std::int64_t i = (pos * Hkv + h) * D + d;
          if (is_new) {
            K[i] = stored(element(b.key(), s.dtype, {token, h, d}), s, s.k_scale);
            V[i] = stored(element(b.value(), s.dtype, {token, h, d}), s, s.v_scale);
          } else {
            K[i] = element(b.kv_cache(), cache_type, {0, block, pos % bs, h, d}) * (fp8 ? s.k_scale : 1.0);
            V[i] = element(b.kv_cache(), cache_type, {1, block, pos % bs, h, d}) * (fp8 ? s.v_scale : 1.0);
          }
        }
    }
    for (std::int64_t h = 0; h < H; ++h) {
      const std::int64_t kvh = h * Hkv / H;
      for (std::int64_t i = 0; i < q_len; ++i) {
        const std::int64_t qpos = ctx + i;
        // Row of logits over every key plus the sink column (masked = -inf).
        std::vector<double> row(seq + 1, -std::numeric_limits<double>::infinity());
        for (std::int64_t k = 0; k < seq; ++k) {
          bool masked = causal && k > qpos;
          if (s.sliding_window) masked = masked || std::abs(qpos - k) >= *s.sliding_window;
          if (masked) continue;
          double dot = 0;
          for (std::int64_t d = 0; d < D; ++d)
            dot += element(b.query(), s.dtype, {begin + i, h, d}) * K[(k * Hkv + kvh) * D + d];
          double logit = scale * dot;
          if (s.logits_soft_cap > 0) logit = s.logits_soft_cap * std::tanh(logit / s.logits_soft_cap);
          if (p.alibi_slopes) logit += p.alibi_slopes[h] * static_cast<double>(k - qpos);
          row[k] = logit;
        }
        if (p.sinks) row[seq] = p.sinks[h];
        const double m = *std::max_element(row.begin(), row.end());
        double z = 0;
        for (double& x : row) z += (x = std::exp(x - m));
        for (std::int64_t d = 0; d < D; ++d) {
          double acc = 0;
          for (std::int64_t k = 0; k < seq; ++k) acc += row[k] / z * V[(k * Hkv + kvh) * D + d];
          out[((begin + i) * H + h) * D + d] = acc;
        }
      }
    }
  }
  return out;
}

struct Case {
  std::string name;
  std::function<void(BatchSpec&)> change;
};

BatchSpec base_spec() {
  BatchSpec s;
  s.context_lens = {0, 7, 13, 4};
  s.query_lens = {5, 1, 3, 1};
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.head_size = 16;
  s.block_size = 4;
  s.num_padding_tokens = 2;
  s.shuffle_blocks = true;
  s.strided_cache = true;
  s.extra_block_table_columns = 1;
  s.seed = 7;
  return s;
}

class ReferenceVsNaive : public ::testing::TestWithParam<Case> {};

TEST_P(ReferenceVsNaive, Agree) {
  BatchSpec spec = base_spec();
  GetParam().change(spec);
  const SyntheticBatch batch(spec);
  const std::vector<double> naive = naive_attention(batch);
  const std::vector<double> ref = batch.reference_output();
  ASSERT_EQ(ref.size(), naive.size());
  double max_err = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    ASSERT_TRUE(std::isfinite(naive[i])) << i;
    max_err = std::max(max_err, std::abs(ref[i] - naive[i]));
  }
  EXPECT_LT(max_err, 1e-12);
}

// The reference reads strided inputs: query, key and value as views of one
// packed [T, H + 2 Hkv, D] buffer give exactly the contiguous result.
TEST(ReferenceStrided, PackedQkvViewsGiveTheSameResult) {
  BatchSpec spec = base_spec();
  spec.dtype = ScalarType::BFloat16;
  SyntheticBatch batch(spec);
  const std::int64_t T = batch.num_tokens(), H = spec.num_heads, Hkv = spec.num_kv_heads, D = spec.head_size;
  const std::int64_t width = (H + 2 * Hkv) * D;
  std::vector<std::uint16_t> packed(T * width);
  std::array<std::int64_t, 3> q_shape{T, H, D}, kv_shape{T, Hkv, D}, strides{width, D, 1};
  DLTensor q{packed.data(), {kDLCPU, 0}, 3, to_dlpack(spec.dtype), q_shape.data(), strides.data(), 0};
  DLTensor k = q, v = q;
  k.shape = v.shape = kv_shape.data();
  k.byte_offset = H * D * 2;
  v.byte_offset = (H + Hkv) * D * 2;
  for (std::int64_t t = 0; t < T; ++t)
    for (const auto& [dst, src, heads] :
         {std::tuple{&q, &batch.query(), H}, std::tuple{&k, &batch.key(), Hkv},
          std::tuple{&v, &batch.value(), Hkv}})
      for (std::int64_t h = 0; h < heads; ++h)
        for (std::int64_t d = 0; d < D; ++d) {
          const std::vector<std::int64_t> index{t, h, d};
          std::memcpy(tensor::element_address(*dst, index), tensor::element_address(*src, index), 2);
        }
  std::vector<double> out(T * H * D);
  reference::forward(batch.params(), q, k, v, batch.kv_cache(), batch.metadata(), batch.output(), out);
  batch.reset_cache();
  EXPECT_EQ(out, batch.reference_output());
}

INSTANTIATE_TEST_SUITE_P(
    EveryFeature, ReferenceVsNaive,
    ::testing::Values(Case{"gqa_causal_mixed", [](BatchSpec&) {}},
                      Case{"contiguous_unpadded",
                           [](BatchSpec& s) {
                             s.shuffle_blocks = s.strided_cache = false;
                             s.num_padding_tokens = s.extra_block_table_columns = 0;
                           }},
                      Case{"mha", [](BatchSpec& s) { s.num_kv_heads = 4; }},
                      Case{"mqa", [](BatchSpec& s) { s.num_kv_heads = 1; }},
                      Case{"non_causal", [](BatchSpec& s) { s.causal = false; }},
                      Case{"encoder_only", [](BatchSpec& s) { s.attn_type = AttentionType::ENCODER_ONLY; }},
                      Case{"sliding_window", [](BatchSpec& s) { s.sliding_window = 3; }},
                      Case{"sliding_window_non_causal",
                           [](BatchSpec& s) {
                             s.sliding_window = 3;
                             s.causal = false;
                           }},
                      Case{"soft_cap",
                           [](BatchSpec& s) {
                             s.scale = 1.0f;
                             s.logits_soft_cap = 1.5f;
                           }},
                      Case{"sinks", [](BatchSpec& s) { s.use_sinks = true; }},
                      Case{"alibi", [](BatchSpec& s) { s.use_alibi = true; }},
                      Case{"all_features",
                           [](BatchSpec& s) {
                             s.sliding_window = 5;
                             s.logits_soft_cap = 3.0f;
                             s.use_sinks = s.use_alibi = true;
                             s.scale = 0.7f;
                           }},
                      Case{"bfloat16", [](BatchSpec& s) { s.dtype = ScalarType::BFloat16; }},
                      Case{"float16", [](BatchSpec& s) { s.dtype = ScalarType::Float16; }},
                      Case{"fp8_cache_with_scales",
                           [](BatchSpec& s) {
                             s.dtype = ScalarType::BFloat16;
                             s.kv_cache_dtype = "fp8_e4m3";
                             s.k_scale = 0.05f;
                             s.v_scale = 0.02f;
                           }},
                      Case{"block_size_1_and_long_context",
                           [](BatchSpec& s) {
                             s.block_size = 1;
                             s.context_lens = {60, 0};
                             s.query_lens = {2, 9};
                           }}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace attnreg
