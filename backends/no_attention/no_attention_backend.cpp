#include "no_attention_backend.hpp"

#include "no_attention_impl.hpp"

namespace attnreg::no_attention {

std::string_view NoAttentionBackend::get_name() const { return "NO_ATTENTION"; }
bool NoAttentionBackend::supports_attention() const { return false; }

std::vector<ScalarType> NoAttentionBackend::supported_dtypes() const {
  return {ScalarType::Float32, ScalarType::Float16, ScalarType::BFloat16, ScalarType::Float64};
}
std::vector<std::string> NoAttentionBackend::supported_kv_cache_dtypes() const {
  return {"auto", "fp8_e4m3"};
}
std::vector<AttentionType> NoAttentionBackend::supported_attn_types() const {
  return {AttentionType::DECODER, AttentionType::ENCODER, AttentionType::ENCODER_ONLY,
          AttentionType::ENCODER_DECODER};
}
std::vector<DeviceType> NoAttentionBackend::supported_devices() const {
  return {DeviceType::CPU, DeviceType::CUDA};
}
bool NoAttentionBackend::supports_sink() const { return true; }
bool NoAttentionBackend::supports_mm_prefix() const { return true; }
bool NoAttentionBackend::supports_per_head_quant_scales() const { return true; }
bool NoAttentionBackend::supports_non_causal() const { return true; }
bool NoAttentionBackend::supports_batch_invariant() const { return true; }
bool NoAttentionBackend::supports_alibi() const { return true; }

std::vector<std::int64_t> NoAttentionBackend::get_kv_cache_shape(std::int64_t, std::int64_t, std::int64_t,
                                                                 std::int64_t, std::string_view) const {
  return {0};
}
std::vector<int> NoAttentionBackend::get_kv_cache_stride_order() const { return {0}; }

std::unique_ptr<AttentionImpl> NoAttentionBackend::make_impl(const AttentionLayerParams&) const {
  return std::make_unique<NoAttentionImpl>();
}

}  // namespace attnreg::no_attention
