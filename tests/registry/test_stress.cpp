// Concurrency: writers registering and clearing while readers read. Run under
// ThreadSanitizer in CI (ctest -R RegistryStress) to prove the publication is
// race-free; the assertions prove readers never see a torn or foreign path.
#include <array>
#include <atomic>
#include <latch>
#include <set>
#include <thread>
#include <vector>

#include "registry_test_support.hpp"

namespace attnreg {
namespace {

using test::CleanRegistry;
using RegistryStress = CleanRegistry;

class StressA final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "STRESS_A"; }
};
class StressB final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "STRESS_B"; }
};

constexpr std::array<const char*, 2> kPaths = {"registry_stress.a.StressBackendA",
                                               "registry_stress.b.StressBackendB"};
constexpr int kWriters = 3, kReaders = 3, kWrites = 20000, kMinReads = 20000;

TEST_F(RegistryStress, ReadersSeeWholePathsWhileWritersRegisterAndClear) {
  register_class<StressA>(kPaths[0]);
  register_class<StressB>(kPaths[1]);
  const std::string flash_default(AttentionBackendEnum::FLASH_ATTN.value());
  const std::set<std::string> allowed_flash = {flash_default, kPaths[0], kPaths[1]};

  std::latch start(kWriters + kReaders);  // all threads run together, not one after another
  std::atomic<int> writers_left{kWriters};
  std::atomic<long> bad{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w)
    threads.emplace_back([&, w] {
      start.arrive_and_wait();
      for (int i = 0; i < kWrites; ++i) {
        const char* path = kPaths[(i + w) % 2];
        switch (i % 4) {
          case 0:
            register_backend(AttentionBackendEnum::FLASH_ATTN, path);
            break;
          case 1:
            register_backend(AttentionBackendEnum::CUSTOM, path);
            break;
          case 2:
            AttentionBackendEnum::FLASH_ATTN.clear_override();
            break;
          default:
            register_backend(MambaAttentionBackendEnum::CUSTOM, path);
            break;
        }
        if (i % 512 == 0) legacy::register_backend(legacy::Backend::IPEX, path);
      }
      writers_left.fetch_sub(1, std::memory_order_release);
    });
  for (int r = 0; r < kReaders; ++r)
    threads.emplace_back([&] {
      long local_reads = 0, local_bad = 0;
      start.arrive_and_wait();
      while (writers_left.load(std::memory_order_acquire) > 0 || local_reads < kMinReads) {
        if (!allowed_flash.contains(AttentionBackendEnum::FLASH_ATTN.get_path())) ++local_bad;
        (void)AttentionBackendEnum::FLASH_ATTN.is_overridden();
        if (AttentionBackendEnum::CUSTOM.is_overridden()) {
          // Once set, CUSTOM is only ever overwritten: it always resolves.
          const std::string_view name = AttentionBackendEnum::CUSTOM.get_class().get_name();
          if (name != "STRESS_A" && name != "STRESS_B") ++local_bad;
          const std::string module = AttentionBackendEnum::CUSTOM.get_path(false);
          if (module != "registry_stress.a" && module != "registry_stress.b") ++local_bad;
        }
        if (MambaAttentionBackendEnum::CUSTOM.is_overridden()) {
          const std::string_view name = MambaAttentionBackendEnum::CUSTOM.get_class().get_name();
          if (name != "STRESS_A" && name != "STRESS_B") ++local_bad;
        }
        if (const auto p = legacy::BACKEND_MAPPING.get(legacy::Backend::IPEX))
          if (*p != kPaths[0] && *p != kPaths[1]) ++local_bad;
        ++local_reads;
      }
      bad += local_bad;
    });
  for (auto& t : threads) t.join();

  EXPECT_EQ(bad.load(), 0);
  // After the writers, each member holds one of the written paths.
  EXPECT_TRUE(AttentionBackendEnum::CUSTOM.is_overridden());
  EXPECT_TRUE(allowed_flash.contains(AttentionBackendEnum::FLASH_ATTN.get_path()));
  EXPECT_EQ(
      std::set<std::string>(kPaths.begin(), kPaths.end()).count(MambaAttentionBackendEnum::CUSTOM.get_path()),
      1u);
}

}  // namespace
}  // namespace attnreg
