// Helpers shared by the import tests.
#pragma once

#include <attnreg/classes.hpp>
#include <attnreg/errors.hpp>
#include <attnreg/plugin.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <typeinfo>
#include <vector>

namespace attnreg::test {

/// The directory of the test plugins (testplug/*.so).
inline const std::string kPluginDir = ATTNREG_TEST_PLUGIN_DIR;

/// "<kPluginDir>/testplug/<name>.so"
inline std::string plugin_file(const std::string& name) { return kPluginDir + "/testplug/" + name + ".so"; }

/// Puts the test plugin directory (alone) on ATTNREG_PLUGIN_PATH.
inline void use_test_plugins() { ::setenv("ATTNREG_PLUGIN_PATH", kPluginDir.c_str(), 1); }

/// Runs fn, which must throw exactly E (not a subclass), and returns the message.
template <class E, class Fn>
std::string message_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    EXPECT_EQ(typeid(e), typeid(E)) << "threw " << typeid(e).name() << ": " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no exception thrown, expected " << typeid(E).name();
  return {};
}

/// Everything a failed import must leave as it was.
struct ImportSnapshot {
  std::vector<std::string> classes = known_class_paths();
  std::vector<std::string> modules = available_modules();
  friend bool operator==(const ImportSnapshot&, const ImportSnapshot&) = default;
};

}  // namespace attnreg::test
