// The legacy API (seed 002): _Backend, BACKEND_MAP, BACKEND_MAPPING,
// backend_name_to_enum, register_backend, backend_to_class(_str).
#include <fmt/format.h>

#include <sstream>
#include <vector>

#include "registry_test_support.hpp"

namespace attnreg {
namespace {

using legacy::Backend;
using test::CleanRegistry;
using test::message_of;

using RegistryLegacy = CleanRegistry;

class LegacyDecorated final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "LEGACY_DECORATED"; }
};

const std::vector<std::pair<std::string_view, std::string_view>> kBackendMap = {
    {"FLASH_ATTN", "attnreg.backends.flash_attn.FlashAttentionBackend"},
    {"TRITON_ATTN", "attnreg.backends.triton_attn.TritonAttentionBackend"},
    {"XFORMERS", "attnreg.backends.xformers.XFormersAttentionBackend"},
    {"ROCM_ATTN", "attnreg.backends.rocm_attn.RocmAttentionBackend"},
    {"ROCM_AITER_MLA", "attnreg.backends.mla.rocm_aiter_mla.AiterMLABackend"},
    {"ROCM_AITER_FA", "attnreg.backends.rocm_aiter_fa.AiterFlashAttentionBackend"},
    {"TORCH_SDPA", "attnreg.backends.cpu_attn.TorchSDPABackend"},
    {"FLASHINFER", "attnreg.backends.flashinfer.FlashInferBackend"},
    {"FLASHINFER_MLA", "attnreg.backends.mla.flashinfer_mla.FlashInferMLABackend"},
    {"TRITON_MLA", "attnreg.backends.mla.triton_mla.TritonMLABackend"},
    {"CUTLASS_MLA", "attnreg.backends.mla.cutlass_mla.CutlassMLABackend"},
    {"FLASHMLA", "attnreg.backends.mla.flashmla.FlashMLABackend"},
    {"FLASHMLA_SPARSE", "attnreg.backends.mla.flashmla_sparse.FlashMLASparseBackend"},
    {"FLASH_ATTN_MLA", "attnreg.backends.mla.flashattn_mla.FlashAttnMLABackend"},
    {"PALLAS", "attnreg.backends.pallas.PallasAttentionBackend"},
    {"FLEX_ATTENTION", "attnreg.backends.flex_attention.FlexAttentionBackend"},
    {"TREE_ATTN", "attnreg.backends.tree_attn.TreeAttentionBackend"},
    {"ROCM_AITER_UNIFIED_ATTN", "attnreg.backends.rocm_aiter_unified_attn.RocmAiterUnifiedAttentionBackend"},
};

const auto kInvalid = static_cast<Backend>(200);

TEST_F(RegistryLegacy, BackendMapHoldsTheSeedsEighteenPaths) {
  ASSERT_EQ(legacy::BACKEND_MAP.size(), kBackendMap.size());
  for (const auto& [name, path] : kBackendMap) {
    const auto b = legacy::backend_name_to_enum(name);
    ASSERT_TRUE(b.has_value()) << name;
    EXPECT_EQ(legacy::BACKEND_MAP.at(*b), path);
    EXPECT_EQ(legacy::backend_to_class_str(*b), path);
  }
  EXPECT_FALSE(legacy::BACKEND_MAP.contains(Backend::IPEX));
  EXPECT_FALSE(legacy::BACKEND_MAP.contains(Backend::NO_ATTENTION));
  EXPECT_THROW(legacy::BACKEND_MAP.at(Backend::IPEX), std::out_of_range);
}

