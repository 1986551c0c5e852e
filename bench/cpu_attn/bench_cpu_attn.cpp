// bench_cpu_attn: CPU_ATTN throughput on the target shapes (bf16, GQA 32/8,
// head 128, block 16), as a fraction of this machine's measured floor.
//
//   decode/B/L:  B requests of one new token each over L cached tokens;
//                memory-bound, reported against the read bandwidth.
//   decode_head_major/B/L: the same over a cache laid out one KV head per
//                block ("HND") and passed as a strided view.
//   prefill/N:   one causal request of N new tokens and no history;
//                compute-bound, reported against the fp32 FMA peak.
//
// Counters: bytes_per_second (KV bytes read, plus query/output), FLOP/s
// (4 * D * H per visible query-key pair: QK^T and PV, 2 FLOP per FMA),
// bw_frac / peak_frac (fractions of the floor measured at start-up).
//
// Decode also gets a matched floor: the same read-bandwidth measurement
// (256 MiB, best of 5 passes, as many threads as OpenMP uses) right before
// and right after its timed loop. floor_before_gbs / floor_after_gbs are the
// two, matched_frac is the decode's bytes/s over their mean: the fraction of
// what the memory side gave at that moment. The VM's bandwidth moves with its
// neighbours (36-91 GB/s in one afternoon), so the start-up floor of a
// minute-long sweep says little about a case near its end. Run with
//   --benchmark_repetitions=N --benchmark_enable_random_interleaving=true
// for N rounds in shuffled order (torch_peer.py does); batches are built once
// per shape and kept, so rounds cost no set-up. The matched floor does not
// cover CPU contention (another process on a core slows the decode, not the
// memory), so decode reports the process's CPU time: a round whose CPU time
// is well below omp_threads x wall time shared its cores, and the scripts
// drop it.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <attnreg/machine_floor.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <tuple>
#include <utility>

#include "bench_layer.hpp"
#include "cpu_attn_backend.hpp"
#include "kernels/attention_kernel.hpp"

