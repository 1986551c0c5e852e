// A requested backend: by argument or by ATTNREG_ATTENTION_BACKEND.
#include <fmt/format.h>

#include <attnreg/errors.hpp>
#include <attnreg/selector.hpp>
#include <cstdlib>

#include "fake_backends.hpp"

namespace selector_test {
namespace {

using attnreg::CandidateOrigin;
using attnreg::Platform;
using attnreg::ValueError;
using E = attnreg::AttentionBackendEnum;

std::string thrown_by_select(const attnreg::AttentionConfig& cfg, const Platform& p,
                             std::optional<attnreg::AttentionBackendEnum> requested = {}) {
  try {
    attnreg::select_backend(cfg, p, requested);
  } catch (const ValueError& e) {
    return e.what();
  }
  return "(no ValueError)";
}

TEST_F(SelectorTest, ValidRequestIsChosenOverThePriorityList) {
  attnreg::register_backend<FakeAnywhere>(E::CUSTOM);
  attnreg::register_backend<FakeCpu>(E::CPU_ATTN);
  const auto s = attnreg::select_backend(config(), Platform::cpu(), E::CUSTOM);
  EXPECT_EQ(s.chosen, E::CUSTOM);
  EXPECT_EQ(s.origin, CandidateOrigin::REQUESTED);
  EXPECT_EQ(s.backend().get_name(), "FAKE_ANYWHERE");
  ASSERT_EQ(s.candidates.size(), 2u);
  EXPECT_EQ(s.candidates[0].member, E::CUSTOM);
  EXPECT_EQ(s.candidates[0].origin, CandidateOrigin::REQUESTED);
  EXPECT_TRUE(s.candidates[0].selected);
  EXPECT_EQ(s.candidates[1].member, E::CPU_ATTN);
  EXPECT_TRUE(s.candidates[1].valid);
  EXPECT_FALSE(s.candidates[1].selected);
  EXPECT_EQ(s.candidates[1].verdict, "valid, not requested (CUSTOM was)");
}

TEST_F(SelectorTest, RequestOnThePriorityListIsReportedOnce) {
  attnreg::register_backend<FakeFlash>(E::FLASH_ATTN);
  const auto s = attnreg::select_backend(config(), Platform::cuda({9, 0}), E::FLASH_ATTN);
  EXPECT_EQ(s.candidates.size(), 4u);
  EXPECT_EQ(s.candidates[0].member, E::FLASH_ATTN);
  EXPECT_EQ(s.candidates[1].member, E::FLASHINFER);
}

TEST_F(SelectorTest, InvalidRequestRaisesWithItsReasons) {
  attnreg::register_backend<FakeFlash>(E::FLASH_ATTN);
  EXPECT_EQ(thrown_by_select(config(), Platform::cpu(), E::FLASH_ATTN),
            "Selected backend AttentionBackendEnum.FLASH_ATTN is not valid for this configuration. "
            "Reason: ['device not supported: cpu (supported: cuda)']");
  auto fp32 = config();
  fp32.dtype = attnreg::ScalarType::Float32;
  EXPECT_EQ(thrown_by_select(fp32, Platform::cuda({7, 0}), E::FLASH_ATTN),
            "Selected backend AttentionBackendEnum.FLASH_ATTN is not valid for this configuration. "
            "Reason: ['dtype not supported: float32 (supported: float16, bfloat16)', "
            "'compute capability not supported: 7.0']");
}

TEST_F(SelectorTest, InvalidRequestIsNotReplacedByAValidCandidate) {
  attnreg::register_backend<FakeCpu>(E::CPU_ATTN);
  attnreg::register_backend<FakeFlash>(E::FLASH_ATTN);
  EXPECT_THROW(attnreg::select_backend(config(), Platform::cpu(), E::FLASH_ATTN), ValueError);
}

TEST_F(SelectorTest, JudgingCandidatesReportsAnInvalidRequestWithoutThrowing) {
  attnreg::register_backend<FakeFlash>(E::FLASH_ATTN);
  attnreg::register_backend<FakeCpu>(E::CPU_ATTN);
  const auto candidates = attnreg::judge_candidates(config(), Platform::cpu(), E::FLASH_ATTN);
  ASSERT_EQ(candidates.size(), 2u);
  EXPECT_EQ(candidates[0].member, E::FLASH_ATTN);
  EXPECT_EQ(candidates[0].origin, CandidateOrigin::REQUESTED);
  EXPECT_EQ(candidates[0].verdict, "not valid");
  EXPECT_EQ(candidates[0].reasons, std::vector<std::string>{"device not supported: cpu (supported: cuda)"});
  EXPECT_EQ(candidates[1].member, E::CPU_ATTN);
  EXPECT_EQ(candidates[1].verdict, "valid");
  EXPECT_FALSE(candidates[0].selected || candidates[1].selected);
}

TEST_F(SelectorTest, RequestedUnregisteredCustomSaysHowToRegister) {
  std::string registry_message;
  try {
    E::CUSTOM.get_path();
  } catch (const ValueError& e) {
    registry_message = e.what();
  }
  ASSERT_FALSE(registry_message.empty());
  // The reason holds single quotes, so Python's repr switches to double quotes.
  EXPECT_EQ(thrown_by_select(config(), Platform::cpu(), E::CUSTOM),
            fmt::format("Selected backend AttentionBackendEnum.CUSTOM is not valid for this configuration. "
                        "Reason: [\"not available: {}\"]",
                        registry_message));
}

TEST_F(SelectorTest, RequestedBackendThatCannotBeImportedRaisesWithTheImportError) {
  attnreg::register_backend(E::FLASHINFER, "selector_test_missing.Backend");
  const std::string why_not = import_reason(E::FLASHINFER);
  ASSERT_TRUE(why_not.starts_with("not available: "));
  const std::string message = thrown_by_select(config(), Platform::cuda({9, 0}), E::FLASHINFER);
  EXPECT_TRUE(
      message.starts_with("Selected backend AttentionBackendEnum.FLASHINFER is not valid for this "
                          "configuration. Reason: ["))
      << message;
  EXPECT_NE(message.find("selector_test_missing"), std::string::npos) << message;
}

TEST_F(SelectorTest, EnvironmentVariableRequestsABackend) {
  attnreg::register_backend<FakeAnywhere>(E::CUSTOM);
  setenv(attnreg::kBackendEnvVar, "CUSTOM", 1);
  const auto s = attnreg::select_backend(config(), Platform::cpu());
  EXPECT_EQ(s.chosen, E::CUSTOM);
  EXPECT_EQ(s.origin, CandidateOrigin::ENV);
  EXPECT_EQ(s.candidates.at(0).origin, CandidateOrigin::ENV);
}

TEST_F(SelectorTest, ExplicitRequestWinsOverEnvironment) {
  attnreg::register_backend<FakeAnywhere>(E::CUSTOM);
  attnreg::register_backend<FakeCpu>(E::CPU_ATTN);
  setenv(attnreg::kBackendEnvVar, "CUSTOM", 1);
  const auto s = attnreg::select_backend(config(), Platform::cpu(), E::CPU_ATTN);
  EXPECT_EQ(s.chosen, E::CPU_ATTN);
  EXPECT_EQ(s.origin, CandidateOrigin::REQUESTED);
}

TEST_F(SelectorTest, EmptyEnvironmentVariableIsIgnored) {
  attnreg::register_backend<FakeCpu>(E::CPU_ATTN);
  setenv(attnreg::kBackendEnvVar, "", 1);
  const auto s = attnreg::select_backend(config(), Platform::cpu());
  EXPECT_EQ(s.chosen, E::CPU_ATTN);
  EXPECT_EQ(s.origin, CandidateOrigin::PRIORITY);
}

TEST_F(SelectorTest, InvalidBackendFromEnvironmentRaisesLikeARequest) {
  attnreg::register_backend<FakeFlash>(E::FLASH_ATTN);
  setenv(attnreg::kBackendEnvVar, "FLASH_ATTN", 1);
  EXPECT_EQ(thrown_by_select(config(), Platform::cpu()),
            "Selected backend AttentionBackendEnum.FLASH_ATTN is not valid for this configuration. "
            "Reason: ['device not supported: cpu (supported: cuda)']");
}

TEST_F(SelectorTest, UnknownNameInEnvironmentGivesTheRegistryMessage) {
  std::string registry_message;
  try {
    E::from_name("FLASH_ATN");
  } catch (const ValueError& e) {
    registry_message = e.what();
  }
  ASSERT_NE(registry_message.find("Unknown attention backend: 'FLASH_ATN'"), std::string::npos);
  setenv(attnreg::kBackendEnvVar, "FLASH_ATN", 1);
  EXPECT_EQ(thrown_by_select(config(), Platform::cpu()), registry_message);
}

}  // namespace
}  // namespace selector_test
