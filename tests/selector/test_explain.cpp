// The readable forms: config_repr and Selection::explain.
#include <attnreg/selector.hpp>

#include "fake_backends.hpp"

namespace selector_test {
namespace {

using attnreg::Platform;
using E = attnreg::AttentionBackendEnum;

TEST(ConfigRepr, NamesEveryFieldAsVllmPrintsThem) {
  attnreg::AttentionConfig c;
  c.head_size = 128;
  c.num_heads = 32;
  c.num_kv_heads = 8;
  c.block_size = 16;
  c.sliding_window = 4096;
  c.device = attnreg::DeviceType::CUDA;
  c.device_capability = attnreg::DeviceCapability{9, 0};
  EXPECT_EQ(
      attnreg::config_repr(c),
      "AttentionConfig(head_size=128, dtype=bfloat16, kv_cache_dtype=auto, block_size=16, use_mla=False, "
      "has_sink=False, use_sparse=False, use_mm_prefix=False, use_per_head_quant_scales=False, "
      "attn_type=decoder, use_non_causal=False, use_batch_invariant=False, num_heads=32, num_kv_heads=8, "
      "sliding_window=4096, logits_soft_cap=0, has_alibi=False, has_attention=True, device=cuda, "
      "device_capability=9.0)");
}

TEST_F(SelectorTest, ExplainShowsPlatformChoiceAndEveryReason) {
  attnreg::register_backend<FakeFlash>(E::FLASH_ATTN);
  attnreg::register_backend(E::FLASHINFER, "selector_test_missing.Backend");
  const auto s = attnreg::select_backend(config(), Platform::cuda({9, 0}));
  const std::string text = s.explain();
  EXPECT_NE(text.find("platform: simulated cuda 9.0 (cuda, capability 9.0)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("config:   " + attnreg::config_repr(s.config) + "\n"), std::string::npos) << text;
  EXPECT_NE(text.find("selected: FLASH_ATTN (from priority)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("* FLASH_ATTN "), std::string::npos) << text;
  for (const auto& c : s.candidates) {
    EXPECT_NE(text.find(std::string(c.member.name())), std::string::npos) << c.member.name();
    for (const auto& r : c.reasons) EXPECT_NE(text.find("      - " + r + "\n"), std::string::npos) << r;
  }
  EXPECT_NE(text.find("selector_test_missing.Backend"), std::string::npos) << text;
}

TEST(CandidatesTable, AlignsColumnsAndListsReasonsUnderTheirRow) {
  attnreg::CandidateReport chosen;
  chosen.member = E::CPU_ATTN;
  chosen.path = "a.b.C";
  chosen.valid = chosen.selected = true;
  chosen.verdict = "selected";
  attnreg::CandidateReport rejected;
  rejected.member = E::FLASH_ATTN;
  rejected.origin = attnreg::CandidateOrigin::REQUESTED;
  rejected.reasons = {"r1", "r2"};
  rejected.verdict = "not valid";
  EXPECT_EQ(attnreg::candidates_table({chosen, rejected}),
            "  backend     origin     verdict    class path\n"
            "* CPU_ATTN    priority   selected   a.b.C\n"
            "  FLASH_ATTN  requested  not valid  -\n"
            "      - r1\n"
            "      - r2\n");
}

}  // namespace
}  // namespace selector_test