namespace {

using namespace attnreg;

using bench::kHeads, bench::kHeadSize, bench::kKvHeads;
perf::MachineFloor g_floor;
std::unique_ptr<perf::ReadBandwidthProbe> g_probe;  // the matched floor of decode cases

/// A shape's batch and impl, built on first use and kept for later rounds.
struct Case {
  SyntheticBatch batch;
  std::unique_ptr<AttentionImpl> impl;
  explicit Case(const BatchSpec& s)
      : batch(s), impl(cpu_attn::CPUAttentionBackend().make_impl(batch.params())) {}
  void forward() {
    impl->forward(batch.query(), batch.key(), batch.value(), batch.kv_cache(), batch.metadata(),
                  batch.output());
  }
};

Case& get_case(std::vector<int> context, std::vector<int> query, bool head_major_cache = false) {
  static std::map<std::tuple<std::vector<int>, std::vector<int>, bool>, std::unique_ptr<Case>> cases;
  auto& c = cases[{context, query, head_major_cache}];
  if (!c) {
    BatchSpec spec = bench::layer_spec(std::move(context), std::move(query));
    spec.head_major_cache = head_major_cache;
    c = std::make_unique<Case>(spec);
  }
  return *c;
}

/// Times c.forward(); with matched_floor, measures the read bandwidth right
/// before and after the timed loop and reports the case against their mean.
void run(benchmark::State& state, Case& c, double bytes, double flops, bool matched_floor) {
  c.forward();
  const double before = matched_floor ? g_probe->measure_gbs() : 0.0;
  for (auto _ : state) {
    c.forward();
    benchmark::ClobberMemory();
  }
  using benchmark::Counter;
  if (matched_floor) {
    const double after = g_probe->measure_gbs();
    state.counters["floor_before_gbs"] = before;
    state.counters["floor_after_gbs"] = after;
    state.counters["matched_frac"] =
        Counter(bytes / ((before + after) / 2 * 1e9), Counter::kIsIterationInvariantRate);
  }
  state.counters["bytes_per_second"] = Counter(bytes, Counter::kIsIterationInvariantRate);
  state.counters["FLOP/s"] = Counter(flops, Counter::kIsIterationInvariantRate);
  state.counters["bw_frac"] =
      Counter(bytes / (g_floor.read_bandwidth_gbs * 1e9), Counter::kIsIterationInvariantRate);
  state.counters["peak_frac"] =
      Counter(flops / (g_floor.fma_peak_gflops * 1e9), Counter::kIsIterationInvariantRate);
}

void decode(benchmark::State& state, bool head_major_cache) {
  const auto batch_size = static_cast<int>(state.range(0));
  const auto context = static_cast<int>(state.range(1));
  Case& c =
      get_case(std::vector<int>(batch_size, context - 1), std::vector<int>(batch_size, 1), head_major_cache);
  const double pairs = static_cast<double>(batch_size) * context;
  run(state, c, bench::decode_bytes(batch_size, context), 4.0 * pairs * kHeads * kHeadSize, true);
}

void BM_Decode(benchmark::State& state) { decode(state, false); }

/// The same decode over a cache whose blocks hold one KV head's rows together
/// ("HND", vLLM's CPU_ATTN page layout), passed as a strided view.
void BM_DecodeHeadMajor(benchmark::State& state) { decode(state, true); }

void BM_Prefill(benchmark::State& state) {
  const auto tokens = static_cast<int>(state.range(0));
  Case& c = get_case({0}, {tokens});
  const double pairs = static_cast<double>(tokens) * (tokens + 1) / 2;  // causal
  const double bytes = static_cast<double>(tokens) * kHeadSize * 2 * (2.0 * kHeads + 2.0 * kKvHeads);
  run(state, c, bytes, 4.0 * pairs * kHeads * kHeadSize, false);
}

// Decode sweep: batch 1-32 x context 1k-32k, capped at 128k cached tokens
// (512 MiB of bf16 cache) per shape; the whole sweep keeps ~2 GiB of batches.
void decode_args(benchmark::internal::Benchmark* b) {
  for (int batch : {1, 4, 16, 32})
    for (int context : {1024, 4096, 16384, 32768})
      if (static_cast<long>(batch) * context <= 131072) b->Args({batch, context});
}

// 0.3 s per round: long enough for 25+ calls of the slowest shape, short
// enough that the floors either side of it are measured close together.
BENCHMARK(BM_Decode)
    ->Apply(decode_args)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime()
    ->MinTime(0.3);
BENCHMARK(BM_DecodeHeadMajor)
    ->Args({1, 16384})
    ->Args({4, 4096})
    ->Args({16, 1024})
    ->Args({32, 4096})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime()
    ->MinTime(0.3);
BENCHMARK(BM_Prefill)
    ->Arg(1024)
    ->Arg(2048)
    ->Arg(4096)
    ->Arg(8192)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  g_floor = perf::measure_machine_floor();
  perf::MachineFloorOptions probe_options;
  probe_options.num_threads = omp_get_max_threads();  // the decode's threads
  g_probe = std::make_unique<perf::ReadBandwidthProbe>(probe_options);
  std::fprintf(stderr, "machine floor: %s\nkernel target: %s, %d OpenMP threads\n",
               perf::to_string(g_floor).c_str(), cpu_attn::dispatched_target(), omp_get_max_threads());
  benchmark::AddCustomContext("floor_read_gbs", std::to_string(g_floor.read_bandwidth_gbs));
  benchmark::AddCustomContext("floor_fma_gflops", std::to_string(g_floor.fma_peak_gflops));
  benchmark::AddCustomContext("floor_simd", g_floor.simd_target);
  benchmark::AddCustomContext("omp_threads", std::to_string(omp_get_max_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
