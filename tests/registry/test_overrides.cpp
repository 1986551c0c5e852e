// register_backend (direct form): overwrite, clear, is_overridden, separate
// tables, malformed paths, and get_class through an in-process class.
#include "registry_test_support.hpp"

namespace attnreg {
namespace {

using test::CleanRegistry;
using test::message_of;

using RegistryOverrides = CleanRegistry;

class OverrideA final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "OVERRIDE_A"; }
};
class OverrideB final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "OVERRIDE_B"; }
};

TEST_F(RegistryOverrides, NothingIsOverriddenAtFirst) {
  for (auto b : AttentionBackendEnum::members()) EXPECT_FALSE(b.is_overridden()) << b;
  for (auto b : MambaAttentionBackendEnum::members()) EXPECT_FALSE(b.is_overridden()) << b;
}

TEST_F(RegistryOverrides, RegisterOverwritesAndClearReverts) {
  register_backend(AttentionBackendEnum::FLASH_ATTN, "my.first.Backend");
  EXPECT_TRUE(AttentionBackendEnum::FLASH_ATTN.is_overridden());
  EXPECT_EQ(AttentionBackendEnum::FLASH_ATTN.get_path(), "my.first.Backend");
  register_backend(AttentionBackendEnum::FLASH_ATTN, "my.second.Backend");
  EXPECT_EQ(AttentionBackendEnum::FLASH_ATTN.get_path(), "my.second.Backend");
  EXPECT_EQ(AttentionBackendEnum::FLASH_ATTN.value(), "attnreg.backends.flash_attn.FlashAttentionBackend");
  AttentionBackendEnum::FLASH_ATTN.clear_override();
  EXPECT_FALSE(AttentionBackendEnum::FLASH_ATTN.is_overridden());
  EXPECT_EQ(AttentionBackendEnum::FLASH_ATTN.get_path(), "attnreg.backends.flash_attn.FlashAttentionBackend");
}

TEST_F(RegistryOverrides, ClearingANonOverriddenMemberChangesNothing) {
  AttentionBackendEnum::PALLAS.clear_override();
  EXPECT_FALSE(AttentionBackendEnum::PALLAS.is_overridden());
  EXPECT_EQ(AttentionBackendEnum::PALLAS.get_path(), "attnreg.backends.pallas.PallasAttentionBackend");
}

TEST_F(RegistryOverrides, RegisteringTheDefaultPathStillCountsAsAnOverride) {
  register_backend(AttentionBackendEnum::TRITON_ATTN, AttentionBackendEnum::TRITON_ATTN.value());
  EXPECT_TRUE(AttentionBackendEnum::TRITON_ATTN.is_overridden());
}

TEST_F(RegistryOverrides, OverridesTouchOnlyTheirMember) {
  register_backend(AttentionBackendEnum::CUSTOM, "my.module.Custom");
  for (auto b : AttentionBackendEnum::members())
    if (b != AttentionBackendEnum::CUSTOM) EXPECT_FALSE(b.is_overridden()) << b;
}

TEST_F(RegistryOverrides, TablesAreSeparate) {
  register_backend(MambaAttentionBackendEnum::CUSTOM, "my.mamba.Custom");
  EXPECT_TRUE(MambaAttentionBackendEnum::CUSTOM.is_overridden());
  EXPECT_EQ(MambaAttentionBackendEnum::CUSTOM.get_path(), "my.mamba.Custom");
  EXPECT_FALSE(AttentionBackendEnum::CUSTOM.is_overridden());
  EXPECT_THROW(AttentionBackendEnum::CUSTOM.get_path(), ValueError);

  register_backend(AttentionBackendEnum::CUSTOM, "my.attention.Custom");
  AttentionBackendEnum::CUSTOM.clear_override();
  EXPECT_EQ(MambaAttentionBackendEnum::CUSTOM.get_path(), "my.mamba.Custom");
}

TEST_F(RegistryOverrides, MalformedPathsAreRefusedAndChangeNothing) {
  register_backend(AttentionBackendEnum::CUSTOM, "good.module.Klass");
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"", "Invalid class path '': it is empty. Expected dotted identifiers such as 'my.module.MyBackend'"},
      {".a.B",
       "Invalid class path '.a.B': it starts with '.'. Expected dotted identifiers such as "
       "'my.module.MyBackend'"},
      {"a.B.",
       "Invalid class path 'a.B.': it ends with '.'. Expected dotted identifiers such as "
       "'my.module.MyBackend'"},
      {"a..B",
       "Invalid class path 'a..B': empty component at offset 2 ('..'). Expected dotted identifiers such "
       "as 'my.module.MyBackend'"},
      {"a.1b.C",
       "Invalid class path 'a.1b.C': component '1b' is not an identifier (it must start with a letter or "
       "'_'). Expected dotted identifiers such as 'my.module.MyBackend'"},
      {"a.b-c.D",
       "Invalid class path 'a.b-c.D': component 'b-c' is not an identifier (character '-' is not a letter, "
       "digit or '_'). Expected dotted identifiers such as 'my.module.MyBackend'"},
  };
  for (const auto& c : cases) {
    const std::string_view path = c.first, expected = c.second;  // lambdas cannot capture bindings in C++20
    SCOPED_TRACE(path);
    EXPECT_EQ(message_of<ValueError>([&] { register_backend(AttentionBackendEnum::CUSTOM, path); }),
              expected);
    EXPECT_EQ(AttentionBackendEnum::CUSTOM.get_path(), "good.module.Klass");
    EXPECT_EQ(message_of<ValueError>([&] { register_backend(AttentionBackendEnum::FLASH_ATTN, path); }),
              expected);
    EXPECT_FALSE(AttentionBackendEnum::FLASH_ATTN.is_overridden());
    EXPECT_EQ(message_of<ValueError>([&] { register_backend(MambaAttentionBackendEnum::LINEAR, path); }),
              expected);
    EXPECT_FALSE(MambaAttentionBackendEnum::LINEAR.is_overridden());
  }
}

TEST_F(RegistryOverrides, GetClassResolvesAnInProcessClassAndFollowsOverwrites) {
  register_class<OverrideA>("registry_tests.overrides.A");
  register_class<OverrideB>("registry_tests.overrides.B");
  register_backend(AttentionBackendEnum::CUSTOM, "registry_tests.overrides.A");
  const AttentionBackend& a = AttentionBackendEnum::CUSTOM.get_class();
  EXPECT_EQ(a.get_name(), "OVERRIDE_A");
  EXPECT_EQ(&AttentionBackendEnum::CUSTOM.get_class(), &a);  // cached: the same object
  register_backend(AttentionBackendEnum::CUSTOM, "registry_tests.overrides.B");
  EXPECT_EQ(AttentionBackendEnum::CUSTOM.get_class().get_name(), "OVERRIDE_B");
  register_backend(MambaAttentionBackendEnum::GDN_ATTN, "registry_tests.overrides.A");
  EXPECT_EQ(&MambaAttentionBackendEnum::GDN_ATTN.get_class(), &a);
}

}  // namespace
}  // namespace attnreg
