#include "cpu_attn_backend.hpp"

#include <fmt/format.h>

#include <attnreg/errors.hpp>
#include <attnreg/forward_args.hpp>

#include "cpu_attn_impl.hpp"

namespace attnreg::cpu_attn {

std::string_view CPUAttentionBackend::get_name() const { return "CPU_ATTN"; }

std::vector<ScalarType> CPUAttentionBackend::supported_dtypes() const {
  return {ScalarType::Float32, ScalarType::BFloat16, ScalarType::Float16};
}

std::vector<std::string> CPUAttentionBackend::supported_kv_cache_dtypes() const {
  return {"auto", "fp8_e4m3"};
}

std::vector<int> CPUAttentionBackend::supported_head_sizes() const {
  std::vector<int> sizes;
  for (int d = 32; d <= 256; d += 16) sizes.push_back(d);
  return sizes;
}

std::vector<AttentionType> CPUAttentionBackend::supported_attn_types() const {
  return {AttentionType::DECODER, AttentionType::ENCODER, AttentionType::ENCODER_ONLY,
          AttentionType::ENCODER_DECODER};
}

std::vector<DeviceType> CPUAttentionBackend::supported_devices() const { return {DeviceType::CPU}; }
bool CPUAttentionBackend::supports_sink() const { return true; }
bool CPUAttentionBackend::supports_non_causal() const { return true; }
bool CPUAttentionBackend::supports_alibi() const { return true; }

std::unique_ptr<AttentionImpl> CPUAttentionBackend::make_impl(const AttentionLayerParams& params) const {
  validate_layer_params(params);
  // float32 stands in for the model dtype, which forward checks.
  const std::vector<std::string> reasons =
      validate_configuration(layer_config(params, DeviceType::CPU, ScalarType::Float32));
  if (!reasons.empty())
    throw ValueError(fmt::format("{}: cannot run this layer: {}", get_name(), fmt::join(reasons, "; ")));
  return std::make_unique<CpuAttentionImpl>(params);
}

std::string_view TorchSDPABackend::get_name() const { return "TORCH_SDPA"; }

}  // namespace attnreg::cpu_attn
