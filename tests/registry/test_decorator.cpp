// The decorator forms: register_backend<T>(member) and ATTNREG_REGISTER_BACKEND,
// both registering T under its auto path (qualified name, "::" -> ".").
#include "registry_test_support.hpp"

namespace regtest::deco::inner {

class NestedBackend final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "NESTED"; }
};

class MambaBackend final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "DECO_MAMBA"; }
};

class MacroBackend final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "MACRO"; }
};

template <class T>
class TemplateBackend final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "TEMPLATE"; }
};

}  // namespace regtest::deco::inner

class TopLevelBackend final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "TOP"; }
};

// Registered while this file's static initialisers run; the next line, in the
// same translation unit and so initialised right after, records what the
// registry said then (the tests' fixtures clear overrides later).
ATTNREG_REGISTER_BACKEND(attnreg::AttentionBackendEnum::TREE_ATTN, regtest::deco::inner::MacroBackend);
static const std::string path_after_macro = attnreg::AttentionBackendEnum::TREE_ATTN.get_path();
static const bool overridden_after_macro = attnreg::AttentionBackendEnum::TREE_ATTN.is_overridden();

namespace attnreg {
namespace {

using test::CleanRegistry;
using RegistryDecorator = CleanRegistry;

TEST_F(RegistryDecorator, AutoPathIsTheQualifiedNameWithDots) {
  register_backend<regtest::deco::inner::NestedBackend>(AttentionBackendEnum::CUSTOM);
  EXPECT_TRUE(AttentionBackendEnum::CUSTOM.is_overridden());
  EXPECT_EQ(AttentionBackendEnum::CUSTOM.get_path(), "regtest.deco.inner.NestedBackend");
  EXPECT_EQ(AttentionBackendEnum::CUSTOM.get_path(false), "regtest.deco.inner");
  EXPECT_EQ(AttentionBackendEnum::CUSTOM.get_class().get_name(), "NESTED");
}

TEST_F(RegistryDecorator, GlobalNamespaceClassGetsItsBareName) {
  register_backend<TopLevelBackend>(AttentionBackendEnum::FLASH_ATTN);
  EXPECT_EQ(AttentionBackendEnum::FLASH_ATTN.get_path(), "TopLevelBackend");
  EXPECT_EQ(AttentionBackendEnum::FLASH_ATTN.get_class().get_name(), "TOP");
}

TEST_F(RegistryDecorator, MambaFormWritesOnlyTheMambaTable) {
  register_backend<regtest::deco::inner::MambaBackend>(MambaAttentionBackendEnum::LINEAR);
  EXPECT_EQ(MambaAttentionBackendEnum::LINEAR.get_path(), "regtest.deco.inner.MambaBackend");
  EXPECT_EQ(MambaAttentionBackendEnum::LINEAR.get_class().get_name(), "DECO_MAMBA");
  for (auto b : AttentionBackendEnum::members()) EXPECT_FALSE(b.is_overridden()) << b;
}

TEST_F(RegistryDecorator, ResolveClassFindsTheDecoratedClassByItsPath) {
  register_backend<regtest::deco::inner::NestedBackend>(AttentionBackendEnum::CUSTOM);
  EXPECT_EQ(&resolve_class("regtest.deco.inner.NestedBackend"), &AttentionBackendEnum::CUSTOM.get_class());
}

TEST_F(RegistryDecorator, AClassWhoseNameIsNoPathIsRefusedAndChangesNothing) {
  // A template's qualified name ("...TemplateBackend<int>") is not a dotted path.
  const std::string message = test::message_of<ValueError>(
      [] { register_backend<regtest::deco::inner::TemplateBackend<int>>(AttentionBackendEnum::CUSTOM); });
  EXPECT_EQ(
      message,
      "Invalid class path 'regtest.deco.inner.TemplateBackend<int>': component 'TemplateBackend<int>' is "
      "not an identifier (character '<' is not a letter, digit or '_'). Expected dotted identifiers such "
      "as 'my.module.MyBackend'");
  EXPECT_FALSE(AttentionBackendEnum::CUSTOM.is_overridden());
}

TEST(RegistryMacro, RegisteredAtLoadTime) {
  EXPECT_TRUE(overridden_after_macro);
  EXPECT_EQ(path_after_macro, "regtest.deco.inner.MacroBackend");
  EXPECT_EQ(resolve_class("regtest.deco.inner.MacroBackend").get_name(), "MACRO");
}

}  // namespace
}  // namespace attnreg
