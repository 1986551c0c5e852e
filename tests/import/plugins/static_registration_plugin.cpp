// A plugin that registers a class from a static initialiser (as
// ATTNREG_REGISTER_BACKEND does), i.e. while dlopen runs, and whose init fails
// until TESTPLUG_STATIC_ALLOW is set. dlopen runs static initialisers only
// once, so the loader must keep the registration of a refused load for the
// retry.
#include <attnreg/classes.hpp>
#include <attnreg/plugin.hpp>

#include <cstdlib>
#include <stdexcept>

namespace {

class Registered final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "TESTPLUG_STATICALLY_REGISTERED"; }
};

const bool registered = [] {
  attnreg::register_class<Registered>("testplug.static_registration.Registered");
  return true;
}();

}  // namespace

ATTNREG_PLUGIN(m) {
  (void)m;
  if (std::getenv("TESTPLUG_STATIC_ALLOW") == nullptr)
    throw std::runtime_error("TESTPLUG_STATIC_ALLOW is not set");
}
