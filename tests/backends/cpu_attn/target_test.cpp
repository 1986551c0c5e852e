// CPU_ATTN on every Highway target this CPU runs (AVX-512, AVX2, SSE4, ...):
// the decode fast path has per-target code (AVX-512 and AVX2 reductions) and
// a fallback below AVX2, so each target is checked against the float64
// reference, not only the best one the CPU dispatches to.
#include <gtest/gtest.h>

#include <hwy/targets.h>
#include <attnreg/synthetic_batch.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "cpu_attn_backend.hpp"
#include "kernels/attention_kernel.hpp"

namespace attnreg::cpu_attn {
namespace {

BatchSpec decode_batch(ScalarType dtype, int heads, int kv_heads, int head_size) {
  BatchSpec s;
  s.context_lens = {700, 37, 0, 1500, 64};
  s.query_lens = {1, 1, 5, 1, 3};  // decodes (one split), a prompt, a short chunk
  s.num_heads = heads;
  s.num_kv_heads = kv_heads;
  s.head_size = head_size;
  s.block_size = 16;
  s.dtype = dtype;
  s.shuffle_blocks = true;
  return s;
}

std::vector<std::pair<std::string, BatchSpec>> specs() {
  const auto f32 = ScalarType::Float32, bf16 = ScalarType::BFloat16, f16 = ScalarType::Float16;
  std::vector<std::pair<std::string, BatchSpec>> v;
  v.emplace_back("bf16_gqa4_d128", decode_batch(bf16, 32, 8, 128));
  v.emplace_back("fp16_gqa2_d64", decode_batch(f16, 4, 2, 64));
  v.emplace_back("fp32_mha_d96", decode_batch(f32, 3, 3, 96));
  v.emplace_back("bf16_gqa6_d48", decode_batch(bf16, 12, 2, 48));
  BatchSpec all = decode_batch(bf16, 14, 2, 160);  // group 7: row passes of 4, 2 and 1
  all.sliding_window = 300;
  all.logits_soft_cap = 20.0f;
  all.use_sinks = true;
  all.use_alibi = true;
  v.emplace_back("bf16_gqa7_d160_all_features", all);
  BatchSpec g4 = decode_batch(bf16, 8, 2, 64);  // group 4, bf16: prefill scores with vdpbf16ps where present
  g4.context_lens = {0, 40, 300};
  g4.query_lens = {70, 33, 1};
  g4.sliding_window = 50;
  g4.logits_soft_cap = 25.0f;
  g4.use_sinks = true;
  g4.use_alibi = true;
  v.emplace_back("bf16_gqa4_d64_prefill_all_features", g4);
  BatchSpec fp8 = decode_batch(bf16, 32, 8, 128);  // fp8 caches: widened in registers on the fast path
  fp8.kv_cache_dtype = "fp8_e4m3";
  fp8.k_scale = 0.5f;
  fp8.v_scale = 3.0f;
  v.emplace_back("bf16_gqa4_d128_fp8_cache", fp8);
  BatchSpec fp8_all = decode_batch(f16, 6, 2, 64);
  fp8_all.kv_cache_dtype = "fp8_e4m3";
  fp8_all.k_scale = 0.02f;
  fp8_all.sliding_window = 600;
  fp8_all.logits_soft_cap = 10.0f;
  fp8_all.use_sinks = true;
  v.emplace_back("fp16_gqa3_d64_fp8_cache_all_features", fp8_all);
  BatchSpec nc = decode_batch(f32, 8, 2, 256);
  nc.causal = false;
  v.emplace_back("fp32_non_causal_d256", nc);
  return v;
}

TEST(CpuAttnTargets, EveryTargetMatchesReference) {
  const std::int64_t all = hwy::SupportedTargets();
  int tested = 0;
  for (std::int64_t bit = 1; bit != 0 && bit <= all; bit <<= 1) {
    if (!(all & bit) || bit == HWY_SCALAR || (bit & HWY_ENABLED_BASELINE & ~HWY_TARGETS)) continue;
    if (!(bit & HWY_TARGETS)) continue;  // not compiled
    hwy::SetSupportedTargetsForTest(bit);
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
    const std::string target = dispatched_target();
    std::printf("CPU_ATTN target %s\n", target.c_str());
    ++tested;
    for (auto [name, spec] : specs()) {
      spec.seed = 17 + static_cast<std::uint64_t>(tested);
      SyntheticBatch batch(spec);
      const auto impl = CPUAttentionBackend().make_impl(batch.params());
      impl->forward(batch.query(), batch.key(), batch.value(), batch.kv_cache(), batch.metadata(),
                    batch.output());
      const auto cmp = batch.check_output();
      EXPECT_TRUE(cmp.passed) << target << " " << name << ": " << cmp.first_failure << " (max abs error "
                              << cmp.max_abs_error << ")";
    }
  }
  hwy::SetSupportedTargetsForTest(0);
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
  EXPECT_GE(tested, 1);
}

}  // namespace
}  // namespace attnreg::cpu_attn