TEST_F(RegistryLegacy, MembersAreTheMapsPlusIpexAndNoAttentionInVllmOrder) {
  std::vector<std::string_view> names;
  for (Backend b : legacy::members()) names.push_back(legacy::name(b));
  const std::vector<std::string_view> expected = {
      "FLASH_ATTN",    "TRITON_ATTN",  "XFORMERS",        "ROCM_ATTN",      "ROCM_AITER_MLA",
      "ROCM_AITER_FA", "TORCH_SDPA",   "FLASHINFER",      "FLASHINFER_MLA", "TRITON_MLA",
      "CUTLASS_MLA",   "FLASHMLA",     "FLASHMLA_SPARSE", "FLASH_ATTN_MLA", "PALLAS",
      "IPEX",          "NO_ATTENTION", "FLEX_ATTENTION",  "TREE_ATTN",      "ROCM_AITER_UNIFIED_ATTN"};
  EXPECT_EQ(names, expected);
}

TEST_F(RegistryLegacy, NameToEnumStripsTheV1Suffix) {
  EXPECT_EQ(legacy::backend_name_to_enum("FLASH_ATTN"), Backend::FLASH_ATTN);
  EXPECT_EQ(legacy::backend_name_to_enum("FLASH_ATTN_VLLM_V1"), Backend::FLASH_ATTN);
  EXPECT_EQ(legacy::backend_name_to_enum("TORCH_SDPA_VLLM_V1"), Backend::TORCH_SDPA);
  EXPECT_EQ(legacy::backend_name_to_enum("IPEX"), Backend::IPEX);
}

TEST_F(RegistryLegacy, NameToEnumGivesNulloptForUnknownNames) {
  EXPECT_EQ(legacy::backend_name_to_enum("MY_OOT_BACKEND"), std::nullopt);
  EXPECT_EQ(legacy::backend_name_to_enum("flash_attn"), std::nullopt);  // exact, as _Backend[name]
  EXPECT_EQ(legacy::backend_name_to_enum("_VLLM_V1"), std::nullopt);
  EXPECT_EQ(legacy::backend_name_to_enum(""), std::nullopt);
  // Only one suffix is stripped; the current generation's names are not legacy members.
  EXPECT_EQ(legacy::backend_name_to_enum("FLASH_ATTN_VLLM_V1_VLLM_V1"), std::nullopt);
  EXPECT_EQ(legacy::backend_name_to_enum("CPU_ATTN"), std::nullopt);
}

TEST_F(RegistryLegacy, RegisterOverlaysAndOverwrites) {
  EXPECT_EQ(legacy::BACKEND_MAPPING.size(), 0u);
  legacy::register_backend(Backend::FLASH_ATTN, "oot.one.Flash");
  EXPECT_EQ(legacy::BACKEND_MAPPING.get(Backend::FLASH_ATTN), "oot.one.Flash");
  EXPECT_EQ(legacy::backend_to_class_str(Backend::FLASH_ATTN), "oot.one.Flash");
  legacy::register_backend(Backend::FLASH_ATTN, "oot.two.Flash");
  EXPECT_EQ(legacy::backend_to_class_str(Backend::FLASH_ATTN), "oot.two.Flash");
  legacy::register_backend(Backend::IPEX, "oot.ipex.Ipex");
  EXPECT_EQ(legacy::BACKEND_MAPPING.size(), 2u);
  const std::map<Backend, std::string> expected = {{Backend::FLASH_ATTN, "oot.two.Flash"},
                                                   {Backend::IPEX, "oot.ipex.Ipex"}};
  EXPECT_EQ(legacy::BACKEND_MAPPING.snapshot(), expected);
  EXPECT_EQ(legacy::BACKEND_MAP.at(Backend::FLASH_ATTN), "attnreg.backends.flash_attn.FlashAttentionBackend");
  legacy::BACKEND_MAPPING.clear();
  EXPECT_FALSE(legacy::BACKEND_MAPPING.contains(Backend::FLASH_ATTN));
  EXPECT_EQ(legacy::backend_to_class_str(Backend::FLASH_ATTN),
            "attnreg.backends.flash_attn.FlashAttentionBackend");
}

