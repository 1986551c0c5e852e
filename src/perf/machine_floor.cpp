// The machine floor (attnreg/machine_floor.hpp): Highway kernels compiled for
// every x86 target and dispatched at run time, driven by std::thread so the
// core library needs no OpenMP.

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "perf/machine_floor.cpp"
#include <hwy/foreach_target.h>
#include <hwy/highway.h>
// clang-format on

#include <cstddef>
#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace attnreg::perf::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// Sum of n floats at p (n a multiple of 4 vectors, p vector-aligned). Four
/// accumulators keep the adds off the critical path so only memory limits it.
float SumSlice(const float* HWY_RESTRICT p, std::size_t n) {
  const hn::ScalableTag<float> d;
  const std::size_t N = hn::Lanes(d);
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  for (std::size_t i = 0; i < n; i += 4 * N) {
    a0 = hn::Add(a0, hn::Load(d, p + i));
    a1 = hn::Add(a1, hn::Load(d, p + i + N));
    a2 = hn::Add(a2, hn::Load(d, p + i + 2 * N));
    a3 = hn::Add(a3, hn::Load(d, p + i + 3 * N));
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3))));
}

/// Runs `iterations` rounds of 12 independent FMAs (12 covers 2 FMA pipes x
/// 4-5 cycles latency on current x86 cores) and returns a value depending on
/// all of them so the compiler keeps the work.
float FmaLoop(std::size_t iterations, float seed) {
  const hn::ScalableTag<float> d;
  const auto m = hn::Set(d, 0.999999f);
  const auto c = hn::Set(d, 1e-7f);
  auto a0 = hn::Set(d, seed), a1 = hn::Set(d, seed + 1), a2 = hn::Set(d, seed + 2), a3 = hn::Set(d, seed + 3);
  auto a4 = hn::Set(d, seed + 4), a5 = hn::Set(d, seed + 5), a6 = hn::Set(d, seed + 6),
       a7 = hn::Set(d, seed + 7);
  auto a8 = hn::Set(d, seed + 8), a9 = hn::Set(d, seed + 9), a10 = hn::Set(d, seed + 10);
  auto a11 = hn::Set(d, seed + 11);
  for (std::size_t i = 0; i < iterations; ++i) {
    a0 = hn::MulAdd(a0, m, c);
    a1 = hn::MulAdd(a1, m, c);
    a2 = hn::MulAdd(a2, m, c);
    a3 = hn::MulAdd(a3, m, c);
    a4 = hn::MulAdd(a4, m, c);
    a5 = hn::MulAdd(a5, m, c);
    a6 = hn::MulAdd(a6, m, c);
    a7 = hn::MulAdd(a7, m, c);
    a8 = hn::MulAdd(a8, m, c);
    a9 = hn::MulAdd(a9, m, c);
    a10 = hn::MulAdd(a10, m, c);
    a11 = hn::MulAdd(a11, m, c);
  }
  const auto s = hn::Add(
      hn::Add(hn::Add(a0, a1), hn::Add(a2, a3)),
      hn::Add(hn::Add(hn::Add(a4, a5), hn::Add(a6, a7)), hn::Add(hn::Add(a8, a9), hn::Add(a10, a11))));
  return hn::GetLane(hn::SumOfLanes(d, s));
}

/// fp32 lanes per vector of this target.
int LanesF32() { return static_cast<int>(hn::Lanes(hn::ScalableTag<float>())); }

/// This target's Highway bit, so the caller can name what was dispatched.
std::int64_t TargetBit() { return HWY_TARGET; }

/// FMAs per iteration of FmaLoop (kept next to it).
int FmasPerIteration() { return 12; }

}  // namespace attnreg::perf::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <fmt/format.h>
#include <hwy/aligned_allocator.h>
#include <hwy/targets.h>

#include <algorithm>
#include <attnreg/errors.hpp>
#include <attnreg/machine_floor.hpp>
#include <chrono>
#include <thread>
#include <vector>

