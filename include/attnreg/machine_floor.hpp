// attnreg/machine_floor.hpp: the performance floor of this machine, measured
// rather than looked up, so benchmark figures can be stated as a fraction of
// what the hardware actually delivers here (a VM's share of a socket differs
// from the datasheet).
//
//  - read bandwidth: a STREAM-like sum reduction over a buffer much larger than
//    the last-level cache, every thread reading its own contiguous slice;
//  - fp32 FMA peak: each thread runs independent vector fused multiply-adds
//    (enough accumulators to hide the FMA latency), counted as 2 FLOP per lane.
//
// Both use Highway's best target for this CPU (runtime dispatch), the same
// instruction set the CPU_ATTN kernels run with.
//
// A VM's share of DRAM bandwidth moves with its neighbours (36-91 GB/s within
// an hour on the 2-vCPU benchmark VM), so a floor measured once at start-up
// does not describe a case that runs a minute later. ReadBandwidthProbe keeps
// its buffer so the same read measurement can be repeated right before and
// after each benchmark case.
//
// Thread safety: measure_machine_floor() may be called from any thread; it
// starts its own threads and owns its buffer. Concurrent calls compete for
// the same cores and report lower figures. A ReadBandwidthProbe measures from
// one thread at a time.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace attnreg::perf {

/// How to measure.
struct MachineFloorOptions {
  /// Bytes of the read buffer; should be >> last-level cache (default 256 MiB; the L3 here is 32 MiB).
  std::size_t buffer_bytes = std::size_t{256} << 20;
  /// Threads for both measurements; 0 = std::thread::hardware_concurrency().
  int num_threads = 0;
  /// Timed passes per measurement; the best is kept (STREAM's convention).
  int repetitions = 5;
  /// FMA instructions per accumulator and thread per pass of the FMA peak.
  std::size_t fma_iterations = std::size_t{20} << 20;
};

/// Measured figures (decimal units: 1 GB/s = 1e9 bytes/s).
struct MachineFloor {
  double read_bandwidth_gbs = 0.0;  ///< best sum-reduction read bandwidth, all threads
  double fma_peak_gflops = 0.0;     ///< best fp32 FMA throughput, all threads (2 FLOP per lane)
  int num_threads = 0;              ///< threads used
  std::size_t buffer_bytes = 0;     ///< read buffer size used
  int vector_lanes_f32 = 0;         ///< fp32 lanes per vector of the target
  std::string simd_target;          ///< Highway's name of the dispatched target, e.g. "AVX2"
};

/// Runs both measurements (about a second with the defaults on a 2-core VM).
/// Throws ValueError for buffer_bytes < 1 MiB, num_threads < 0,
/// repetitions < 1 or fma_iterations < 1.
MachineFloor measure_machine_floor(const MachineFloorOptions& options = {});

/// The read-bandwidth half of the floor, re-measurable: the constructor
/// allocates the buffer and has each thread first-touch its slice (so pages
/// live where they are read); measure_gbs() then costs only the timed passes
/// (5 x 256 MiB with the defaults, ~30 ms at 45 GB/s). Uses buffer_bytes,
/// num_threads and repetitions of the options; throws ValueError as
/// measure_machine_floor does for those three.
class ReadBandwidthProbe {
 public:
  explicit ReadBandwidthProbe(const MachineFloorOptions& options = {});
  ~ReadBandwidthProbe();
  ReadBandwidthProbe(const ReadBandwidthProbe&) = delete;
  ReadBandwidthProbe& operator=(const ReadBandwidthProbe&) = delete;

  /// Best of `repetitions` timed passes over the buffer, all threads, GB/s.
  double measure_gbs();
  int num_threads() const;
  std::size_t buffer_bytes() const;  ///< rounded down to whole vector chunks per thread

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// One line: "read 24.1 GB/s, fp32 FMA 150.3 GFLOP/s (AVX2, 8 fp32 lanes, 2 threads, 256 MiB buffer)".
std::string to_string(const MachineFloor& floor);

}  // namespace attnreg::perf
