// Each way a plugin can be refused: the exact exception type, a message naming
// module, file and cause, and no change to the class table.
#include "test_support.hpp"

#include <attnreg/registry.hpp>

namespace attnreg {
namespace {

using test::message_of;
using test::plugin_file;

std::string prefix(const std::string& module, const std::string& name) {
  return "Cannot import module '" + module + "' from plugin file '" + plugin_file(name) + "': ";
}

class PluginFaults : public ::testing::Test {
 protected:
  void SetUp() override { test::use_test_plugins(); }
};

TEST_F(PluginFaults, FileThatIsNotALibrary) {
  const test::ImportSnapshot before;
  const std::string message = message_of<ImportError>([] { resolve_class("testplug.not_a_library.Klass"); });
  EXPECT_EQ(
      message.rfind(prefix("testplug.not_a_library", "not_a_library") + "the dynamic loader refused it (", 0),
      0u)
      << message;
  // dlerror's own reason, then what a loadable plugin looks like.
  EXPECT_NE(message.find("not_a_library.so"), std::string::npos) << message;
  EXPECT_NE(
      message.find("); it must be a shared library built for this platform whose dependencies can be found"),
      std::string::npos)
      << message;
  EXPECT_TRUE(before == test::ImportSnapshot{});
}

TEST_F(PluginFaults, LibraryWithoutTheInitEntryPoint) {
  const test::ImportSnapshot before;
  EXPECT_EQ(message_of<ImportError>([] { resolve_class("testplug.no_init.Klass"); }),
            prefix("testplug.no_init", "no_init") +
                "it does not export the entry point 'attnreg_plugin_init'; a plugin defines its entry points "
                "with ATTNREG_PLUGIN(m) { ... } from <attnreg/plugin.hpp>");
  EXPECT_TRUE(before == test::ImportSnapshot{});
}

TEST_F(PluginFaults, AbiMismatch) {
  const test::ImportSnapshot before;
  EXPECT_EQ(message_of<ImportError>([] { resolve_class("testplug.bad_abi.Klass"); }),
            prefix("testplug.bad_abi", "bad_abi") + "it was built against attnreg ABI " +
                std::to_string(ATTNREG_ABI_VERSION + 41) + ", this library has ABI " +
                std::to_string(ATTNREG_ABI_VERSION) + "; rebuild the plugin against this attnreg");
  EXPECT_TRUE(before == test::ImportSnapshot{});
}

TEST_F(PluginFaults, InitThatThrowsPublishesNothing) {
  const test::ImportSnapshot before;
  const std::string expected = prefix("testplug.init_throws", "init_throws") +
                               "its init failed: testplug refuses to load: simulated init failure";
  EXPECT_EQ(message_of<ImportError>([] { resolve_class("testplug.init_throws.Partial"); }), expected);
  EXPECT_TRUE(before == test::ImportSnapshot{});
  // Not recorded as loaded: the next lookup tries (and fails) again, the same way.
  EXPECT_EQ(message_of<ImportError>([] { resolve_class("testplug.init_throws.Partial"); }), expected);
}

TEST_F(PluginFaults, RefusedPluginIsRetriedByALaterLookup) {
  ::unsetenv("TESTPLUG_FLAKY_ALLOW");
  EXPECT_THROW(resolve_class("testplug.flaky.Partial"), ImportError);
  ::setenv("TESTPLUG_FLAKY_ALLOW", "1", 1);
  EXPECT_EQ(resolve_class("testplug.flaky.Partial").get_name(), "TESTPLUG_PARTIAL");
}

TEST_F(PluginFaults, TwoPluginsClaimingTheSameClass) {
  const AttentionBackend& alpha = resolve_class("testplug.good.Alpha");
  const test::ImportSnapshot before;
  EXPECT_EQ(message_of<ImportError>([] { resolve_class("testplug.conflict.Own"); }),
            prefix("testplug.conflict", "conflict") +
                "class 'testplug.good.Alpha' is already provided by the plugin file '" + plugin_file("good") +
                "'; a class path has exactly one provider, so rename one of the classes or drop one of the "
                "providers");
  EXPECT_TRUE(before == test::ImportSnapshot{});
  EXPECT_EQ(&resolve_class("testplug.good.Alpha"), &alpha);
}

TEST_F(PluginFaults, NoModuleAnywhereListsEveryDirectorySearched) {
  const std::string env = "/nonexistent/first::" + test::kPluginDir + ":";
  ::setenv("ATTNREG_PLUGIN_PATH", env.c_str(), 1);
  const test::ImportSnapshot before;
  const std::string message = message_of<ModuleNotFoundError>([] { resolve_class("nowhere.mod.Klass"); });
  const std::string expected_head =
      "No module named 'nowhere.mod' (needed for class 'nowhere.mod.Klass'): no in-process class is "
      "registered in it and no plugin file 'nowhere/mod.so' was found in the directories searched: "
      "'/nonexistent/first' (ATTNREG_PLUGIN_PATH), '" +
      test::kPluginDir + "' (ATTNREG_PLUGIN_PATH), '" + plugin_install_dir() +
      "' (install plugin directory). Put the plugin in one of them (or add its directory to "
      "ATTNREG_PLUGIN_PATH), or register the class with register_class. Modules this build has: ";
  EXPECT_EQ(message.substr(0, expected_head.size()), expected_head);
  EXPECT_NE(message.find("testplug.good"), std::string::npos) << message;
  EXPECT_TRUE(before == test::ImportSnapshot{});
}

TEST_F(PluginFaults, NoModuleWithoutPluginPathSaysItIsNotSet) {
  ::unsetenv("ATTNREG_PLUGIN_PATH");
  const std::string message = message_of<ModuleNotFoundError>([] { resolve_class("nowhere.mod.Klass"); });
  EXPECT_NE(message.find("searched: '" + plugin_install_dir() +
                         "' (install plugin directory) (ATTNREG_PLUGIN_PATH is not set). "),
            std::string::npos)
      << message;
}

TEST_F(PluginFaults, DefaultPathOfABackendNotBuiltListsTheModulesThisBuildHas) {
  // PALLAS is a member of the enum whose backend attnreg does not build.
  const std::string message =
      message_of<ModuleNotFoundError>([] { AttentionBackendEnum::PALLAS.get_class(); });
  const std::string marker = "Modules this build has: ";
  const auto at = message.find(marker);
  ASSERT_NE(at, std::string::npos) << message;
  std::string listed;
  for (const auto& m : available_modules()) listed += (listed.empty() ? "" : ", ") + m;
  EXPECT_EQ(message.substr(at + marker.size()), listed);
  EXPECT_NE(message.find("No module named 'attnreg.backends.pallas'"), std::string::npos) << message;
}

TEST_F(PluginFaults, StaticRegistrationsOfARefusedPluginArePublishedOnlyWithItsRetry) {
  ::unsetenv("TESTPLUG_STATIC_ALLOW");
  const test::ImportSnapshot before;
  EXPECT_EQ(message_of<ImportError>([] { resolve_class("testplug.static_registration.Registered"); }),
            prefix("testplug.static_registration", "static_registration") +
                "its init failed: TESTPLUG_STATIC_ALLOW is not set");
  EXPECT_TRUE(before == test::ImportSnapshot{});
  ::setenv("TESTPLUG_STATIC_ALLOW", "1", 1);
  EXPECT_EQ(resolve_class("testplug.static_registration.Registered").get_name(),
            "TESTPLUG_STATICALLY_REGISTERED");
}

TEST_F(PluginFaults, LibraryWithoutAnyEntryPoint) {
  const test::ImportSnapshot before;
  EXPECT_EQ(message_of<ImportError>([] { resolve_class("testplug.no_entry_points.Klass"); }),
            prefix("testplug.no_entry_points", "no_entry_points") +
                "it does not export the entry point 'attnreg_plugin_abi_version'; a plugin defines its entry "
                "points with ATTNREG_PLUGIN(m) { ... } from <attnreg/plugin.hpp>");
  EXPECT_TRUE(before == test::ImportSnapshot{});
}

TEST_F(PluginFaults, HandWrittenInitThatLetsAnExceptionEscape) {
  const test::ImportSnapshot before;
  EXPECT_EQ(message_of<ImportError>([] { resolve_class("testplug.raw_throw.Klass"); }),
            prefix("testplug.raw_throw", "raw_throw") +
                "its init failed: raw init threw instead of returning an error");
  EXPECT_TRUE(before == test::ImportSnapshot{});
}

TEST_F(PluginFaults, PluginClaimingOneClassTwice) {
  const test::ImportSnapshot before;
  EXPECT_EQ(message_of<ImportError>([] { resolve_class("testplug.double_claim.Twice"); }),
            prefix("testplug.double_claim", "double_claim") +
                "class 'testplug.double_claim.Twice' is claimed twice by this plugin (by add_class and by "
                "register_class, or twice by register_class with different types); claim each class once");
  EXPECT_TRUE(before == test::ImportSnapshot{});
}

class Local final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "LOCAL"; }
};

TEST_F(PluginFaults, PluginClaimingAnInProcessClass) {
  register_class<Local>("inproc.claimed.Klass");
  const test::ImportSnapshot before;
  EXPECT_EQ(message_of<ImportError>([] { resolve_class("testplug.claims_inproc.Own"); }),
            prefix("testplug.claims_inproc", "claims_inproc") +
                "class 'inproc.claimed.Klass' is already provided by an in-process class (register_class); a "
                "class path has exactly one provider, so rename one of the classes or drop one of the "
                "providers");
  EXPECT_TRUE(before == test::ImportSnapshot{});
  EXPECT_EQ(resolve_class("inproc.claimed.Klass").get_name(), "LOCAL");
}

TEST_F(PluginFaults, PluginWithoutClasses) {
  EXPECT_EQ(message_of<ImportError>([] { resolve_class("testplug.empty.Klass"); }),
            "Cannot import 'testplug.empty.Klass': module 'testplug.empty' (file '" + plugin_file("empty") +
                "') has no class 'Klass'; it provides: no classes");
}

}  // namespace
}  // namespace attnreg
