// consumer <plugin dir> <attnreg install prefix>
// Loads consumer.greeter.GreeterBackend from <plugin dir> through the
// installed attnreg and checks what it sees. Exit status 0 only when all is
// as expected; each failed check prints what was expected.
#include <attnreg/classes.hpp>
#include <attnreg/errors.hpp>
#include <attnreg/registry.hpp>
#include <attnreg/version.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "consumer: FAILED: " << what << "\n";
    ++failures;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: consumer <plugin dir> <attnreg install prefix>\n";
    return 2;
  }
  const std::string plugin_dir = argv[1], prefix = argv[2];
  // The library this program runs with must be the installed one.
  check(attnreg::plugin_install_dir().rfind(prefix, 0) == 0,
        "plugin_install_dir() '" + attnreg::plugin_install_dir() + "' should lie under the prefix '" +
            prefix + "'");
  check(attnreg::abi_version() == ATTNREG_ABI_VERSION,
        "the installed core and headers should agree on the ABI");

  // Backends installed as plugins load from the install's plugin directory
  // with no setting, through the registry's default paths.
  ::unsetenv("ATTNREG_PLUGIN_PATH");
  int installed = 0;
  for (const auto backend : attnreg::AttentionBackendEnum::members()) {
    const std::string path(backend.value());
    if (path.empty()) continue;
    std::string rel = path.substr(0, path.rfind('.'));
    std::replace(rel.begin(), rel.end(), '.', '/');
    if (!std::filesystem::exists(attnreg::plugin_install_dir() + "/" + rel + ".so")) continue;
    ++installed;
    try {
      backend.get_class();
    } catch (const attnreg::Error& e) {
      check(false, "installed backend " + std::string(backend.name()) + " should load: " + e.what());
    }
  }
  std::cout << "consumer: " << installed << " installed backend plugin(s) checked\n";

  ::setenv("ATTNREG_PLUGIN_PATH", plugin_dir.c_str(), 1);
  try {
    const attnreg::AttentionBackend& greeter = attnreg::resolve_class("consumer.greeter.GreeterBackend");
    check(greeter.get_name() == "GREETER",
          "get_name() should be GREETER, got " + std::string(greeter.get_name()));
    check(greeter.supported_head_sizes() == std::vector<int>{64, 128}, "head sizes should be {64, 128}");
  } catch (const attnreg::Error& e) {
    check(false, std::string("resolving the plugin threw: ") + e.what());
  }
  const auto modules = attnreg::available_modules();
  check(std::find(modules.begin(), modules.end(), "consumer.greeter") != modules.end(),
        "available_modules() should list consumer.greeter");
  try {
    attnreg::resolve_class("consumer.absent.Nothing");
    check(false, "an absent module should throw ModuleNotFoundError");
  } catch (const attnreg::ModuleNotFoundError& e) {
    check(std::string(e.what()).find(plugin_dir) != std::string::npos,
          std::string("the error should name the plugin dir: ") + e.what());
  }
  if (failures == 0) std::cout << "consumer: OK (plugin loaded through the installed attnreg)\n";
  return failures == 0 ? 0 : 1;
}