TEST_F(RegistryLegacy, OverlayIsSeparateFromTheCurrentRegistry) {
  legacy::register_backend(Backend::FLASH_ATTN, "oot.one.Flash");
  EXPECT_FALSE(AttentionBackendEnum::FLASH_ATTN.is_overridden());
  register_backend(AttentionBackendEnum::PALLAS, "oot.current.Pallas");
  EXPECT_FALSE(legacy::BACKEND_MAPPING.contains(Backend::PALLAS));
}

TEST_F(RegistryLegacy, MembersWithoutAPathNeedARegistration) {
  for (Backend b : {Backend::IPEX, Backend::NO_ATTENTION}) {
    const std::string name(legacy::name(b));
    const std::string expected = "Backend " + name +
                                 " has no class path: it has no BACKEND_MAP entry and none was registered. "
                                 "Use register_backend(_Backend." +
                                 name + ", 'your.module.YourClass')";
    EXPECT_EQ(message_of<ValueError>([&] { legacy::backend_to_class_str(b); }), expected);
    EXPECT_EQ(message_of<ValueError>([&] { legacy::backend_to_class(b); }), expected);
  }
}

TEST_F(RegistryLegacy, InvalidMemberValuesAreValueErrors) {
  const std::string expected = "200 is not a valid _Backend enum value.";
  EXPECT_EQ(message_of<ValueError>([] { legacy::name(kInvalid); }), expected);
  EXPECT_EQ(message_of<ValueError>([] { legacy::register_backend(kInvalid, "a.b.C"); }), expected);
  EXPECT_EQ(message_of<ValueError>([] { legacy::register_backend<LegacyDecorated>(kInvalid); }), expected);
  EXPECT_EQ(message_of<ValueError>([] { legacy::backend_to_class_str(kInvalid); }), expected);
  EXPECT_EQ(message_of<ValueError>([] { legacy::backend_to_class(kInvalid); }), expected);
  EXPECT_EQ(message_of<ValueError>([] { legacy::BACKEND_MAPPING.get(kInvalid); }), expected);
  EXPECT_EQ(message_of<ValueError>([] { legacy::to_string(kInvalid); }), expected);
  EXPECT_EQ(message_of<ValueError>([] { legacy::to_string(static_cast<Backend>(20)); }),
            "20 is not a valid _Backend enum value.");
  EXPECT_EQ(legacy::BACKEND_MAPPING.size(), 0u);
}

TEST_F(RegistryLegacy, MalformedPathIsRefusedAndChangesNothing) {
  legacy::register_backend(Backend::PALLAS, "oot.pallas.Pallas");
  EXPECT_EQ(message_of<ValueError>([] { legacy::register_backend(Backend::PALLAS, "oot..Pallas"); }),
            "Invalid class path 'oot..Pallas': empty component at offset 4 ('..'). Expected dotted "
            "identifiers such as 'my.module.MyBackend'");
  EXPECT_EQ(legacy::backend_to_class_str(Backend::PALLAS), "oot.pallas.Pallas");
}

TEST_F(RegistryLegacy, DecoratorFormRegistersTheClassUnderItsAutoPath) {
  legacy::register_backend<LegacyDecorated>(Backend::NO_ATTENTION);
  // An anonymous namespace has no name a path could spell, so it is dropped.
  EXPECT_EQ(legacy::backend_to_class_str(Backend::NO_ATTENTION), "attnreg.LegacyDecorated");
  EXPECT_EQ(legacy::backend_to_class(Backend::NO_ATTENTION).get_name(), "LEGACY_DECORATED");
}

TEST_F(RegistryLegacy, FormatsAsPythonStr) {
  EXPECT_EQ(legacy::to_string(Backend::FLASH_ATTN), "_Backend.FLASH_ATTN");
  std::ostringstream os;
  os << Backend::NO_ATTENTION;
  EXPECT_EQ(os.str(), "_Backend.NO_ATTENTION");
}

}  // namespace
}  // namespace attnreg
