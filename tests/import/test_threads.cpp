// Concurrent resolution: many threads asking for one plugin's classes at once
// load it once and all get the same objects.
#include "test_support.hpp"

#include <atomic>
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

}  // namespace
}  // namespace attnreg
