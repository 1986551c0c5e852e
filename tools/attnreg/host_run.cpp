#include "host_run.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <attnreg/errors.hpp>
#include <chrono>

namespace attnreg::cli {

Selection select_for_host_run(const LayerOptions& options) {
  LayerOptions on_host = options;
  if (on_host.device.empty()) on_host.device = "cpu";
  Selection s = select_backend(to_config(on_host), to_platform(on_host), requested_backend(on_host));
  const auto devices = s.backend().supported_devices();
  if (std::find(devices.begin(), devices.end(), DeviceType::CPU) == devices.end()) {
    std::vector<std::string_view> names;
    for (const auto d : devices) names.push_back(to_string(d));
    throw ValueError(fmt::format(
        "{} runs on {} memory, but this command builds its batch in host (cpu) memory: use a backend that "
        "supports cpu (e.g. --backend CPU_ATTN). Device runs are done by the CUDA plugin's own runners "
        "(FLASH_ATTN: the attnreg_flash_attn_tests suite and bench/flash_attn/)",
        s.chosen.name(), fmt::join(names, ", ")));
  }
  return s;
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
