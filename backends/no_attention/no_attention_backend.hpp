// NO_ATTENTION: the backend of attention-free models (e.g. pure state-space
// models), vLLM's NO_ATTENTION member. It serves no attention layers
// (supports_attention() is false, so the default checks refuse configurations
// that have attention and accept only those that have none), is valid on every
// device, dtype and feature setting (there is nothing to compute, so nothing
// to support), has an empty KV cache, and makes an implementation whose
// forward only checks its inputs.
//
// Thread safety: immutable; every method may be called from any thread.
#pragma once

#include <attnreg/backend.hpp>

namespace attnreg::no_attention {

/// attnreg.backends.no_attention.NoAttentionBackend.
class NoAttentionBackend final : public AttentionBackend {
 public:
  /// "NO_ATTENTION".
  std::string_view get_name() const override;
  /// false: the backend of attention-free models only.
  bool supports_attention() const override;

  /// Float32, Float16, BFloat16 and Float64: every model dtype.
  std::vector<ScalarType> supported_dtypes() const override;
  /// "auto" and "fp8_e4m3": every cache dtype attnreg knows.
  std::vector<std::string> supported_kv_cache_dtypes() const override;
  /// Every attention type.
  std::vector<AttentionType> supported_attn_types() const override;
  /// CPU and CUDA.
  std::vector<DeviceType> supported_devices() const override;
  /// Every feature flag is accepted: with no attention computed, none changes anything.
  bool supports_sink() const override;
  bool supports_mm_prefix() const override;
  bool supports_per_head_quant_scales() const override;
  bool supports_non_causal() const override;
  bool supports_batch_invariant() const override;
  bool supports_alibi() const override;

  /// {0}: an empty cache, whatever the sizes (no memory is reserved for a
  /// layer that has no keys or values; vLLM's v0 placeholder backend returned
  /// a dummy (1, 1, 1, 1, 1) for the same purpose).
  std::vector<std::int64_t> get_kv_cache_shape(std::int64_t num_blocks, std::int64_t block_size,
                                               std::int64_t num_kv_heads, std::int64_t head_size,
                                               std::string_view cache_dtype = "auto") const override;
  /// {0}: the identity order of the one-dimensional cache shape.
  std::vector<int> get_kv_cache_stride_order() const override;

  /// A NoAttentionImpl; params are not validated (nothing uses them).
  std::unique_ptr<AttentionImpl> make_impl(const AttentionLayerParams& params) const override;
};

}  // namespace attnreg::no_attention
