// One source, three modules, for the loader's remaining refusals:
//   testplug.double_claim   adds class Twice and also register_class()es
//                           testplug.double_claim.Twice: claimed twice;
//   testplug.claims_inproc  claims inproc.claimed.Klass, which the test has
//                           registered in-process;
//   testplug.empty          adds nothing (a module without classes);
//   testplug.rebinding      register_class()es K as Twice, then as Other: the
//                           later registration wins, as outside a load.
#include <attnreg/classes.hpp>
#include <attnreg/plugin.hpp>

namespace {

class Twice final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "TESTPLUG_TWICE"; }
};

class Other final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "TESTPLUG_OTHER"; }
};

}  // namespace

ATTNREG_PLUGIN(m) {
  if (m.name() == "testplug.double_claim") {
    m.add_class<Twice>("Twice");
    attnreg::register_class<Other>("testplug.double_claim.Twice");
  } else if (m.name() == "testplug.claims_inproc") {
    m.add_class<Twice>("Own");
    attnreg::register_class<Other>("inproc.claimed.Klass");
  } else if (m.name() == "testplug.rebinding") {
    attnreg::register_class<Twice>("testplug.rebinding.K");
    attnreg::register_class<Other>("testplug.rebinding.K");
  }
}
