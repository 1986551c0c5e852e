// CPU_ATTN forward against the float64 reference on fresh random batches
// (SyntheticBatch: random data, NaN-poisoned output), one case per feature
// and shape family, each also checking the cache write.
#include <gtest/gtest.h>

#include <attnreg/synthetic_batch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cpu_attn_backend.hpp"

namespace attnreg::cpu_attn {
namespace {

struct Case {
  std::string name;
  BatchSpec spec;
};

BatchSpec base(ScalarType dtype, int heads, int kv_heads, int head_size, int block_size) {
  BatchSpec s;
  s.context_lens = {0, 37, 100, 5};
  s.query_lens = {23, 1, 1, 9};  // first prefill, two decodes, a chunked prefill
  s.num_heads = heads;
  s.num_kv_heads = kv_heads;
  s.head_size = head_size;
  s.block_size = block_size;
  s.dtype = dtype;
  s.shuffle_blocks = true;
  s.extra_block_table_columns = 2;
  return s;
}

template <class F>
Case with(std::string name, BatchSpec s, F change) {
  change(s);
  return {std::move(name), std::move(s)};
}

std::vector<Case> cases() {
  std::vector<Case> c;
  const auto f32 = ScalarType::Float32, bf16 = ScalarType::BFloat16, f16 = ScalarType::Float16;
  c.push_back({"fp32_mha_d64_bs16", base(f32, 4, 4, 64, 16)});
  c.push_back({"bf16_gqa_d128_bs16", base(bf16, 8, 2, 128, 16)});
  c.push_back({"fp16_gqa_d128_bs32", base(f16, 12, 4, 128, 32)});
  c.push_back({"fp32_mqa7_d80_bs1", base(f32, 7, 1, 80, 1)});
  c.push_back({"bf16_d96_bs16", base(bf16, 6, 3, 96, 16)});
  // A fresh impl whose only tiles are shorter than 16 keys: the vdpbf16ps scores read a whole block of 16
  // keys, the ones past the tile repeating its last.
  c.push_back(with("bf16_gqa4_short_prefill", base(bf16, 8, 2, 64, 16), [](BatchSpec& s) {
    s.context_lens = {0, 2};
    s.query_lens = {3, 5};
  }));
  // Group 4 at head 96: the prefill's vdpbf16ps P.V in passes of 4 and then 2 blocks of 16 elements.
  c.push_back({"bf16_gqa4_d96_bs16", base(bf16, 8, 2, 96, 16)});
  c.push_back({"fp16_d112_bs16", base(f16, 4, 2, 112, 16)});
  c.push_back({"fp32_d32_bs32", base(f32, 2, 1, 32, 32)});
  c.push_back({"bf16_d256_bs16", base(bf16, 4, 1, 256, 16)});
  c.push_back(with("fp32_fp8_cache_scaled", base(f32, 4, 2, 64, 16), [](BatchSpec& s) {
    s.kv_cache_dtype = "fp8_e4m3";
    s.k_scale = 0.05f;
    s.v_scale = 0.02f;
  }));
  c.push_back(
      with("bf16_fp8_cache", base(bf16, 8, 2, 128, 16), [](BatchSpec& s) { s.kv_cache_dtype = "fp8_e4m3"; }));
  // bf16 query, fp8 cache: with AVX512_VBMI the decodes widen fp8 to bf16 for vdpbf16ps; row passes of
  // 4, 2 and 1 (group 7), a group of one at head 256 (passes of 4 blocks), odd tiles.
  c.push_back(with("bf16_fp8_cache_gqa7_d64_window_sinks", base(bf16, 14, 2, 64, 16), [](BatchSpec& s) {
    s.kv_cache_dtype = "fp8_e4m3";
    s.k_scale = 0.3f;
    s.v_scale = 4.0f;
    s.sliding_window = 60;
    s.use_sinks = true;
  }));
  c.push_back(with("bf16_fp8_cache_mha_d256_cap", base(bf16, 3, 3, 256, 16), [](BatchSpec& s) {
    s.kv_cache_dtype = "fp8_e4m3";
    s.logits_soft_cap = 15.0f;
  }));
  // fp16 query, fp8 cache: with AVX512_VBMI the decodes round the query to bf16 and take the same path.
  c.push_back(with("fp16_fp8_cache_gqa7_d128_window_alibi", base(f16, 14, 2, 128, 16), [](BatchSpec& s) {
    s.kv_cache_dtype = "fp8_e4m3";
    s.k_scale = 0.5f;
    s.v_scale = 2.0f;
    s.sliding_window = 90;
    s.use_alibi = true;
  }));
  // Head 80 on AVX-512: the decodes take AVX2's fast path (AVX-512's needs multiples of 32).
  c.push_back(with("bf16_fp8_cache_d80_sinks", base(bf16, 8, 2, 80, 16), [](BatchSpec& s) {
    s.kv_cache_dtype = "fp8_e4m3";
    s.k_scale = 2.0f;
    s.use_sinks = true;
  }));
  // Long fp8 decodes: the fast path's split keys, merged, with the scales folded into query and output.
  c.push_back(with("fp16_fp8_cache_split_decode_d256_sinks_cap", base(f16, 8, 2, 256, 16), [](BatchSpec& s) {
    s.context_lens = {3000, 700};
    s.query_lens = {1, 1};
    s.kv_cache_dtype = "fp8_e4m3";
    s.k_scale = 0.25f;
    s.v_scale = 0.125f;
    s.use_sinks = true;
    s.logits_soft_cap = 20.0f;
  }));
  c.push_back(
      with("fp32_sliding_window", base(f32, 4, 2, 64, 16), [](BatchSpec& s) { s.sliding_window = 17; }));
  c.push_back(with("fp32_soft_cap", base(f32, 4, 2, 64, 16), [](BatchSpec& s) {
    s.logits_soft_cap = 1.5f;
    s.scale = 1.0f;
  }));
  c.push_back(with("fp32_sinks", base(f32, 4, 2, 64, 16), [](BatchSpec& s) { s.use_sinks = true; }));
  c.push_back(with("fp32_alibi", base(f32, 4, 4, 64, 16), [](BatchSpec& s) { s.use_alibi = true; }));
  c.push_back(with("fp32_non_causal", base(f32, 4, 2, 64, 16), [](BatchSpec& s) { s.causal = false; }));
  c.push_back(with("fp32_encoder_window", base(f32, 4, 2, 64, 16), [](BatchSpec& s) {
    s.attn_type = AttentionType::ENCODER_ONLY;
    s.sliding_window = 9;
  }));
  c.push_back(with("fp32_padding_and_strided_cache", base(f32, 4, 2, 64, 16), [](BatchSpec& s) {
    s.num_padding_tokens = 3;
    s.strided_cache = true;
  }));
  // One KV head's rows together in each block ("HND", vLLM's CPU_ATTN page layout), through strides:
  // the decode prefetches each head's segments instead of whole rows.
  c.push_back(with("bf16_gqa_d128_head_major_cache", base(bf16, 8, 2, 128, 16),
                   [](BatchSpec& s) { s.head_major_cache = true; }));
  c.push_back(with("fp16_d64_bs32_head_major_cache", base(f16, 12, 4, 64, 32),
                   [](BatchSpec& s) { s.head_major_cache = true; }));
  c.push_back(with("bf16_fp8_head_major_split_kv_decode", base(bf16, 8, 2, 128, 16), [](BatchSpec& s) {
    s.head_major_cache = true;
    s.kv_cache_dtype = "fp8_e4m3";
    s.k_scale = 0.5f;
    s.context_lens = {2999};
    s.query_lens = {1};
  }));
  c.push_back(with("bf16_all_features", base(bf16, 12, 4, 128, 16), [](BatchSpec& s) {
    s.sliding_window = 40;
    s.logits_soft_cap = 30.0f;
    s.use_sinks = true;
    s.use_alibi = true;
    s.num_padding_tokens = 2;
  }));
  // One long decode: the KV range is split across threads and merged.
  c.push_back(with("fp32_split_kv_decode", base(f32, 2, 1, 64, 16), [](BatchSpec& s) {
    s.context_lens = {3000};
    s.query_lens = {1};
  }));
  c.push_back(with("bf16_split_kv_sinks_window", base(bf16, 4, 1, 128, 16), [](BatchSpec& s) {
    s.context_lens = {2500};
    s.query_lens = {1};
    s.use_sinks = true;
    s.sliding_window = 1500;
  }));
  return c;
}

class CpuAttnForward : public ::testing::TestWithParam<Case> {};

TEST_P(CpuAttnForward, MatchesFloat64ReferenceAndWritesCache) {
  BatchSpec spec = GetParam().spec;
  for (std::uint64_t seed : {1u, 2u}) {
    spec.seed = seed * 7919u + std::hash<std::string>{}(GetParam().name);
    SyntheticBatch batch(spec);
    const auto impl = CPUAttentionBackend().make_impl(batch.params());
    impl->forward(batch.query(), batch.key(), batch.value(), batch.kv_cache(), batch.metadata(),
                  batch.output());
    const auto cmp = batch.check_output();
    EXPECT_TRUE(cmp.passed) << cmp.first_failure << " (max abs error " << cmp.max_abs_error << ")";
    EXPECT_EQ(batch.check_kv_cache(), std::nullopt);
    // A second call on the same impl (scratch reused) gives the same result.
    batch.reset_cache();
    batch.poison_output();
    impl->forward(batch.query(), batch.key(), batch.value(), batch.kv_cache(), batch.metadata(),
                  batch.output());
    EXPECT_TRUE(batch.check_output().passed);
  }
}

INSTANTIATE_TEST_SUITE_P(Features, CpuAttnForward, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace attnreg::cpu_attn
