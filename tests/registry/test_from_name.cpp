// from_name: Python's Enum[name] with vLLM's "Unknown ... Valid options are"
// message, plus the did-you-mean suggestion.
#include <string>

#include "registry_test_support.hpp"

namespace attnreg {
namespace {

using test::message_of;

const std::string kAttentionOptions =
    "Valid options are: FLASH_ATTN, FLASH_ATTN_DIFFKV, TRITON_ATTN, XFORMERS, ROCM_ATTN, ROCM_AITER_MLA, "
    "ROCM_AITER_TRITON_MLA, ROCM_AITER_FA, ROCM_AITER_MLA_SPARSE, XPU_MLA_SPARSE, TORCH_SDPA, FLASHINFER, "
    "FLASHINFER_MLA, FLASHINFER_MLA_SPARSE, TRITON_MLA, TRITON_MLA_SPARSE, CUTLASS_MLA, FLASHMLA, "
    "FLASHMLA_SPARSE, FLASH_ATTN_MLA, PALLAS, IPEX, NO_ATTENTION, FLEX_ATTENTION, TREE_ATTN, "
    "ROCM_AITER_UNIFIED_ATTN, CPU_ATTN, TURBOQUANT, CUSTOM";
const std::string kMambaOptions = "Valid options are: MAMBA1, MAMBA2, SHORT_CONV, LINEAR, GDN_ATTN, CUSTOM";

std::string attention_error(std::string_view name) {
  return message_of<ValueError>([&] { AttentionBackendEnum::from_name(name); });
}
std::string mamba_error(std::string_view name) {
  return message_of<ValueError>([&] { MambaAttentionBackendEnum::from_name(name); });
}

TEST(RegistryFromName, UnknownNameListsEveryOption) {
  EXPECT_EQ(attention_error("FOO"), "Unknown attention backend: 'FOO'. " + kAttentionOptions);
  EXPECT_EQ(mamba_error("FOO"), "Unknown attention backend: 'FOO'. " + kMambaOptions);
}

TEST(RegistryFromName, EmptyNameIsUnknown) {
  EXPECT_EQ(attention_error(""), "Unknown attention backend: ''. " + kAttentionOptions);
}

TEST(RegistryFromName, SuggestsTheMemberThatDiffersOnlyInCase) {
  EXPECT_EQ(attention_error("flash_attn"),
            "Unknown attention backend: 'flash_attn'. " + kAttentionOptions + " Did you mean 'FLASH_ATTN'?");
  EXPECT_EQ(mamba_error("Linear"),
            "Unknown attention backend: 'Linear'. " + kMambaOptions + " Did you mean 'LINEAR'?");
}

TEST(RegistryFromName, SuggestsAMemberWithinEditDistanceTwo) {
  EXPECT_EQ(attention_error("FLASH_ATN"),
            "Unknown attention backend: 'FLASH_ATN'. " + kAttentionOptions + " Did you mean 'FLASH_ATTN'?");
  EXPECT_EQ(attention_error("flashatn"),
            "Unknown attention backend: 'flashatn'. " + kAttentionOptions + " Did you mean 'FLASH_ATTN'?");
  EXPECT_EQ(attention_error("TRITON_MLA_SPARS"), "Unknown attention backend: 'TRITON_MLA_SPARS'. " +
                                                     kAttentionOptions +
                                                     " Did you mean 'TRITON_MLA_SPARSE'?");
  EXPECT_EQ(mamba_error("MAMBA"),
            "Unknown attention backend: 'MAMBA'. " + kMambaOptions + " Did you mean 'MAMBA1'?");
}

TEST(RegistryFromName, NoSuggestionBeyondEditDistanceTwo) {
  EXPECT_EQ(attention_error("FLASH"), "Unknown attention backend: 'FLASH'. " + kAttentionOptions);
  EXPECT_EQ(attention_error("XFORM"), "Unknown attention backend: 'XFORM'. " + kAttentionOptions);
  EXPECT_EQ(mamba_error("MAMBA1_ATTN"), "Unknown attention backend: 'MAMBA1_ATTN'. " + kMambaOptions);
}

TEST(RegistryFromName, NamesOfTheOtherTableAreUnknown) {
  EXPECT_EQ(attention_error("MAMBA2"), "Unknown attention backend: 'MAMBA2'. " + kAttentionOptions);
  EXPECT_EQ(mamba_error("FLASH_ATTN"), "Unknown attention backend: 'FLASH_ATTN'. " + kMambaOptions);
}

TEST(RegistryFromName, NamesWithTheSameHashKeyAreStillCompared) {
  // Same length, first two, middle and last two characters as FLASH_ATTN.
  EXPECT_EQ(attention_error("FLASHXATTN").rfind("Unknown attention backend: 'FLASHXATTN'.", 0), 0u);
  EXPECT_EQ(attention_error(std::string("FLASH_ATTN\0", 11)).rfind("Unknown attention backend", 0), 0u);
}

TEST(RegistryFromName, TheSameNameAlwaysGivesTheSameMember) {
  EXPECT_EQ(AttentionBackendEnum::from_name("CUSTOM"), AttentionBackendEnum::CUSTOM);
  EXPECT_EQ(MambaAttentionBackendEnum::from_name("CUSTOM"), MambaAttentionBackendEnum::CUSTOM);
  EXPECT_EQ(AttentionBackendEnum::from_name("TORCH_SDPA"), AttentionBackendEnum::TORCH_SDPA);
}

}  // namespace
}  // namespace attnreg
