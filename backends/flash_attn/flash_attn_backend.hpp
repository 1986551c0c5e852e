// FLASH_ATTN: the CUDA attention backend of this plugin
// (attnreg.backends.flash_attn.FlashAttentionBackend), modelled on vLLM's
// FlashAttentionBackend: bf16/fp16, KV cache "auto" or "fp8_e4m3", head sizes
// 64/96/128/256, block sizes that are multiples of 16, GQA/MQA, causal or
// not, sliding window, soft-cap and sinks, on compute capability 8.0+.
//
// Thread safety: immutable; every method may be called from any thread.
#pragma once

#include <attnreg/backend.hpp>

namespace attnreg::flash_attn {

/// The backend "class" registered by the plugin.
class FlashAttentionBackend final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "FLASH_ATTN"; }
  std::vector<ScalarType> supported_dtypes() const override;
  std::vector<std::string> supported_kv_cache_dtypes() const override;
  std::vector<BlockSizeRule> supported_kernel_block_sizes() const override;
  std::vector<int> supported_head_sizes() const override;
  std::vector<DeviceType> supported_devices() const override;
  /// Ampere (8.0) and newer: the kernels use mma.sync m16n8k16 and cp-size 16 loads.
  bool supports_compute_capability(DeviceCapability capability) const override;
  bool supports_sink() const override { return true; }
  bool supports_non_causal() const override { return true; }
  bool supports_sliding_window() const override { return true; }
  bool supports_logits_soft_cap() const override { return true; }

  /// The default checks; then, for a supported compute capability, whether the
  /// kernels for the head size fit its shared memory per CTA (head 256 does
  /// not on an A100, head 128 not on 99 KB parts such as the L4 or RTX 4090);
  /// then "no CUDA device: ..." when the runtime finds none (config.device ==
  /// CUDA only), so the selector can say why.
  std::vector<std::string> validate_configuration(const AttentionConfig& config) const override;

  /// Makes the CUDA implementation on the current device. Throws ValueError
  /// for params that validate_layer_params rejects, then with every reason of
  /// validate_configuration (no device included).
  std::unique_ptr<AttentionImpl> make_impl(const AttentionLayerParams& params) const override;

  /// A CudaDeviceMemory (cuda_memory.hpp): cudaMalloc / cudaMemcpy /
  /// cudaDeviceSynchronize on the current device, so `attnreg run` can put
  /// its batch on the GPU. Asking touches no CUDA API.
  const DeviceMemory* device_memory() const noexcept override;
};

}  // namespace attnreg::flash_attn
