// Member order, names, default paths, from_value, switch, hashing and formatting.
#include <fmt/format.h>

#include <sstream>
#include <unordered_set>
#include <utility>
#include <vector>

#include "registry_test_support.hpp"

namespace attnreg {
namespace {

using Row = std::pair<std::string_view, std::string_view>;

// api.md's tables, written out independently of detail/members.hpp.
const std::vector<Row> kAttention = {
    {"FLASH_ATTN", "attnreg.backends.flash_attn.FlashAttentionBackend"},
    {"FLASH_ATTN_DIFFKV", "attnreg.backends.flash_attn_diffkv.FlashAttentionDiffKVBackend"},
    {"TRITON_ATTN", "attnreg.backends.triton_attn.TritonAttentionBackend"},
    {"XFORMERS", "attnreg.backends.xformers.XFormersAttentionBackend"},
    {"ROCM_ATTN", "attnreg.backends.rocm_attn.RocmAttentionBackend"},
    {"ROCM_AITER_MLA", "attnreg.backends.mla.rocm_aiter_mla.AiterMLABackend"},
    {"ROCM_AITER_TRITON_MLA", "attnreg.backends.mla.aiter_triton_mla.AiterTritonMLABackend"},
    {"ROCM_AITER_FA", "attnreg.backends.rocm_aiter_fa.AiterFlashAttentionBackend"},
    {"ROCM_AITER_MLA_SPARSE", "attnreg.backends.mla.rocm_aiter_mla_sparse.ROCMAiterMLASparseBackend"},
    {"XPU_MLA_SPARSE", "attnreg.backends.mla.xpu_mla_sparse.XPUMLASparseBackend"},
    {"TORCH_SDPA", ""},
    {"FLASHINFER", "attnreg.backends.flashinfer.FlashInferBackend"},
    {"FLASHINFER_MLA", "attnreg.backends.mla.flashinfer_mla.FlashInferMLABackend"},
    {"FLASHINFER_MLA_SPARSE", "attnreg.backends.mla.flashinfer_mla_sparse.FlashInferMLASparseBackend"},
    {"TRITON_MLA", "attnreg.backends.mla.triton_mla.TritonMLABackend"},
    {"TRITON_MLA_SPARSE", "attnreg.backends.mla.triton_mla_sparse.TritonMLASparseBackend"},
    {"CUTLASS_MLA", "attnreg.backends.mla.cutlass_mla.CutlassMLABackend"},
    {"FLASHMLA", "attnreg.backends.mla.flashmla.FlashMLABackend"},
    {"FLASHMLA_SPARSE", "attnreg.backends.mla.flashmla_sparse.FlashMLASparseBackend"},
    {"FLASH_ATTN_MLA", "attnreg.backends.mla.flashattn_mla.FlashAttnMLABackend"},
    {"PALLAS", "attnreg.backends.pallas.PallasAttentionBackend"},
    {"IPEX", "attnreg.backends.ipex.IpexAttentionBackend"},
    {"NO_ATTENTION", "attnreg.backends.no_attention.NoAttentionBackend"},
    {"FLEX_ATTENTION", "attnreg.backends.flex_attention.FlexAttentionBackend"},
    {"TREE_ATTN", "attnreg.backends.tree_attn.TreeAttentionBackend"},
    {"ROCM_AITER_UNIFIED_ATTN", "attnreg.backends.rocm_aiter_unified_attn.RocmAiterUnifiedAttentionBackend"},
    {"CPU_ATTN", "attnreg.backends.cpu_attn.CPUAttentionBackend"},
    {"TURBOQUANT", "attnreg.backends.turboquant_attn.TurboQuantAttentionBackend"},
    {"CUSTOM", ""},
};

const std::vector<Row> kMamba = {
    {"MAMBA1", "attnreg.backends.mamba1_attn.Mamba1AttentionBackend"},
    {"MAMBA2", "attnreg.backends.mamba2_attn.Mamba2AttentionBackend"},
    {"SHORT_CONV", "attnreg.backends.short_conv_attn.ShortConvAttentionBackend"},
    {"LINEAR", "attnreg.backends.linear_attn.LinearAttentionBackend"},
    {"GDN_ATTN", "attnreg.backends.gdn_attn.GDNAttentionBackend"},
    {"CUSTOM", ""},
};

template <class Enum>
void expect_members(const std::vector<Row>& expected) {
  const auto members = Enum::members();
  ASSERT_EQ(members.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].first);
    EXPECT_EQ(members[i].name(), expected[i].first);
    EXPECT_EQ(members[i].value(), expected[i].second);
    EXPECT_EQ(static_cast<std::size_t>(members[i].id()), i);
    EXPECT_EQ(Enum::from_name(expected[i].first), members[i]);
  }
}

