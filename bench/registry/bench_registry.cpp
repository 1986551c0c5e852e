// Registry micro-benchmarks: the hot reads (from_name, get_path, get_class)
// and the writes (register + clear), also with readers under a concurrent
// writer. Names mirror vllm_registry_bench.py's measurements of vLLM.
#include <benchmark/benchmark.h>

#include <atomic>
#include <attnreg/errors.hpp>
#include <attnreg/legacy.hpp>
#include <attnreg/registry.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

using attnreg::AttentionBackendEnum;

class BenchBackend final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "BENCH"; }
};

constexpr const char* kBenchPath = "bench_registry.dummy.BenchBackend";

void setup_custom() {
  attnreg::register_class<BenchBackend>(kBenchPath);
  attnreg::register_backend(AttentionBackendEnum::CUSTOM, kBenchPath);
  benchmark::DoNotOptimize(&AttentionBackendEnum::CUSTOM.get_class());  // resolve once: the cached case
}

// Enum[name] for one fixed name (a typical config string).
void BM_FromName(benchmark::State& state) {
  const std::string name = "FLASH_ATTN";
  for (auto _ : state) benchmark::DoNotOptimize(AttentionBackendEnum::from_name(name));
}
BENCHMARK(BM_FromName);

// Enum[name] cycling through every member's name (defeats branch prediction).
void BM_FromNameAllMembers(benchmark::State& state) {
  std::vector<std::string> names;
  for (auto m : AttentionBackendEnum::members()) names.emplace_back(m.name());
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(AttentionBackendEnum::from_name(names[i]));
    if (++i == names.size()) i = 0;
  }
}
BENCHMARK(BM_FromNameAllMembers);

// Baseline for the design choice: the same lookups as BM_FromNameAllMembers
// by a linear scan of the names (what from_name would cost without its
// compile-time perfect hash).
void BM_FromNameLinearScanBaseline(benchmark::State& state) {
  std::vector<std::string> names;
  for (auto m : AttentionBackendEnum::members()) names.emplace_back(m.name());
  const auto members = AttentionBackendEnum::members();
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string_view wanted = names[i];
    auto it = members.begin();
    while (it != members.end() && it->name() != wanted) ++it;
    benchmark::DoNotOptimize(it);
    if (++i == names.size()) i = 0;
  }
}
BENCHMARK(BM_FromNameLinearScanBaseline);

// The error path: an unknown name builds the full message with did-you-mean.
void BM_FromNameUnknown(benchmark::State& state) {
  for (auto _ : state) {
    try {
      AttentionBackendEnum::from_name("flash_atn");
    } catch (const attnreg::ValueError& e) {
      benchmark::DoNotOptimize(e.what());
    }
  }
}
BENCHMARK(BM_FromNameUnknown);

void BM_GetPathDefault(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(AttentionBackendEnum::FLASH_ATTN.get_path());
}
BENCHMARK(BM_GetPathDefault);

void BM_GetPathOverridden(benchmark::State& state) {
  setup_custom();
  for (auto _ : state) benchmark::DoNotOptimize(AttentionBackendEnum::CUSTOM.get_path());
}
BENCHMARK(BM_GetPathOverridden);

// get_class on a resolved class: the steady state of backend selection.
void BM_GetClassResolved(benchmark::State& state) {
  setup_custom();
  for (auto _ : state) benchmark::DoNotOptimize(&AttentionBackendEnum::CUSTOM.get_class());
}
BENCHMARK(BM_GetClassResolved);

void BM_RegisterAndClear(benchmark::State& state) {
  setup_custom();
  for (auto _ : state) {
    attnreg::register_backend(AttentionBackendEnum::FLASH_ATTN, kBenchPath);
    AttentionBackendEnum::FLASH_ATTN.clear_override();
  }
}
BENCHMARK(BM_RegisterAndClear);

// get_class while another thread keeps registering and clearing overrides of
// the same member (a reader never waits: both paths resolve to cached classes).
void BM_GetClassUnderConcurrentWriter(benchmark::State& state) {
  setup_custom();
  attnreg::register_class<BenchBackend>("bench_registry.other.BenchBackend");
  (void)attnreg::resolve_class("bench_registry.other.BenchBackend");
  std::atomic<bool> stop{false};
  std::atomic<long> writes{0};
  std::thread writer([&] {
    long n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      attnreg::register_backend(AttentionBackendEnum::CUSTOM, "bench_registry.other.BenchBackend");
      attnreg::register_backend(AttentionBackendEnum::CUSTOM, kBenchPath);
      n += 2;
    }
    writes = n;
  });
  for (auto _ : state) benchmark::DoNotOptimize(&AttentionBackendEnum::CUSTOM.get_class());
  stop = true;
  writer.join();
  state.counters["writer_ops"] = benchmark::Counter(static_cast<double>(writes.load()));
}
BENCHMARK(BM_GetClassUnderConcurrentWriter)->UseRealTime();

void BM_LegacyBackendNameToEnum(benchmark::State& state) {
  const std::string name = "FLASH_ATTN_VLLM_V1";
  for (auto _ : state) benchmark::DoNotOptimize(attnreg::legacy::backend_name_to_enum(name));
}
BENCHMARK(BM_LegacyBackendNameToEnum);

}  // namespace

BENCHMARK_MAIN();
