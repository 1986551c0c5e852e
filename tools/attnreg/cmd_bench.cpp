// `attnreg bench`: decode and prefill sweeps of one backend on synthetic
// batches, stated against this machine's measured floor (perf/machine_floor):
// decode is memory bound, so its GB/s is compared with the read bandwidth;
// prefill is compute bound, so its GFLOP/s is compared with the fp32 FMA peak.
// A backend that runs on CUDA memory is timed on its device (batches copied
// there through its DeviceMemory service, each forward timed from launch to
// device synchronize); the host floor does not apply there and is not shown.
#include "cmd_bench.hpp"

#include <fmt/format.h>

#include <attnreg/machine_floor.hpp>
#include <attnreg/selector.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "device_batch.hpp"
#include "host_run.hpp"
#include "layer_options.hpp"
#include "progress.hpp"
#include "workload.hpp"

namespace attnreg::cli {
namespace {

struct BenchOptions {
  LayerOptions layer;
  std::vector<int> decode_batches{1, 4, 16};
  std::vector<int> contexts{256, 1024, 4096};
  std::vector<int> prefill_tokens{128, 512, 2048};
  double min_time = 0.2;  ///< seconds of timed forwards per point
  std::uint64_t seed = 0;
  bool quick = false;
  bool json = false;
};

/// One measured point of a sweep.
struct Point {
  int batch = 0;
  int context = 0;
  int tokens = 0;
  double seconds = 0.0;
  double rate = 0.0;      ///< GB/s (decode) or GFLOP/s (prefill)
  double fraction = 0.0;  ///< of the machine floor
};

// Builds spec's batch, runs the backend on it until min_time, returns the median forward time.
double time_forward(const AttentionBackend& backend, const DeviceMemory* memory, BatchSpec spec,
                    double min_time) {
  spec.keep_initial_cache = false;  // no reference here: halve the memory
  SyntheticBatch batch(std::move(spec));
  const auto impl = backend.make_impl(batch.params());
  if (memory != nullptr) {
    DeviceBatch device(batch, *memory);
    return median_seconds(
        [&] {
          device.forward(*impl);
          device.synchronize();
        },
        3, min_time);
  }
  return median_seconds(
      [&] {
        impl->forward(batch.query(), batch.key(), batch.value(), batch.kv_cache(), batch.metadata(),
                      batch.output());
      },
      3, min_time);
}

void bench(BenchOptions o) {
  if (o.quick) {
    o.decode_batches = {1, 4};
    o.contexts = {64, 256};
    o.prefill_tokens = {64, 256};
    o.min_time = 0.02;
  }
  const RunTarget target = select_for_run(o.layer);
  const Selection& s = target.selection;
  const DeviceMemory* memory = target.device_memory;
  perf::MachineFloorOptions floor_options;
  if (o.quick) {
    floor_options.buffer_bytes = std::size_t{64} << 20;
    floor_options.repetitions = 2;
    floor_options.fma_iterations = std::size_t{2} << 20;
  }
  perf::MachineFloor floor;  // the host's; not measured for a device run
  if (memory == nullptr) {
    fmt::print(stderr, "measuring this machine's read bandwidth and FMA peak...\n");
    floor = perf::measure_machine_floor(floor_options);
  }

  const BatchSpec base = layer_batch_spec(o.layer, o.seed);
  const LayerShape layer = layer_shape(base);
  std::vector<Point> decode, prefill;
  Progress progress("bench",
                    static_cast<int>(o.decode_batches.size() * o.contexts.size() + o.prefill_tokens.size()));
  for (const int b : o.decode_batches) {
    for (const int ctx : o.contexts) {
      BatchSpec spec = base;
      spec.context_lens.assign(b, ctx);
      spec.query_lens.assign(b, 1);
      Point p{b, ctx, b, time_forward(s.backend(), memory, spec, o.min_time)};
      p.rate = attention_bytes(request_shapes(spec), layer, spec.sliding_window) / p.seconds * 1e-9;
      p.fraction = memory ? 0.0 : p.rate / floor.read_bandwidth_gbs;
      decode.push_back(p);
      progress.step(fmt::format("decode batch={} context={}", b, ctx));
    }
  }
  for (const int t : o.prefill_tokens) {
    BatchSpec spec = base;
    spec.context_lens = {0};
    spec.query_lens = {t};
    Point p{1, 0, t, time_forward(s.backend(), memory, spec, o.min_time)};
    p.rate = attention_flops(request_shapes(spec), layer, spec.sliding_window) / p.seconds * 1e-9;
    p.fraction = memory ? 0.0 : p.rate / floor.fma_peak_gflops;
    prefill.push_back(p);
    progress.step(fmt::format("prefill tokens={}", t));
  }

  if (o.json) {
    auto points = [memory](const std::vector<Point>& v, const char* rate_key) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& p : v)
        out.push_back({{"batch", p.batch},
                       {"context", p.context},
                       {"tokens", p.tokens},
                       {"seconds", p.seconds},
                       {rate_key, p.rate},
                       {"fraction_of_floor", memory ? nlohmann::json(nullptr) : nlohmann::json(p.fraction)}});
      return out;
    };
    const nlohmann::json machine = memory ? nlohmann::json{{"device", memory->device_name()}}
                                          : nlohmann::json{{"read_bandwidth_gbs", floor.read_bandwidth_gbs},
                                                           {"fma_peak_gflops", floor.fma_peak_gflops},
                                                           {"threads", floor.num_threads},
                                                           {"simd_target", floor.simd_target}};
    const nlohmann::json out = {{"backend", s.chosen.name()},
                                {"config", config_repr(s.config)},
                                {"machine", machine},
                                {"decode", points(decode, "gbs")},
                                {"prefill", points(prefill, "gflops")}};
    fmt::print("{}\n", out.dump(2));
    return;
  }
  fmt::print(
      "backend: {} on {}; {}\n", s.chosen.name(), s.platform.name,
      memory ? "on the device (batches copied there; host floor not applicable)" : perf::to_string(floor));
  // A device run has no measured floor here: its fraction column shows "-".
  auto fraction = [memory](double f) { return memory ? std::string("-") : fmt::format("{:.1f}%", f * 100); };
  fmt::print("layer:   heads {}/{}, head size {}, {}, kv cache {}, block size {}\n\n", base.num_heads,
             base.num_kv_heads, base.head_size, to_string(base.dtype), base.kv_cache_dtype, base.block_size);
  fmt::print("decode (1 new token per request; bytes = K/V read + query + output)\n");
  fmt::print("  {:>6}  {:>8}  {:>10}  {:>9}  {:>13}\n", "batch", "context", "time ms", "GB/s",
             "of read floor");
  for (const auto& p : decode)
    fmt::print("  {:>6}  {:>8}  {:>10.3f}  {:>9.2f}  {:>13}\n", p.batch, p.context, p.seconds * 1e3, p.rate,
               fraction(p.fraction));
  fmt::print("\nprefill (one request, no cache, causal; FLOPs counted over the mask)\n");
  fmt::print("  {:>6}  {:>10}  {:>9}  {:>12}\n", "tokens", "time ms", "GFLOP/s", "of FMA peak");
  for (const auto& p : prefill)
    fmt::print("  {:>6}  {:>10.3f}  {:>9.2f}  {:>12}\n", p.tokens, p.seconds * 1e3, p.rate,
               fraction(p.fraction));
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("bench", "Decode and prefill sweeps: GB/s and GFLOP/s against this machine's floor");
  auto opts = std::make_shared<BenchOptions>();
  add_layer_options(
      *cmd, opts->layer, /*shape_required=*/false,
      "cpu or cuda (default: cpu, where the batches are built; cuda when --backend runs only there)");
  cmd->add_option("--decode-batches", opts->decode_batches, "Decode sweep: requests per batch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--contexts", opts->contexts, "Decode sweep: cached tokens per request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--prefill-tokens", opts->prefill_tokens, "Prefill sweep: tokens of the one request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--min-time", opts->min_time, "Seconds of timed forwards per point")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed of the random data")->capture_default_str();
  cmd->add_flag("--quick", opts->quick, "A tiny sweep (seconds), for smoke tests");
  cmd->add_flag("--json", opts->json, "Print the results as JSON");
  cmd->callback([opts] { bench(*opts); });
}

}  // namespace attnreg::cli
