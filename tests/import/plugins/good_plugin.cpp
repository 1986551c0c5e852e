// A well-behaved test plugin: two backend classes, plus InitCounter, whose
// supported_head_sizes() reports how many times this library's init ran (the
// loader must run it exactly once however many threads resolve the module).
#include <attnreg/plugin.hpp>

#include <atomic>

#ifndef TESTPLUG_ALPHA_NAME
#define TESTPLUG_ALPHA_NAME "TESTPLUG_ALPHA"  // another build of this file names it otherwise
#endif

namespace {

std::atomic<int> g_init_count{0};

class Alpha final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return TESTPLUG_ALPHA_NAME; }
};

class Beta final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "TESTPLUG_BETA"; }
};

class InitCounter final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "TESTPLUG_INIT_COUNTER"; }
  std::vector<int> supported_head_sizes() const override { return {g_init_count.load()}; }
};

}  // namespace

ATTNREG_PLUGIN(m) {
  g_init_count.fetch_add(1);
  m.add_class<Alpha>("Alpha");
  m.add_class<Beta>("Beta");
  m.add_class<InitCounter>("InitCounter");
}
