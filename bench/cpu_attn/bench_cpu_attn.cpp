// bench_cpu_attn: CPU_ATTN throughput on the target shapes (bf16, GQA 32/8,
// head 128, block 16), as a fraction of this machine's measured floor.
//
//   decode/B/L:  B requests of one new token each over L cached tokens;
//                memory-bound, reported against the read bandwidth.
//   prefill/N:   one causal request of N new tokens and no history;
//                compute-bound, reported against the fp32 FMA peak.
//
// Counters: bytes_per_second (KV bytes read, plus query/output), FLOP/s
// (4 * D * H per visible query-key pair: QK^T and PV, 2 FLOP per FMA),
// bw_frac / peak_frac (fractions of the floor measured at start-up).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <attnreg/machine_floor.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <cstdio>
#include <memory>

#include "cpu_attn_backend.hpp"
#include "kernels/attention_kernel.hpp"

namespace {

using namespace attnreg;

constexpr int kHeads = 32, kKvHeads = 8, kHeadSize = 128, kBlockSize = 16;
perf::MachineFloor g_floor;

BatchSpec spec(std::vector<int> context, std::vector<int> query) {
  BatchSpec s;
  s.context_lens = std::move(context);
  s.query_lens = std::move(query);
  s.num_heads = kHeads;
  s.num_kv_heads = kKvHeads;
  s.head_size = kHeadSize;
  s.block_size = kBlockSize;
  s.dtype = ScalarType::BFloat16;
  s.keep_initial_cache = false;  // no reference checks here; halves the memory
  s.seed = 1;
  return s;
}

void run(benchmark::State& state, SyntheticBatch& batch, double bytes, double flops) {
  const auto impl = cpu_attn::CPUAttentionBackend().make_impl(batch.params());
  impl->forward(batch.query(), batch.key(), batch.value(), batch.kv_cache(), batch.metadata(),
                batch.output());
  for (auto _ : state) {
    impl->forward(batch.query(), batch.key(), batch.value(), batch.kv_cache(), batch.metadata(),
                  batch.output());
    benchmark::ClobberMemory();
  }
  using benchmark::Counter;
  state.counters["bytes_per_second"] = Counter(bytes, Counter::kIsIterationInvariantRate);
  state.counters["FLOP/s"] = Counter(flops, Counter::kIsIterationInvariantRate);
  state.counters["bw_frac"] =
      Counter(bytes / (g_floor.read_bandwidth_gbs * 1e9), Counter::kIsIterationInvariantRate);
  state.counters["peak_frac"] =
      Counter(flops / (g_floor.fma_peak_gflops * 1e9), Counter::kIsIterationInvariantRate);
}

void BM_Decode(benchmark::State& state) {
  const auto batch_size = static_cast<int>(state.range(0));
  const auto context = static_cast<int>(state.range(1));
  SyntheticBatch batch(spec(std::vector<int>(batch_size, context - 1), std::vector<int>(batch_size, 1)));
  const double pairs = static_cast<double>(batch_size) * context;
  const double kv_bytes = pairs * kKvHeads * kHeadSize * 2 /*K,V*/ * 2 /*bf16*/;
  const double qo_bytes = 2.0 * batch_size * kHeads * kHeadSize * 2;
  run(state, batch, kv_bytes + qo_bytes, 4.0 * pairs * kHeads * kHeadSize);
}

void BM_Prefill(benchmark::State& state) {
  const auto tokens = static_cast<int>(state.range(0));
  SyntheticBatch batch(spec({0}, {tokens}));
  const double pairs = static_cast<double>(tokens) * (tokens + 1) / 2;  // causal
  const double bytes = static_cast<double>(tokens) * kHeadSize * 2 * (2.0 * kHeads + 2.0 * kKvHeads);
  run(state, batch, bytes, 4.0 * pairs * kHeads * kHeadSize);
}

// Decode sweep: batch 1-32 x context 1k-32k, capped at 128k cached tokens
// (512 MiB of bf16 cache) so the sweep fits a small VM next to other work.
void decode_args(benchmark::internal::Benchmark* b) {
  for (int batch : {1, 4, 16, 32})
    for (int context : {1024, 4096, 16384, 32768})
      if (static_cast<long>(batch) * context <= 131072) b->Args({batch, context});
}

BENCHMARK(BM_Decode)->Apply(decode_args)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
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
  std::fprintf(stderr, "machine floor: %s\nkernel target: %s, %d OpenMP threads\n",
               perf::to_string(g_floor).c_str(), cpu_attn::dispatched_target(), omp_get_max_threads());
  benchmark::AddCustomContext("floor_read_gbs", std::to_string(g_floor.read_bandwidth_gbs));
  benchmark::AddCustomContext("floor_fma_gflops", std::to_string(g_floor.fma_peak_gflops));
  benchmark::AddCustomContext("floor_simd", g_floor.simd_target);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
