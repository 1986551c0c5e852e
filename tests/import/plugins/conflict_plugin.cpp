// A plugin that, besides its own class, claims testplug.good.Alpha (which the
// testplug.good plugin provides) through register_class from its init.
#include <attnreg/classes.hpp>
#include <attnreg/plugin.hpp>

namespace {

class Own final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "TESTPLUG_CONFLICT_OWN"; }
};

class Impostor final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "TESTPLUG_IMPOSTOR"; }
};

}  // namespace

ATTNREG_PLUGIN(m) {
  m.add_class<Own>("Own");
  attnreg::register_class<Impostor>("testplug.good.Alpha");
}
