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

}  // namespace
}  // namespace attnreg
