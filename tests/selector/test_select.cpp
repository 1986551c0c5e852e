// Choosing by priority: import failures as reasons, overrides, no valid
// candidate, attention-free models.
#include <fmt/format.h>

#include <atomic>
#include <attnreg/errors.hpp>
#include <attnreg/selector.hpp>
#include <thread>

#include "fake_backends.hpp"

namespace selector_test {
namespace {

using attnreg::AttentionBackendEnum;
using attnreg::CandidateOrigin;
using attnreg::Platform;
using attnreg::ValueError;
using E = attnreg::AttentionBackendEnum;

// Names of the candidates in report order.
std::vector<std::string_view> names(const attnreg::Selection& s) {
  std::vector<std::string_view> out;
  for (const auto& c : s.candidates) out.push_back(c.member.name());
  return out;
}

TEST_F(SelectorTest, CpuPicksCpuAttnWhenBuiltElseSaysWhyNot) {
  const std::string why_not = import_reason(E::CPU_ATTN);
  if (why_not.empty()) {
    const auto s = attnreg::select_backend(config(), Platform::cpu());
    EXPECT_EQ(s.chosen, E::CPU_ATTN);
    EXPECT_EQ(s.origin, CandidateOrigin::PRIORITY);
    EXPECT_EQ(&s.backend(), &E::CPU_ATTN.get_class());
  } else {
    const auto on_cpu = config();
    try {
      attnreg::select_backend(config(), Platform::cpu());
      FAIL() << "expected ValueError";
    } catch (const ValueError& e) {
      EXPECT_EQ(std::string(e.what()),
                fmt::format("No valid attention backend found for cpu with {}. Reasons: {{CPU_ATTN: [{}]}}.",
                            attnreg::config_repr(on_cpu), why_not));
    }
  }
}

TEST_F(SelectorTest, UnbuiltBackendsReportTheirModuleNotFoundError) {
  attnreg::register_backend<FakeFlash>(E::FLASH_ATTN);
  EXPECT_THROW(E::FLEX_ATTENTION.get_class(), attnreg::ModuleNotFoundError);
  const auto reasons = attnreg::candidate_reasons(E::FLEX_ATTENTION, config(), Platform::cuda({9, 0}));
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_EQ(reasons[0], import_reason(E::FLEX_ATTENTION));
  EXPECT_TRUE(reasons[0].starts_with("not available: ")) << reasons[0];
  EXPECT_NE(reasons[0].find("attnreg.backends.flex_attention"), std::string::npos) << reasons[0];
}

TEST_F(SelectorTest, SimulatedHopperReportsEveryCandidateInVllmOrder) {
  attnreg::register_backend<FakeFlash>(E::FLASH_ATTN);
  const auto s = attnreg::select_backend(config(), Platform::cuda({9, 0}));
  EXPECT_EQ(s.chosen, E::FLASH_ATTN);
  EXPECT_EQ(s.backend().get_name(), "FAKE_FLASH");
  EXPECT_EQ(names(s),
            (std::vector<std::string_view>{"FLASH_ATTN", "FLASHINFER", "TRITON_ATTN", "FLEX_ATTENTION"}));
  EXPECT_TRUE(s.candidates[0].selected);
  EXPECT_EQ(s.candidates[0].verdict, "selected");
  EXPECT_EQ(s.candidates[0].path, "selector_test.FakeFlash");
  for (std::size_t i = 1; i < s.candidates.size(); ++i) {
    const auto& c = s.candidates[i];
    EXPECT_FALSE(c.selected);
    EXPECT_EQ(c.path, std::string(c.member.value()));
    const std::string why_not = import_reason(c.member);
    if (why_not.empty()) {
      EXPECT_TRUE(c.valid);
      EXPECT_EQ(c.verdict, "valid, lower priority than FLASH_ATTN");
    } else {
      EXPECT_EQ(c.reasons, std::vector<std::string>{why_not});
      EXPECT_EQ(c.verdict, "not valid");
    }
  }
  EXPECT_EQ(s.config.device, attnreg::DeviceType::CUDA);
  EXPECT_EQ(s.config.device_capability, (attnreg::DeviceCapability{9, 0}));
}

TEST_F(SelectorTest, NoValidCandidateListsEveryCandidateWithItsReasons) {
  attnreg::register_backend<FakeFlash>(E::FLASH_ATTN);
  // Point the rest at a module nobody provides, so every reason is known here.
  for (const auto m : {E::FLASHINFER, E::TRITON_ATTN, E::FLEX_ATTENTION})
    attnreg::register_backend(m, "selector_test_missing.Backend");
  auto cfg = config();
  auto on_turing = cfg;
  on_turing.device = attnreg::DeviceType::CUDA;
  on_turing.device_capability = attnreg::DeviceCapability{7, 5};
  const std::string missing = import_reason(E::FLASHINFER);
  ASSERT_TRUE(missing.starts_with("not available: ")) << missing;
  try {
    attnreg::select_backend(cfg, Platform::cuda({7, 5}));
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_EQ(
        std::string(e.what()),
        fmt::format("No valid attention backend found for cuda with {}. Reasons: {{FLASH_ATTN: [compute "
                    "capability not supported: 7.5], FLASHINFER: [{}], TRITON_ATTN: [{}], "
                    "FLEX_ATTENTION: [{}]}}.",
                    attnreg::config_repr(on_turing), missing, missing, missing));
  }
}

TEST_F(SelectorTest, OverriddenBackendIsJudgedAndChosenThroughItsOverride) {
  attnreg::register_backend<FakeCpu>(E::CPU_ATTN);
  const auto s = attnreg::select_backend(config(), Platform::cpu());
  EXPECT_EQ(s.chosen, E::CPU_ATTN);
  EXPECT_EQ(s.backend().get_name(), "FAKE_CPU");
  EXPECT_EQ(s.candidates.at(0).path, "selector_test.FakeCpu");

  auto odd = config();
  odd.head_size = 80;  // FakeCpu serves 64 and 128 only
  try {
    attnreg::select_backend(odd, Platform::cpu());
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_EQ(
        std::string(e.what()),
        fmt::format("No valid attention backend found for cpu with {}. Reasons: {{CPU_ATTN: [head_size not "
                    "supported: 80 (supported: 64, 128)]}}.",
                    attnreg::config_repr(odd)));
  }
}

TEST_F(SelectorTest, AttentionFreeModelGetsNoAttention) {
  attnreg::register_backend<FakeNoAttention>(E::NO_ATTENTION);
  attnreg::register_backend<FakeCpu>(E::CPU_ATTN);
  auto cfg = config();
  cfg.has_attention = false;
  const auto s = attnreg::select_backend(cfg, Platform::cpu());
  EXPECT_EQ(s.chosen, E::NO_ATTENTION);
  EXPECT_EQ(s.backend().get_name(), "FAKE_NO_ATTENTION");
  ASSERT_EQ(s.candidates.size(), 2u);
  EXPECT_EQ(s.candidates[1].member, E::CPU_ATTN);
  EXPECT_EQ(
      s.candidates[1].reasons,
      std::vector<std::string>{"attention-free model: needs a backend without attention (NO_ATTENTION)"});

  const auto on_gpu = attnreg::select_backend(cfg, Platform::cuda({9, 0}));
  EXPECT_EQ(on_gpu.chosen, E::NO_ATTENTION);
  EXPECT_EQ(on_gpu.candidates.front().member, E::NO_ATTENTION);
}

TEST_F(SelectorTest, RealNoAttentionBackendServesAttentionFreeModelsWhenBuilt) {
  auto cfg = config();
  cfg.has_attention = false;
  const std::string why_not = import_reason(E::NO_ATTENTION);
  if (!why_not.empty()) {
    EXPECT_EQ(attnreg::candidate_reasons(E::NO_ATTENTION, cfg, Platform::cpu()),
              std::vector<std::string>{why_not});
    return;
  }
  const auto s = attnreg::select_backend(cfg, Platform::cpu());
  EXPECT_EQ(s.chosen, E::NO_ATTENTION);
}

TEST_F(SelectorTest, ConcurrentSelectionsAgree) {
  attnreg::register_backend<FakeFlash>(E::FLASH_ATTN);
  std::vector<std::thread> threads;
  std::atomic<int> agreed{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i)
        if (attnreg::select_backend(config(), Platform::cuda({9, 0})).chosen == E::FLASH_ATTN) ++agreed;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(agreed.load(), 200);
}

}  // namespace
}  // namespace selector_test
