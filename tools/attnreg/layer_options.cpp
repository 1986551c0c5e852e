#include "layer_options.hpp"

#include <fmt/format.h>

#include <attnreg/errors.hpp>
#include <charconv>

namespace attnreg::cli {

void add_layer_options(CLI::App& cmd, LayerOptions& o, bool shape_required, const std::string& device_help) {
  auto* head = cmd.add_option("--head-size", o.head_size, "Head dimension")->check(CLI::PositiveNumber);
  auto* heads = cmd.add_option("--num-heads", o.num_heads, "Query heads")->check(CLI::PositiveNumber);
  auto* kv =
      cmd.add_option("--num-kv-heads", o.num_kv_heads, "KV heads (GQA/MQA)")->check(CLI::PositiveNumber);
  auto* dtype = cmd.add_option("--dtype", o.dtype, "Model dtype: fp32, fp16 or bf16");
  if (shape_required) {
    for (auto* opt : {head, heads, kv, dtype}) opt->required();
  } else {
    for (auto* opt : {head, heads, kv, dtype}) opt->capture_default_str();
  }
  cmd.add_option("--kv-cache-dtype", o.kv_cache_dtype, "KV cache dtype: auto or fp8_e4m3")
      ->capture_default_str();
  cmd.add_option("--block-size", o.block_size, "KV cache block size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--sliding-window", o.sliding_window, "Sliding window (tokens)")->check(CLI::PositiveNumber);
  cmd.add_option("--soft-cap", o.soft_cap, "Logits soft-cap (0 = off)")->check(CLI::NonNegativeNumber);
  cmd.add_flag("--sinks", o.sinks, "Per-head attention sinks");
  cmd.add_option("--device", o.device, device_help)->check(CLI::IsMember({"cpu", "cuda"}));
  cmd.add_option("--capability", o.capability,
                 "With --device cuda: simulate this compute capability, e.g. 9.0");
  cmd.add_option("--backend", o.backend,
                 "Backend member name, e.g. CPU_ATTN (default: the selector's choice)");
}

ScalarType model_dtype(const LayerOptions& o) {
  const auto t = scalar_type_from_string(o.dtype);
  if (!t || (*t != ScalarType::Float32 && *t != ScalarType::Float16 && *t != ScalarType::BFloat16))
    throw ValueError(fmt::format("--dtype {} is not a model dtype; use fp32, fp16 or bf16", o.dtype));
  return *t;
}

AttentionConfig to_config(const LayerOptions& o) {
  AttentionConfig c;
  c.head_size = o.head_size;
  c.num_heads = o.num_heads;
  c.num_kv_heads = o.num_kv_heads;
  c.dtype = model_dtype(o);
  c.kv_cache_dtype = o.kv_cache_dtype;
  c.block_size = o.block_size;
  c.sliding_window = o.sliding_window;
  c.logits_soft_cap = o.soft_cap;
  c.has_sink = o.sinks;
  return c;
}

namespace {

// "9.0" -> {9, 0}; ValueError for anything that is not MAJOR.MINOR.
DeviceCapability parse_capability(const std::string& text) {
  DeviceCapability cc;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto major = std::from_chars(first, last, cc.major);
  if (major.ec == std::errc{} && major.ptr != last && *major.ptr == '.') {
    auto minor = std::from_chars(major.ptr + 1, last, cc.minor);
    if (minor.ec == std::errc{} && minor.ptr == last && minor.ptr != major.ptr + 1 && cc.major > 0 &&
        cc.minor >= 0)
      return cc;
  }
  throw ValueError(
      fmt::format("--capability {} is not a compute capability; use MAJOR.MINOR, e.g. 9.0", text));
}

}  // namespace

Platform to_platform(const LayerOptions& o) {
  if (!o.capability.empty() && o.device != "cuda")
    throw ValueError(fmt::format("--capability {} simulates a CUDA device; add --device cuda", o.capability));
  if (o.device == "cpu") return Platform::cpu();
  if (o.device == "cuda") {
    if (!o.capability.empty()) return Platform::cuda(parse_capability(o.capability));
    const Platform detected = Platform::detect();
    if (detected.device != DeviceType::CUDA)
      throw ValueError(
          "--device cuda: no CUDA device found on this machine; add --capability MAJOR.MINOR (e.g. 9.0) to "
          "simulate one");
    return detected;
  }
  return Platform::detect();
}

std::optional<AttentionBackendEnum> requested_backend(const LayerOptions& o) {
  if (o.backend.empty()) return std::nullopt;
  return AttentionBackendEnum::from_name(o.backend);
}

}  // namespace attnreg::cli
