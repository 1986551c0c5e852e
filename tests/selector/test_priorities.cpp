// The per-platform priority lists (vLLM's _get_backend_priorities, CPU, NO_ATTENTION).
#include <gtest/gtest.h>

#include <attnreg/selector.hpp>

namespace {

using attnreg::AttentionBackendEnum;
using attnreg::AttentionConfig;
using attnreg::backend_priorities;
using attnreg::Platform;
using E = attnreg::AttentionBackendEnum;
using List = std::vector<AttentionBackendEnum>;

AttentionConfig mla(bool use_mla) {
  AttentionConfig c;
  c.use_mla = use_mla;
  return c;
}

TEST(Priorities, CpuTriesCpuAttnOnly) {
  EXPECT_EQ(backend_priorities(Platform::cpu(), mla(false)), (List{E::CPU_ATTN}));
}

TEST(Priorities, HopperAndAmpereStartWithFlashAttn) {
  const List expected{E::FLASH_ATTN, E::FLASHINFER, E::TRITON_ATTN, E::FLEX_ATTENTION};
  EXPECT_EQ(backend_priorities(Platform::cuda({9, 0}), mla(false)), expected);
  EXPECT_EQ(backend_priorities(Platform::cuda({8, 0}), mla(false)), expected);
  EXPECT_EQ(backend_priorities(Platform::cuda({12, 0}), mla(false)), expected);
}

TEST(Priorities, BlackwellStartsWithFlashInfer) {
  const List expected{E::FLASHINFER, E::FLASH_ATTN, E::TRITON_ATTN, E::FLEX_ATTENTION};
  EXPECT_EQ(backend_priorities(Platform::cuda({10, 0}), mla(false)), expected);
  EXPECT_EQ(backend_priorities(Platform::cuda({10, 3}), mla(false)), expected);
}

TEST(Priorities, MlaOnHopper) {
  EXPECT_EQ(backend_priorities(Platform::cuda({9, 0}), mla(true)),
            (List{E::FLASH_ATTN_MLA, E::FLASHMLA, E::FLASHINFER_MLA, E::TRITON_MLA, E::FLASHMLA_SPARSE}));
}

TEST(Priorities, MlaOnBlackwell) {
  EXPECT_EQ(backend_priorities(Platform::cuda({10, 0}), mla(true)),
            (List{E::FLASHINFER_MLA, E::CUTLASS_MLA, E::FLASH_ATTN_MLA, E::FLASHMLA, E::TRITON_MLA,
                  E::FLASHMLA_SPARSE}));
}

TEST(Priorities, AttentionFreeModelsTryNoAttentionFirstEverywhere) {
  AttentionConfig c;
  c.has_attention = false;
  EXPECT_EQ(backend_priorities(Platform::cpu(), c), (List{E::NO_ATTENTION, E::CPU_ATTN}));
  EXPECT_EQ(backend_priorities(Platform::cuda({9, 0}), c),
            (List{E::NO_ATTENTION, E::FLASH_ATTN, E::FLASHINFER, E::TRITON_ATTN, E::FLEX_ATTENTION}));
}

}  // namespace
