// get_path (with and without the class name) and the "must be registered" error.
#include "registry_test_support.hpp"

namespace attnreg {
namespace {

using test::CleanRegistry;
using test::message_of;

using RegistryPaths = CleanRegistry;

TEST_F(RegistryPaths, DefaultPathIsTheValue) {
  for (auto b : AttentionBackendEnum::members()) {
    if (b.value().empty()) continue;
    EXPECT_EQ(b.get_path(), b.value());
  }
  EXPECT_EQ(MambaAttentionBackendEnum::SHORT_CONV.get_path(),
            "attnreg.backends.short_conv_attn.ShortConvAttentionBackend");
}

TEST_F(RegistryPaths, WithoutClassNameDropsTheLastComponent) {
  EXPECT_EQ(AttentionBackendEnum::FLASH_ATTN.get_path(false), "attnreg.backends.flash_attn");
  EXPECT_EQ(AttentionBackendEnum::FLASHMLA.get_path(false), "attnreg.backends.mla.flashmla");
  EXPECT_EQ(MambaAttentionBackendEnum::MAMBA1.get_path(false), "attnreg.backends.mamba1_attn");
}

TEST_F(RegistryPaths, WithoutClassNameFollowsPythonRsplitOnOverrides) {
  register_backend(AttentionBackendEnum::CUSTOM, "a.b.c.Klass");
  EXPECT_EQ(AttentionBackendEnum::CUSTOM.get_path(false), "a.b.c");
  register_backend(AttentionBackendEnum::CUSTOM, "mod.Klass");
  EXPECT_EQ(AttentionBackendEnum::CUSTOM.get_path(false), "mod");
  // No dot: rsplit(".", 1)[0] is the whole string.
  register_backend(AttentionBackendEnum::CUSTOM, "Klass");
  EXPECT_EQ(AttentionBackendEnum::CUSTOM.get_path(), "Klass");
  EXPECT_EQ(AttentionBackendEnum::CUSTOM.get_path(false), "Klass");
}

TEST_F(RegistryPaths, UnregisteredCustomHasNoPath) {
  const std::string expected =
      "Backend CUSTOM must be registered before use. Use register_backend(Backend.CUSTOM, "
      "'your.module.YourClass')";
  EXPECT_EQ(message_of<ValueError>([] { AttentionBackendEnum::CUSTOM.get_path(); }), expected);
  EXPECT_EQ(message_of<ValueError>([] { AttentionBackendEnum::CUSTOM.get_path(false); }), expected);
  EXPECT_EQ(message_of<ValueError>([] { AttentionBackendEnum::CUSTOM.get_class(); }), expected);
  EXPECT_EQ(message_of<ValueError>([] { MambaAttentionBackendEnum::CUSTOM.get_path(); }), expected);
  EXPECT_EQ(message_of<ValueError>([] { MambaAttentionBackendEnum::CUSTOM.get_class(); }), expected);
}

TEST_F(RegistryPaths, TorchSdpaHasNoPathAndNamesItself) {
  const std::string expected =
      "Backend TORCH_SDPA must be registered before use. Use register_backend(Backend.TORCH_SDPA, "
      "'your.module.YourClass')";
  EXPECT_EQ(message_of<ValueError>([] { AttentionBackendEnum::TORCH_SDPA.get_path(); }), expected);
  EXPECT_EQ(message_of<ValueError>([] { AttentionBackendEnum::TORCH_SDPA.get_class(); }), expected);
}

TEST_F(RegistryPaths, ARegisteredTorchSdpaHasAPath) {
  register_backend(AttentionBackendEnum::TORCH_SDPA, "vit.sdpa.Backend");
  EXPECT_EQ(AttentionBackendEnum::TORCH_SDPA.get_path(), "vit.sdpa.Backend");
  EXPECT_EQ(AttentionBackendEnum::TORCH_SDPA.value(), "");
}

TEST_F(RegistryPaths, GetClassOfAMissingModuleIsModuleNotFound) {
  register_backend(AttentionBackendEnum::CUSTOM, "registry_tests.nowhere.Klass");
  const std::string message =
      message_of<ModuleNotFoundError>([] { AttentionBackendEnum::CUSTOM.get_class(); });
  EXPECT_NE(message.find("registry_tests.nowhere"), std::string::npos) << message;
}

}  // namespace
}  // namespace attnreg
