// Loading well-behaved plugins: classes resolve, are cached, load once, and
// count as the module's classes; an enum member resolves through them.
#include "test_support.hpp"

#include <attnreg/registry.hpp>

namespace attnreg {
namespace {

using test::message_of;

class Local final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "LOCAL"; }
};

TEST(Plugins, ClassesOfAPluginResolve) {
  test::use_test_plugins();
  const AttentionBackend& alpha = resolve_class("testplug.good.Alpha");
  EXPECT_EQ(alpha.get_name(), "TESTPLUG_ALPHA");
  EXPECT_EQ(resolve_class("testplug.good.Beta").get_name(), "TESTPLUG_BETA");
  EXPECT_EQ(&resolve_class("testplug.good.Alpha"), &alpha);
  const auto paths = known_class_paths();
  for (const char* p : {"testplug.good.Alpha", "testplug.good.Beta", "testplug.good.InitCounter"})
    EXPECT_NE(std::find(paths.begin(), paths.end(), p), paths.end()) << p;
}

TEST(Plugins, APluginIsLoadedOnce) {
  test::use_test_plugins();
  resolve_class("testplug.good.Alpha");
  resolve_class("testplug.good.Beta");
  // A new path in the same module must use the loaded plugin, not load it again.
  EXPECT_EQ(resolve_class("testplug.good.InitCounter").supported_head_sizes(), std::vector<int>{1});
}

TEST(Plugins, ModuleWithoutTheClassIsImportErrorListingWhatItHas) {
  test::use_test_plugins();
  resolve_class("testplug.good.Alpha");
  const test::ImportSnapshot before;
  EXPECT_EQ(message_of<ImportError>([] { resolve_class("testplug.good.Gamma"); }),
            "Cannot import 'testplug.good.Gamma': module 'testplug.good' (file '" +
                test::plugin_file("good") + "') has no class 'Gamma'; it provides: Alpha, Beta, InitCounter");
  EXPECT_TRUE(before == test::ImportSnapshot{});
}

TEST(Plugins, RegisteringOverAPluginClassIsImportError) {
  test::use_test_plugins();
  const AttentionBackend& alpha = resolve_class("testplug.good.Alpha");
  const test::ImportSnapshot before;
  EXPECT_EQ(message_of<ImportError>([] { register_class<Local>("testplug.good.Alpha"); }),
            "Cannot register class 'testplug.good.Alpha': it is already provided by the plugin file '" +
                test::plugin_file("good") +
                "'; a class path has exactly one provider, so register yours under another path");
  EXPECT_EQ(&resolve_class("testplug.good.Alpha"), &alpha);
  EXPECT_TRUE(before == test::ImportSnapshot{});
  // A new class in a plugin's module is fine (Python: setting a module attribute).
  register_class<Local>("testplug.good.Extra");
  EXPECT_EQ(resolve_class("testplug.good.Extra").get_name(), "LOCAL");
}

TEST(Plugins, InProcessClassesOfAModuleDoNotHideItsPlugin) {
  test::use_test_plugins();
  register_class<Local>("testplug.shared.Helper");
  EXPECT_EQ(resolve_class("testplug.shared.Alpha").get_name(), "TESTPLUG_ALPHA");
  EXPECT_EQ(resolve_class("testplug.shared.Helper").get_name(), "LOCAL");
  // Once the plugin is loaded, the module is its classes and the in-process ones.
  EXPECT_EQ(message_of<ImportError>([] { resolve_class("testplug.shared.Gamma"); }),
            "Cannot import 'testplug.shared.Gamma': module 'testplug.shared' (file '" +
                test::plugin_file("shared") +
                "') has no class 'Gamma'; it provides: Alpha, Beta, Helper, InitCounter");
}

TEST(Plugins, AMemberWhosePluginLacksItsClassRaisesImportErrorFromGetClass) {
  test::use_test_plugins();
  register_backend(AttentionBackendEnum::CUSTOM, "testplug.via_enum.Gamma");
  EXPECT_EQ(message_of<ImportError>([] { AttentionBackendEnum::CUSTOM.get_class(); }),
            "Cannot import 'testplug.via_enum.Gamma': module 'testplug.via_enum' (file '" +
                test::plugin_file("via_enum") +
                "') has no class 'Gamma'; it provides: Alpha, Beta, InitCounter");
  register_backend(AttentionBackendEnum::CUSTOM, "testplug.via_enum.Beta");
  EXPECT_EQ(AttentionBackendEnum::CUSTOM.get_class().get_name(), "TESTPLUG_BETA");
  AttentionBackendEnum::CUSTOM.clear_override();
}

TEST(Plugins, AvailableModulesListsPluginFilesOnTheSearchPath) {
  test::use_test_plugins();
  const auto modules = available_modules();
  EXPECT_TRUE(std::is_sorted(modules.begin(), modules.end()));
  for (const char* m : {"testplug.good", "testplug.late", "testplug.bad_abi", "testplug.not_a_library"})
    EXPECT_NE(std::find(modules.begin(), modules.end(), m), modules.end()) << m;
}

TEST(Plugins, PluginModuleRejectsBadAndDuplicateClassNames) {
  PluginModule m("acme.mod", "/somewhere/acme/mod.so");
  m.add_class<Local>("Local");
  EXPECT_EQ(message_of<ValueError>([&] { m.add_class<Local>("Local"); }),
            "Plugin module 'acme.mod' (file '/somewhere/acme/mod.so'): class 'Local' was added twice; each "
            "class name may be added once");
  EXPECT_EQ(message_of<ValueError>([&] { m.add_class<Local>("sub.Local"); }),
            "Plugin module 'acme.mod' (file '/somewhere/acme/mod.so'): class name 'sub.Local' is not an "
            "identifier; add_class takes the bare class name, e.g. 'MyBackend'");
  EXPECT_EQ(message_of<ValueError>([&] { m.add_class<Local>(""); }),
            "Plugin module 'acme.mod' (file '/somewhere/acme/mod.so'): class name '' is not an identifier; "
            "add_class takes the bare class name, e.g. 'MyBackend'");
  EXPECT_EQ(message_of<ValueError>([&] { m.add_class<Local>("2fast"); }),
            "Plugin module 'acme.mod' (file '/somewhere/acme/mod.so'): class name '2fast' is not an "
            "identifier (Invalid class path '2fast': component '2fast' is not an identifier (it must start "
            "with a letter or '_'). Expected dotted identifiers such as 'my.module.MyBackend')");
  ASSERT_EQ(m.entries().size(), 1u);
  EXPECT_EQ(m.entries()[0].class_name, "Local");
}

TEST(Plugins, RegisterClassDuringALoadRebindsLikeOutsideOne) {
  test::use_test_plugins();
  EXPECT_EQ(resolve_class("testplug.rebinding.K").get_name(), "TESTPLUG_OTHER");
}

}  // namespace
}  // namespace attnreg