namespace attnreg::perf {
HWY_EXPORT(SumSlice);
HWY_EXPORT(FmaLoop);
HWY_EXPORT(LanesF32);
HWY_EXPORT(FmasPerIteration);
HWY_EXPORT(TargetBit);

namespace {

using Clock = std::chrono::steady_clock;

/// Runs body(thread_index) on `threads` threads and returns the wall time in seconds.
template <class Body>
double timed_parallel(int threads, Body body) {
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) pool.emplace_back(body, t);
  for (auto& th : pool) th.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// The options the read measurement uses (the probe's and the floor's).
void validate_read(const MachineFloorOptions& o) {
  if (o.buffer_bytes < (std::size_t{1} << 20))
    throw ValueError(
        fmt::format("machine floor: buffer_bytes is {}; expected at least 1 MiB (1048576), "
                    "and much more than the last-level cache for a meaningful figure",
                    o.buffer_bytes));
  if (o.num_threads < 0)
    throw ValueError(fmt::format(
        "machine floor: num_threads is {}; expected 0 (all hardware threads) or more", o.num_threads));
  if (o.repetitions < 1)
    throw ValueError(fmt::format("machine floor: repetitions is {}; expected at least 1", o.repetitions));
}

int resolve_threads(const MachineFloorOptions& o) {
  return o.num_threads > 0 ? o.num_threads
                           : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

struct ReadBandwidthProbe::State {
  int threads = 0;
  int repetitions = 0;
  std::size_t slice = 0;  ///< floats per thread
  hwy::AlignedFreeUniquePtr<float[]> buffer;
  std::vector<float> sums;  ///< per thread, so the compiler keeps the reads
};

ReadBandwidthProbe::ReadBandwidthProbe(const MachineFloorOptions& options)
    : state_(std::make_unique<State>()) {
  validate_read(options);
  State& st = *state_;
  st.threads = resolve_threads(options);
  st.repetitions = options.repetitions;
  const std::size_t chunk = 64 * static_cast<std::size_t>(HWY_DYNAMIC_DISPATCH(LanesF32)());  // aligns slices
  const std::size_t total =
      options.buffer_bytes / sizeof(float) / (chunk * st.threads) * (chunk * st.threads);
  st.buffer = hwy::AllocateAligned<float>(total);
  st.slice = total / static_cast<std::size_t>(st.threads);
  st.sums.resize(static_cast<std::size_t>(st.threads));
  // Each thread touches its slice first, so pages live where they are read.
  timed_parallel(st.threads, [&](int t) {
    std::fill_n(st.buffer.get() + st.slice * t, st.slice, 1.0f / static_cast<float>(t + 1));
  });
}

ReadBandwidthProbe::~ReadBandwidthProbe() = default;

double ReadBandwidthProbe::measure_gbs() {
  State& st = *state_;
  double best = 1e300;
  for (int rep = 0; rep < st.repetitions; ++rep) {
    best = std::min(best, timed_parallel(st.threads, [&](int t) {
                      st.sums[t] += HWY_DYNAMIC_DISPATCH(SumSlice)(st.buffer.get() + st.slice * t, st.slice);
                    }));
  }
  return static_cast<double>(buffer_bytes()) / best / 1e9;
}

int ReadBandwidthProbe::num_threads() const { return state_->threads; }

std::size_t ReadBandwidthProbe::buffer_bytes() const {
  return state_->slice * static_cast<std::size_t>(state_->threads) * sizeof(float);
}

MachineFloor measure_machine_floor(const MachineFloorOptions& options) {
  validate_read(options);
  if (options.fma_iterations < 1)
    throw ValueError(
        fmt::format("machine floor: fma_iterations is {}; expected at least 1", options.fma_iterations));
  MachineFloor floor;
  floor.num_threads = resolve_threads(options);
  floor.simd_target = hwy::TargetName(HWY_DYNAMIC_DISPATCH(TargetBit)());
  floor.vector_lanes_f32 = HWY_DYNAMIC_DISPATCH(LanesF32)();
  const int threads = floor.num_threads;

  {  // ---- read bandwidth (the buffer is freed before the FMA loop) ----
    ReadBandwidthProbe probe(options);
    floor.read_bandwidth_gbs = probe.measure_gbs();
    floor.buffer_bytes = probe.buffer_bytes();
  }

  // ---- fp32 FMA peak ----
  std::vector<float> sums(static_cast<std::size_t>(threads));  // results kept so the loops stay
  double best_fma = 1e300;
  for (int rep = 0; rep < options.repetitions; ++rep) {
    best_fma = std::min(best_fma, timed_parallel(threads, [&](int t) {
                          sums[t] += HWY_DYNAMIC_DISPATCH(FmaLoop)(options.fma_iterations, sums[t]);
                        }));
  }
  const double flops = 2.0 * floor.vector_lanes_f32 * HWY_DYNAMIC_DISPATCH(FmasPerIteration)() *
                       static_cast<double>(options.fma_iterations) * threads;
  floor.fma_peak_gflops = flops / best_fma / 1e9;
  return floor;
}

std::string to_string(const MachineFloor& floor) {
  return fmt::format(
      "read {:.1f} GB/s, fp32 FMA {:.1f} GFLOP/s ({}, {} fp32 lanes, {} threads, {} MiB buffer)",
      floor.read_bandwidth_gbs, floor.fma_peak_gflops, floor.simd_target, floor.vector_lanes_f32,
      floor.num_threads, floor.buffer_bytes >> 20);
}

}  // namespace attnreg::perf
#endif  // HWY_ONCE
