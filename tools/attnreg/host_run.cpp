#include "host_run.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <attnreg/errors.hpp>
#include <chrono>
#include <cstdlib>

namespace attnreg::cli {

namespace {

bool runs_on(const AttentionBackend& backend, DeviceType device) {
  const auto devices = backend.supported_devices();
  return std::find(devices.begin(), devices.end(), device) != devices.end();
}

// The platform of a run without --device (see select_for_run).
Platform default_run_platform(std::optional<AttentionBackendEnum> requested) {
  if (!requested) {
    const char* env = std::getenv(kBackendEnvVar);
    if (env != nullptr && *env != '\0') requested = AttentionBackendEnum::from_name(env);
  }
  if (!requested) return Platform::cpu();
  const AttentionBackend* cls = nullptr;
  try {
    cls = &requested->get_class();
  } catch (const Error&) {
    return Platform::cpu();  // the selector reports why it cannot be had
  }
  if (runs_on(*cls, DeviceType::CPU) || !runs_on(*cls, DeviceType::CUDA)) return Platform::cpu();
  Platform detected = Platform::detect();
  if (detected.device == DeviceType::CUDA) return detected;
  return Platform{DeviceType::CUDA, std::nullopt, "cuda (no device detected)"};
}

}  // namespace

RunTarget select_for_run(const LayerOptions& options) {
  const auto requested = requested_backend(options);
  const Platform platform = options.device.empty() ? default_run_platform(requested) : to_platform(options);
  RunTarget t{select_backend(to_config(options), platform, requested)};
  const AttentionBackend& backend = t.selection.backend();
  if (platform.device == DeviceType::CPU && runs_on(backend, DeviceType::CPU)) return t;
  t.device_memory = backend.device_memory();
  if (t.device_memory != nullptr) return t;
  if (runs_on(backend, DeviceType::CPU)) return t;  // a CUDA platform, but the backend reads host memory
  std::vector<std::string_view> names;
  for (const auto d : backend.supported_devices()) names.push_back(to_string(d));
  throw ValueError(fmt::format(
      "{} runs on {} memory and offers no device memory (its AttentionBackend::device_memory() is null), "
      "so this command cannot copy its batch (built in host memory) there: use a backend that supports "
      "cpu (e.g. --backend CPU_ATTN) or one that offers device memory (e.g. FLASH_ATTN)",
      t.selection.chosen.name(), fmt::join(names, ", ")));
}

BatchSpec layer_batch_spec(const LayerOptions& o, std::uint64_t seed) {
  BatchSpec spec;
  spec.num_heads = o.num_heads;
  spec.num_kv_heads = o.num_kv_heads;
  spec.head_size = o.head_size;
  spec.block_size = o.block_size;
  spec.dtype = model_dtype(o);
  spec.kv_cache_dtype = o.kv_cache_dtype;
  spec.sliding_window = o.sliding_window;
  spec.logits_soft_cap = o.soft_cap;
  spec.use_sinks = o.sinks;
  spec.seed = seed;
  return spec;
}

std::vector<RequestShape> request_shapes(const BatchSpec& spec) {
  std::vector<RequestShape> out;
  for (std::size_t r = 0; r < spec.query_lens.size(); ++r)
    out.push_back({spec.query_lens[r], spec.context_lens[r] + spec.query_lens[r]});
  return out;
}

LayerShape layer_shape(const BatchSpec& spec) {
  const int cache_bytes = spec.kv_cache_dtype == "fp8_e4m3" ? 1 : element_size(spec.dtype);
  return {spec.num_heads, spec.num_kv_heads, spec.head_size, element_size(spec.dtype), cache_bytes};
}

double median_seconds(const std::function<void()>& fn, int min_iters, double min_seconds) {
  using clock = std::chrono::steady_clock;
  fn();  // warm-up: first-touch pages, thread pool start-up
  std::vector<double> times;
  const auto start = clock::now();
  while (static_cast<int>(times.size()) < min_iters ||
         std::chrono::duration<double>(clock::now() - start).count() < min_seconds) {
    const auto t0 = clock::now();
    fn();
    times.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

}  // namespace attnreg::cli
