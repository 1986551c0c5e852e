// Concurrent resolution: many threads asking for one plugin's classes at once
// load it once and all get the same objects; readers see a rebound path whole;
// a registration's constructor does not hold up a lookup.
#include "test_support.hpp"

#include <atomic>
#include <chrono>
#include <thread>

namespace attnreg {
namespace {

TEST(Threads, ConcurrentResolutionLoadsAPluginOnce) {
  test::use_test_plugins();
  constexpr int kThreads = 8;
  std::atomic<int> ready{0};
  std::vector<const AttentionBackend*> seen(kThreads, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();  // start together
      seen[t] = &resolve_class(t % 2 ? "testplug.threaded.Alpha" : "testplug.threaded.InitCounter");
    });
  for (auto& th : threads) th.join();
  for (int t = 2; t < kThreads; ++t) EXPECT_EQ(seen[t], seen[t % 2]);
  EXPECT_EQ(seen[1]->get_name(), "TESTPLUG_ALPHA");
  EXPECT_EQ(seen[0]->supported_head_sizes(), std::vector<int>{1});
}

class Old final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "OLD"; }
};

class New final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "NEW"; }
};

TEST(Threads, ReadersSeeTheOldOrTheNewClassWhileAPathIsRebound) {
  register_class<Old>("inproc.threads.Klass");
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t)
    readers.emplace_back([&] {
      while (!stop.load()) {
        const auto name = resolve_class("inproc.threads.Klass").get_name();
        if (name != "OLD" && name != "NEW") torn.fetch_add(1);
      }
    });
  for (int i = 0; i < 200; ++i) {
    register_class<New>("inproc.threads.Klass");
    register_class<Old>("inproc.threads.Klass");
  }
  register_class<New>("inproc.threads.Klass");
  stop.store(true);
  for (auto& th : readers) th.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(resolve_class("inproc.threads.Klass").get_name(), "NEW");
}

std::atomic<bool> g_constructing{false}, g_released{false}, g_gave_up{false};

/// Its constructor holds until the test releases it (or gives up after 10 s),
/// so a registration of it stays in progress while another thread looks up.
class SlowToConstruct final : public AttentionBackend {
 public:
  SlowToConstruct() {
    g_constructing.store(true);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!g_released.load())
      if (std::chrono::steady_clock::now() > deadline) {
        g_gave_up.store(true);
        return;
      }
  }
  std::string_view get_name() const override { return "SLOW"; }
};

TEST(Threads, ALookupDoesNotWaitForAClassBeingConstructed) {
  test::use_test_plugins();
  // register_class is what the decorator form of register_backend runs.
  std::thread registrar([] { register_class<SlowToConstruct>("inproc.threads.Slow"); });
  while (!g_constructing.load()) std::this_thread::yield();
  // Loading a plugin takes the import lock, which the constructor must not hold.
  EXPECT_EQ(resolve_class("testplug.concurrent.Alpha").get_name(), "TESTPLUG_ALPHA");
  g_released.store(true);
  registrar.join();
  EXPECT_FALSE(g_gave_up.load()) << "the lookup waited for the constructor";
  EXPECT_EQ(resolve_class("inproc.threads.Slow").get_name(), "SLOW");
}

}  // namespace
}  // namespace attnreg
