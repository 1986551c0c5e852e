// CPU_ATTN: attnreg's CPU attention backend (attnreg.backends.cpu_attn.
// CPUAttentionBackend), and TorchSDPABackend, the same backend under the
// legacy TORCH_SDPA name vLLM's CPU path once used.
//
// Thread safety: backend objects are immutable; every const method may be
// called from any thread.
#pragma once

#include <attnreg/backend.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace attnreg::cpu_attn {

/// The CPU backend: fp32/bf16/fp16 with fp32 accumulation, "auto" and
/// "fp8_e4m3" caches, head sizes 32..256 in steps of 16, any block size,
/// GQA/MQA, causal or not, sliding window, soft-cap, sinks, ALiBi, all four
/// attention types.
class CPUAttentionBackend : public AttentionBackend {
 public:
  /// "CPU_ATTN".
  std::string_view get_name() const override;
  /// {float32, bfloat16, float16}.
  std::vector<ScalarType> supported_dtypes() const override;
  /// {"auto", "fp8_e4m3"}.
  std::vector<std::string> supported_kv_cache_dtypes() const override;
  /// 32, 48, ..., 256: multiples of 16 keep every Highway vector width (4, 8,
  /// 16 fp32 lanes) dividing the head size.
  std::vector<int> supported_head_sizes() const override;
  /// DECODER, ENCODER, ENCODER_ONLY, ENCODER_DECODER.
  std::vector<AttentionType> supported_attn_types() const override;
  /// {CPU}.
  std::vector<DeviceType> supported_devices() const override;
  /// true.
  bool supports_sink() const override;
  /// true.
  bool supports_non_causal() const override;
  /// true.
  bool supports_alibi() const override;
  /// Validates params (validate_layer_params, then validate_configuration on
  /// the layer's settings) and makes a CpuAttentionImpl; throws ValueError
  /// "<name>: cannot run this layer: <reason>; <reason>" otherwise.
  std::unique_ptr<AttentionImpl> make_impl(const AttentionLayerParams& params) const override;
};

/// CPU_ATTN under vLLM's legacy TORCH_SDPA name (same capabilities and kernel).
class TorchSDPABackend final : public CPUAttentionBackend {
 public:
  /// "TORCH_SDPA".
  std::string_view get_name() const override;
};

}  // namespace attnreg::cpu_attn