TEST(RegistryMembers, AttentionOrderNamesAndDefaultPaths) {
  expect_members<AttentionBackendEnum>(kAttention);
}

TEST(RegistryMembers, MambaOrderNamesAndDefaultPaths) { expect_members<MambaAttentionBackendEnum>(kMamba); }

TEST(RegistryMembers, ConstantsAreTheMembers) {
  EXPECT_EQ(AttentionBackendEnum::FLASH_ATTN, AttentionBackendEnum::members().front());
  EXPECT_EQ(AttentionBackendEnum::CUSTOM, AttentionBackendEnum::members().back());
  EXPECT_EQ(AttentionBackendEnum::TORCH_SDPA.name(), "TORCH_SDPA");
  EXPECT_EQ(MambaAttentionBackendEnum::GDN_ATTN.name(), "GDN_ATTN");
  EXPECT_NE(AttentionBackendEnum::TORCH_SDPA, AttentionBackendEnum::CUSTOM);
}

TEST(RegistryMembers, FromValueFindsTheFirstMemberWithThatDefaultPath) {
  for (const auto& [name, path] : kAttention) {
    if (path.empty()) continue;
    const auto found = AttentionBackendEnum::from_value(path);
    ASSERT_TRUE(found.has_value()) << path;
    EXPECT_EQ(found->name(), name);
  }
  EXPECT_EQ(MambaAttentionBackendEnum::from_value("attnreg.backends.linear_attn.LinearAttentionBackend"),
            MambaAttentionBackendEnum::LINEAR);
}

TEST(RegistryMembers, FromValueMatchesNothingForEmptyOrUnknownOrOtherTablePaths) {
  EXPECT_EQ(AttentionBackendEnum::from_value(""), std::nullopt);
  EXPECT_EQ(MambaAttentionBackendEnum::from_value(""), std::nullopt);
  EXPECT_EQ(AttentionBackendEnum::from_value("attnreg.backends.flash_attn"), std::nullopt);
  EXPECT_EQ(AttentionBackendEnum::from_value("attnreg.backends.mamba1_attn.Mamba1AttentionBackend"),
            std::nullopt);
}

TEST(RegistryMembers, FromValueIgnoresOverrides) {
  register_backend(AttentionBackendEnum::CUSTOM, "my.module.Thing");
  EXPECT_EQ(AttentionBackendEnum::from_value("my.module.Thing"), std::nullopt);
  AttentionBackendEnum::CUSTOM.clear_override();
}

std::string_view describe(AttentionBackendEnum b) {
  switch (b) {
    case AttentionBackendEnum::Id::FLASH_ATTN:
      return "flash";
    case AttentionBackendEnum::Id::CUSTOM:
      return "custom";
    default:
      return "other";
  }
}

TEST(RegistryMembers, SwitchOnAMember) {
  EXPECT_EQ(describe(AttentionBackendEnum::FLASH_ATTN), "flash");
  EXPECT_EQ(describe(AttentionBackendEnum::CUSTOM), "custom");
  EXPECT_EQ(describe(AttentionBackendEnum::PALLAS), "other");
}

TEST(RegistryMembers, HashSeparatesEveryMember) {
  std::unordered_set<AttentionBackendEnum> attention(AttentionBackendEnum::members().begin(),
                                                     AttentionBackendEnum::members().end());
  EXPECT_EQ(attention.size(), kAttention.size());
  EXPECT_TRUE(attention.contains(AttentionBackendEnum::TURBOQUANT));
  std::unordered_set<MambaAttentionBackendEnum> mamba(MambaAttentionBackendEnum::members().begin(),
                                                      MambaAttentionBackendEnum::members().end());
  EXPECT_EQ(mamba.size(), kMamba.size());
}

TEST(RegistryMembers, FormatsAsPythonStr) {
  EXPECT_EQ(to_string(AttentionBackendEnum::FLASH_ATTN), "AttentionBackendEnum.FLASH_ATTN");
  EXPECT_EQ(fmt::format("{}", AttentionBackendEnum::CUSTOM), "AttentionBackendEnum.CUSTOM");
  EXPECT_EQ(fmt::format("{:>30}", AttentionBackendEnum::IPEX), "     AttentionBackendEnum.IPEX");
  EXPECT_EQ(fmt::format("{}", MambaAttentionBackendEnum::MAMBA2), "MambaAttentionBackendEnum.MAMBA2");
  std::ostringstream os;
  os << AttentionBackendEnum::TREE_ATTN << ' ' << MambaAttentionBackendEnum::CUSTOM;
  EXPECT_EQ(os.str(), "AttentionBackendEnum.TREE_ATTN MambaAttentionBackendEnum.CUSTOM");
}

}  // namespace
}  // namespace attnreg
