#include "flash_attn_backend.hpp"

#include <fmt/format.h>

#include <attnreg/errors.hpp>
#include <attnreg/forward_args.hpp>

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
  validate_layer_params(params);
  // bfloat16 stands in for the model dtype, which forward checks.
  AttentionConfig config = layer_config(params, DeviceType::CUDA, ScalarType::BFloat16);
  auto dev = current_cuda_device();
  if (auto* d = std::get_if<CudaDevice>(&dev)) config.device_capability = d->capability;
  const std::vector<std::string> reasons = validate_configuration(config);
  if (!reasons.empty())
    throw ValueError(fmt::format("FLASH_ATTN cannot serve this layer: {}", fmt::join(reasons, "; ")));
  return std::make_unique<FlashAttentionImpl>(params, std::get<CudaDevice>(dev));
}

const DeviceMemory* FlashAttentionBackend::device_memory() const noexcept {
  static const CudaDeviceMemory memory;
  return &memory;
}

}  // namespace attnreg::flash_attn
