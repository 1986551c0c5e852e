// MAMBA_TYPE_TO_BACKEND_MAP: vLLM's mamba type -> member name table.
#include <utility>
#include <vector>

#include "registry_test_support.hpp"

namespace attnreg {
namespace {

using test::message_of;

TEST(RegistryMambaTypeMap, HoldsVllmsEntriesInItsOrder) {
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"mamba1", "MAMBA1"},           {"mamba2", "MAMBA2"},          {"short_conv", "SHORT_CONV"},
      {"linear_attention", "LINEAR"}, {"gdn_attention", "GDN_ATTN"}, {"custom", "CUSTOM"}};
  EXPECT_EQ(MAMBA_TYPE_TO_BACKEND_MAP.size(), expected.size());
  std::vector<std::pair<std::string, std::string>> seen(MAMBA_TYPE_TO_BACKEND_MAP.begin(),
                                                        MAMBA_TYPE_TO_BACKEND_MAP.end());
  EXPECT_EQ(seen, expected);  // iteration in vLLM's dict order
  for (const auto& [type, name] : expected) EXPECT_EQ(MAMBA_TYPE_TO_BACKEND_MAP.at(type), name);
}

TEST(RegistryMambaTypeMap, EveryValueNamesAMambaMember) {
  for (const auto& [type, name] : MAMBA_TYPE_TO_BACKEND_MAP)
    EXPECT_EQ(MambaAttentionBackendEnum::from_name(name).name(), name) << type;
}

TEST(RegistryMambaTypeMap, FindAndContains) {
  EXPECT_TRUE(MAMBA_TYPE_TO_BACKEND_MAP.contains("short_conv"));
  EXPECT_FALSE(MAMBA_TYPE_TO_BACKEND_MAP.contains("SHORT_CONV"));
  EXPECT_EQ(MAMBA_TYPE_TO_BACKEND_MAP.find("linear"), MAMBA_TYPE_TO_BACKEND_MAP.end());
  EXPECT_EQ(MAMBA_TYPE_TO_BACKEND_MAP.find("gdn_attention")->second, "GDN_ATTN");
}

TEST(RegistryMambaTypeMap, AtOfAnUnknownTypeNamesTheKnownOnes) {
  EXPECT_EQ(
      message_of<std::out_of_range>([] { MAMBA_TYPE_TO_BACKEND_MAP.at("mamba3"); }),
      "No mamba type 'mamba3'. Known types: mamba1, mamba2, short_conv, linear_attention, gdn_attention, "
      "custom");
}

}  // namespace
}  // namespace attnreg
