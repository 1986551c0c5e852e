// `attnreg run`: build a realistic mixed batch (chunked prefills plus
// single-token decodes over a random history in a paged cache), run the
// chosen backend on it, report time and throughput, and with --check compare
// the output and the written cache with the float64 reference. A backend that
// runs on CUDA memory gets the batch copied to its device through its
// DeviceMemory service (AttentionBackend::device_memory()); the results come
// back to the host batch, so --check is the same comparison as on the CPU.
#include "cmd_run.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <attnreg/reference.hpp>
#include <attnreg/selector.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "device_batch.hpp"
#include "host_run.hpp"
#include "layer_options.hpp"
#include "workload.hpp"

namespace attnreg::cli {
namespace {

struct RunOptions {
  LayerOptions layer;
  int batch = 2;          ///< chunked-prefill requests
  int decode = 4;         ///< single-token decode requests
  int context_len = 128;  ///< cached tokens per request
  int query_len = 16;     ///< new tokens per prefill request
  std::uint64_t seed = 0;
  int iters = 5;
  bool check = false;
};

BatchSpec run_spec(const RunOptions& o) {
  BatchSpec spec = layer_batch_spec(o.layer, o.seed);
  for (int r = 0; r < o.batch; ++r) {
    spec.context_lens.push_back(o.context_len);
    spec.query_lens.push_back(o.query_len);
  }
  for (int r = 0; r < o.decode; ++r) {
    spec.context_lens.push_back(o.context_len);
    spec.query_lens.push_back(1);
  }
  // Scattered blocks, as a long-running server's cache has.
  spec.shuffle_blocks = true;
  return spec;
}

// Runs one forward on fresh inputs (on the device copy when there is one,
// whose results are copied back) and compares output and cache with the
// reference; prints the figures and returns whether both passed.
bool check(AttentionImpl& impl, SyntheticBatch& batch, DeviceBatch* device) {
  batch.reset_cache();
  batch.poison_output();
  if (device != nullptr) {
    device->upload_cache_and_output();
    device->forward(impl);
    device->download_cache_and_output();
  } else {
    impl.forward(batch.query(), batch.key(), batch.value(), batch.kv_cache(), batch.metadata(),
                 batch.output());
  }
  const reference::Comparison c = batch.check_output();
  const reference::Tolerance tol = reference::tolerance(batch.spec().dtype, batch.spec().kv_cache_dtype);
  fmt::print(
      "check:    output vs float64 reference: max abs error {:.3g}, max rel error {:.3g}, tolerance atol "
      "{:g} "
      "rtol {:g}, {} of {} elements outside it, {} non-finite: {}\n",
      c.max_abs_error, c.max_rel_error, tol.atol, tol.rtol, c.num_mismatched, c.num_elements, c.num_nonfinite,
      c.passed ? "PASS" : "FAIL");
  if (!c.passed) fmt::print("          first failure: {}\n", c.first_failure);
  const auto cache_diff = batch.check_kv_cache();
  fmt::print("check:    kv cache after forward: {}\n",
             cache_diff ? "FAIL: " + *cache_diff : std::string("PASS"));
  return c.passed && !cache_diff;
}

void run(const RunOptions& o) {
  const RunTarget target = select_for_run(o.layer);
  const Selection& s = target.selection;
  SyntheticBatch batch(run_spec(o));
  const BatchSpec& spec = batch.spec();
  const std::unique_ptr<AttentionImpl> impl = s.backend().make_impl(batch.params());
  std::unique_ptr<DeviceBatch> device;
  if (target.device_memory != nullptr) device = std::make_unique<DeviceBatch>(batch, *target.device_memory);

  fmt::print("backend:  {} ({}) [{}] on {}\n", s.chosen.name(), s.chosen.get_path(), to_string(s.origin),
             s.platform.name);
  if (device)
    fmt::print("memory:   batch built on the host, copied to {} through the backend's device memory\n",
               target.device_memory->device_name());
  std::vector<std::string> parts;
  if (o.batch > 0)
    parts.push_back(
        fmt::format("{} prefill(s) of {} cached + {} new tokens", o.batch, o.context_len, o.query_len));
  if (o.decode > 0) parts.push_back(fmt::format("{} decode(s) of {} cached + 1", o.decode, o.context_len));
  fmt::print("batch:    {} = {} tokens\n", fmt::join(parts, ", "), batch.num_tokens());
  fmt::print("layer:    heads {}/{} (query/kv), head size {}, {}, kv cache {}, block size {}{}{}{}\n",
             spec.num_heads, spec.num_kv_heads, spec.head_size, to_string(spec.dtype), spec.kv_cache_dtype,
             spec.block_size,
             spec.sliding_window ? fmt::format(", sliding window {}", *spec.sliding_window) : "",
             spec.logits_soft_cap != 0.0f ? fmt::format(", soft-cap {:g}", spec.logits_soft_cap) : "",
             spec.use_sinks ? ", sinks" : "");

  const bool passed = !o.check || check(*impl, batch, device.get());

  const double seconds = median_seconds(
      [&] {
        if (device) {
          device->forward(*impl);
          device->synchronize();
        } else {
          impl->forward(batch.query(), batch.key(), batch.value(), batch.kv_cache(), batch.metadata(),
                        batch.output());
        }
      },
      o.iters, 0.0);
  const auto requests = request_shapes(spec);
  const LayerShape layer = layer_shape(spec);
  fmt::print("time:     {:.3f} ms per forward (median of {} or more{})\n", seconds * 1e3, o.iters,
             device ? "; launch to device synchronize, batch resident on the device" : "");
  fmt::print(
      "speed:    {:.2f} GFLOP/s, {:.2f} GB/s (mask-exact FLOPs; K/V read once, query read, output written)\n",
      attention_flops(requests, layer, spec.sliding_window) / seconds * 1e-9,
      attention_bytes(requests, layer, spec.sliding_window) / seconds * 1e-9);
  if (!passed) throw CLI::RuntimeError(1);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("run", "Run a backend on a synthetic mixed batch; --check compares with float64");
  auto opts = std::make_shared<RunOptions>();
  add_layer_options(
      *cmd, opts->layer, /*shape_required=*/false,
      "cpu or cuda (default: cpu, where the batch is built; cuda when --backend runs only there)");
  cmd->add_option("--batch", opts->batch, "Chunked-prefill requests")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--decode", opts->decode, "Single-token decode requests mixed in")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--context-len", opts->context_len, "Tokens already cached per request")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--query-len", opts->query_len, "New tokens per prefill request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed of the random data")->capture_default_str();
  cmd->add_option("--iters", opts->iters, "Timed forwards (median reported)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--check", opts->check,
                "Compare with the float64 reference; exit 1 when outside the tolerance");
  cmd->callback([opts] { run(*opts); });
}

}  // namespace attnreg::cli
