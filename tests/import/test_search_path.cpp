// The search path: ATTNREG_PLUGIN_PATH read at each lookup, empty entries
// ignored, the install plugin directory last; the first directory holding a
// module provides it.
#include "test_support.hpp"

#include <filesystem>

namespace attnreg {
namespace {

TEST(SearchPath, EnvironmentEntriesInOrderThenTheInstallDirectory) {
  ::setenv("ATTNREG_PLUGIN_PATH", ":/a/b::/c:", 1);
  EXPECT_EQ(plugin_search_path(), (std::vector<std::string>{"/a/b", "/c", plugin_install_dir()}));
  ::unsetenv("ATTNREG_PLUGIN_PATH");
  EXPECT_EQ(plugin_search_path(), std::vector<std::string>{plugin_install_dir()});
}

TEST(SearchPath, InstallDirectoryIsNextToTheCoreLibrary) {
  // The build tree mirrors an install: <build>/lib/libattnreg.so and <build>/lib/attnreg/plugins.
  const std::filesystem::path dir = plugin_install_dir();
  EXPECT_TRUE(dir.is_absolute()) << dir;
  EXPECT_EQ(dir.filename(), "plugins");
  EXPECT_EQ(dir.parent_path().filename(), "attnreg");
  bool core_found = false;
  for (const auto& e : std::filesystem::directory_iterator(dir.parent_path().parent_path()))
    core_found = core_found || e.path().filename().string().rfind("libattnreg.so", 0) == 0;
  EXPECT_TRUE(core_found) << dir;
}

TEST(SearchPath, TheFirstDirectoryThatHoldsTheModuleWins) {
  const std::string path = std::string(ATTNREG_TEST_FIRST_PLUGIN_DIR) + ":" + test::kPluginDir;
  ::setenv("ATTNREG_PLUGIN_PATH", path.c_str(), 1);
  EXPECT_EQ(resolve_class("testplug.shadowed.Alpha").get_name(), "TESTPLUG_ALPHA_FIRST");
  ::unsetenv("ATTNREG_PLUGIN_PATH");
}

TEST(SearchPath, PluginPathSetAfterStartUpIsHonoured) {
  ::unsetenv("ATTNREG_PLUGIN_PATH");
  EXPECT_THROW(resolve_class("testplug.late.Alpha"), ModuleNotFoundError);
  test::use_test_plugins();
  EXPECT_EQ(resolve_class("testplug.late.Alpha").get_name(), "TESTPLUG_ALPHA");
  // Loaded plugins stay loaded when the path changes again.
  ::unsetenv("ATTNREG_PLUGIN_PATH");
  EXPECT_EQ(resolve_class("testplug.late.Beta").get_name(), "TESTPLUG_BETA");
}

}  // namespace
}  // namespace attnreg
