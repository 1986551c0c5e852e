#include "flash_attn_backend.hpp"

#include <fmt/format.h>

#include <attnreg/errors.hpp>

#include "cuda_device.hpp"
#include "cuda_memory.hpp"
#include "flash_attn_impl.hpp"
#include "params.hpp"

namespace attnreg::flash_attn {

namespace {
/// Most shared memory one CTA may use on a compute capability (the CUDA
/// Programming Guide's "maximum shared memory per thread block", opt-in):
/// 227 KB on Hopper and Blackwell data-centre parts, 163 KB on A100/Orin,
/// 99 KB on the others (RTX 30/40/50, L4, L40S, A10, A40).
int max_shared_memory_per_cta(DeviceCapability c) {
  if (c.major == 9 || c.major == 10 || c.major == 11) return 227 * 1024;
  if (c.to_int() == 80 || c.to_int() == 87) return 163 * 1024;
  return 99 * 1024;
}
}  // namespace

std::vector<ScalarType> FlashAttentionBackend::supported_dtypes() const {
  return {ScalarType::Float16, ScalarType::BFloat16};
}

std::vector<std::string> FlashAttentionBackend::supported_kv_cache_dtypes() const {
  return {"auto", "fp8_e4m3"};
}

std::vector<BlockSizeRule> FlashAttentionBackend::supported_kernel_block_sizes() const {
  return {BlockSizeRule::multiple(16)};
}

std::vector<int> FlashAttentionBackend::supported_head_sizes() const { return {64, 96, 128, 256}; }

std::vector<DeviceType> FlashAttentionBackend::supported_devices() const { return {DeviceType::CUDA}; }

bool FlashAttentionBackend::supports_compute_capability(DeviceCapability capability) const {
  return capability.to_int() >= 80;
}

std::vector<std::string> FlashAttentionBackend::validate_configuration(const AttentionConfig& config) const {
  auto reasons = AttentionBackend::validate_configuration(config);
  if (config.device_capability && supports_compute_capability(*config.device_capability)) {
    const int allowed = max_shared_memory_per_cta(*config.device_capability);
    if (const int needed = shared_memory_per_cta(config.head_size); needed > allowed) {
      std::vector<int> fitting;
      for (int h : supported_head_sizes())
        if (shared_memory_per_cta(h) <= allowed) fitting.push_back(h);
      reasons.push_back(fmt::format(
          "head_size {} needs {} bytes of shared memory per CTA; compute capability {}.{} allows {} "
          "(head sizes that fit: {})",
          config.head_size, needed, config.device_capability->major, config.device_capability->minor, allowed,
          fitting.empty() ? std::string("none") : fmt::format("{}", fmt::join(fitting, ", "))));
    }
  }
  if (config.device == DeviceType::CUDA) {
    if (auto dev = current_cuda_device(); std::holds_alternative<std::string>(dev))
      reasons.push_back(std::get<std::string>(dev));
  }
  return reasons;
}

std::unique_ptr<AttentionImpl> FlashAttentionBackend::make_impl(const AttentionLayerParams& params) const {
  AttentionConfig config;
  config.head_size = params.head_size;
  config.kv_cache_dtype = params.kv_cache_dtype;
  config.has_sink = params.sinks != nullptr;
  config.device = DeviceType::CUDA;
  config.attn_type = params.attn_type;
  config.num_heads = params.num_heads;
  config.num_kv_heads = params.num_kv_heads;
  config.sliding_window = params.sliding_window;
  config.logits_soft_cap = params.logits_soft_cap;
  config.has_alibi = params.alibi_slopes != nullptr;
  auto dev = current_cuda_device();
  if (auto* d = std::get_if<CudaDevice>(&dev)) config.device_capability = d->capability;
  auto reasons = validate_configuration(config);
  if (params.num_heads <= 0 || params.num_kv_heads <= 0)
    reasons.push_back(fmt::format("num_heads/num_kv_heads must be positive, got {}/{}", params.num_heads,
                                  params.num_kv_heads));
  if (params.sliding_window && *params.sliding_window <= 0)
    reasons.push_back(fmt::format("sliding_window must be positive, got {}", *params.sliding_window));
  if (params.logits_soft_cap < 0.0f)
    reasons.push_back(fmt::format("logits_soft_cap must be >= 0, got {}", params.logits_soft_cap));
  if (params.kv_cache_dtype == "fp8_e4m3" && (!(params.k_scale > 0.0f) || !(params.v_scale > 0.0f)))
    reasons.push_back(fmt::format("fp8 KV cache needs positive k_scale/v_scale, got {}/{}", params.k_scale,
                                  params.v_scale));
  if (!reasons.empty())
    throw ValueError(fmt::format("FLASH_ATTN cannot serve this layer: {}", fmt::join(reasons, "; ")));
  return std::make_unique<FlashAttentionImpl>(params, std::get<CudaDevice>(dev));
}

const DeviceMemory* FlashAttentionBackend::device_memory() const noexcept {
  static const CudaDeviceMemory memory;
  return &memory;
}

}  // namespace attnreg::flash_attn
