// A plugin whose init throws after adding a class: the loader must discard
// the class and report the message. As module testplug.flaky, the init
// succeeds once TESTPLUG_FLAKY_ALLOW is set, so a retry can be observed.
#include <attnreg/plugin.hpp>

#include <cstdlib>
#include <stdexcept>

namespace {

class Partial final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "TESTPLUG_PARTIAL"; }
};

}  // namespace

ATTNREG_PLUGIN(m) {
  m.add_class<Partial>("Partial");
  if (m.name() == "testplug.flaky" && std::getenv("TESTPLUG_FLAKY_ALLOW") != nullptr) return;
  throw std::runtime_error("testplug refuses to load: simulated init failure");
}
