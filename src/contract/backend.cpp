#include <attnreg/backend.hpp>
#include <attnreg/checks.hpp>
#include <attnreg/errors.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace attnreg {

std::string_view to_string(AttentionType type) noexcept {
  switch (type) {
    case AttentionType::DECODER:
      return "decoder";
    case AttentionType::ENCODER:
      return "encoder";
    case AttentionType::ENCODER_ONLY:
      return "encoder_only";
    case AttentionType::ENCODER_DECODER:
      return "encoder_decoder";
  }
  return "unknown";
}

std::string_view to_string(DeviceType type) noexcept { return type == DeviceType::CPU ? "cpu" : "cuda"; }

AttentionConfig layer_config(const AttentionLayerParams& params, DeviceType device, ScalarType dtype) {
  AttentionConfig config;
  config.head_size = params.head_size;
  config.dtype = dtype;
  config.kv_cache_dtype = params.kv_cache_dtype;
  config.has_sink = params.sinks != nullptr;
  config.device = device;
  config.attn_type = params.attn_type;
  config.num_heads = params.num_heads;
  config.num_kv_heads = params.num_kv_heads;
  config.sliding_window = params.sliding_window;
  config.logits_soft_cap = params.logits_soft_cap;
  config.has_alibi = params.alibi_slopes != nullptr;
  return config;
}

void AttentionImpl::reshape_and_cache(const DLTensor&, const DLTensor&, const DLTensor&, const DLTensor&,
                                      void*) {
  throw NotImplementedError("reshape_and_cache is not implemented by this backend's AttentionImpl");
}

std::vector<ScalarType> AttentionBackend::supported_dtypes() const {
  return {ScalarType::Float16, ScalarType::BFloat16};
}
std::vector<std::string> AttentionBackend::supported_kv_cache_dtypes() const { return {"auto"}; }
std::vector<BlockSizeRule> AttentionBackend::supported_kernel_block_sizes() const {
  return {BlockSizeRule::multiple(1)};
}
std::vector<int> AttentionBackend::supported_head_sizes() const { return {}; }
std::vector<AttentionType> AttentionBackend::supported_attn_types() const { return {AttentionType::DECODER}; }
std::vector<DeviceType> AttentionBackend::supported_devices() const { return {DeviceType::CUDA}; }
bool AttentionBackend::supports_compute_capability(DeviceCapability) const { return true; }
bool AttentionBackend::supports_sink() const { return false; }
bool AttentionBackend::is_mla() const { return false; }
bool AttentionBackend::is_sparse() const { return false; }
bool AttentionBackend::supports_mm_prefix() const { return false; }
bool AttentionBackend::supports_per_head_quant_scales() const { return false; }
bool AttentionBackend::supports_non_causal() const { return false; }
bool AttentionBackend::supports_batch_invariant() const { return false; }
bool AttentionBackend::supports_sliding_window() const { return true; }
bool AttentionBackend::supports_logits_soft_cap() const { return true; }
bool AttentionBackend::supports_alibi() const { return false; }
bool AttentionBackend::supports_attention() const { return true; }

std::optional<std::string> AttentionBackend::supports_combination(const AttentionConfig&) const {
  return std::nullopt;
}

std::vector<std::string> AttentionBackend::validate_configuration(const AttentionConfig& config) const {
  std::vector<std::string> reasons;
  for (const auto check : checks::all_checks())
    if (auto reason = check(*this, config)) reasons.push_back(std::move(*reason));
  if (auto reason = supports_combination(config)) reasons.push_back(std::move(*reason));
  return reasons;
}

std::vector<std::int64_t> AttentionBackend::get_kv_cache_shape(std::int64_t num_blocks,
                                                               std::int64_t block_size,
                                                               std::int64_t num_kv_heads,
                                                               std::int64_t head_size,
                                                               std::string_view) const {
  if (num_blocks < 0 || block_size <= 0 || num_kv_heads <= 0 || head_size <= 0)
    throw ValueError(
        fmt::format("get_kv_cache_shape: got num_blocks={}, block_size={}, num_kv_heads={}, head_size={}; "
                    "need num_blocks >= 0 and the others > 0",
                    num_blocks, block_size, num_kv_heads, head_size));
  return {2, num_blocks, block_size, num_kv_heads, head_size};
}

std::vector<int> AttentionBackend::get_kv_cache_stride_order() const { return {0, 1, 2, 3, 4}; }

std::unique_ptr<AttentionImpl> AttentionBackend::make_impl(const AttentionLayerParams&) const {
  throw NotImplementedError(
      fmt::format("backend {} provides no AttentionImpl (make_impl is not implemented)", get_name()));
}

const DeviceMemory* AttentionBackend::device_memory() const noexcept { return nullptr; }

}  // namespace attnreg
