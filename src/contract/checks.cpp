#include <attnreg/checks.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>

namespace attnreg::checks {
namespace {

template <class T>
bool contains(const std::vector<T>& values, const T& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

std::string join_block_rules(const std::vector<BlockSizeRule>& rules) {
  std::vector<std::string> parts;
  for (const auto& r : rules)
    parts.push_back(r.multiple_of ? fmt::format("multiples of {}", r.value) : fmt::format("{}", r.value));
  return fmt::format("{}", fmt::join(parts, ", "));
}

template <class T>
std::string join_names(const std::vector<T>& values) {
  std::vector<std::string_view> names;
  for (const auto& v : values) names.push_back(to_string(v));
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

Reason check_has_attention(const AttentionBackend& b, const AttentionConfig& c) {
  if (c.has_attention && !b.supports_attention())
    return "attention layers not supported: this backend serves attention-free models only";
  if (!c.has_attention && b.supports_attention())
    return "attention-free model: needs a backend without attention (NO_ATTENTION)";
  return std::nullopt;
}

Reason check_device(const AttentionBackend& b, const AttentionConfig& c) {
  const auto devices = b.supported_devices();
  if (contains(devices, c.device)) return std::nullopt;
  return fmt::format("device not supported: {} (supported: {})", to_string(c.device), join_names(devices));
}

Reason check_head_size(const AttentionBackend& b, const AttentionConfig& c) {
  const auto sizes = b.supported_head_sizes();
  if (c.head_size <= 0) return fmt::format("head_size not supported: {} (must be positive)", c.head_size);
  if (sizes.empty() || contains(sizes, c.head_size)) return std::nullopt;
  return fmt::format("head_size not supported: {} (supported: {})", c.head_size, fmt::join(sizes, ", "));
}

Reason check_dtype(const AttentionBackend& b, const AttentionConfig& c) {
  const auto dtypes = b.supported_dtypes();
  if (contains(dtypes, c.dtype)) return std::nullopt;
  return fmt::format("dtype not supported: {} (supported: {})", to_string(c.dtype), join_names(dtypes));
}

Reason check_kv_cache_dtype(const AttentionBackend& b, const AttentionConfig& c) {
  const auto dtypes = b.supported_kv_cache_dtypes();
  if (contains(dtypes, c.kv_cache_dtype)) return std::nullopt;
  return fmt::format("kv_cache_dtype not supported: {} (supported: {})", c.kv_cache_dtype,
                     fmt::join(dtypes, ", "));
}

Reason check_block_size(const AttentionBackend& b, const AttentionConfig& c) {
  if (!c.block_size) return std::nullopt;
  const auto rules = b.supported_kernel_block_sizes();
  if (rules.empty()) return std::nullopt;
  for (const auto& r : rules)
    if (r.accepts(*c.block_size)) return std::nullopt;
  return fmt::format("block_size not supported: {} (supported: {})", *c.block_size, join_block_rules(rules));
}

Reason check_mla(const AttentionBackend& b, const AttentionConfig& c) {
  if (c.use_mla == b.is_mla()) return std::nullopt;
  return c.use_mla ? "MLA not supported (this backend serves standard attention)"
                   : "non-MLA not supported (this backend serves MLA models only)";
}

Reason check_sink(const AttentionBackend& b, const AttentionConfig& c) {
  if (!c.has_sink || b.supports_sink()) return std::nullopt;
  return "sink setting not supported (supported: no attention sinks)";
}

Reason check_sparse(const AttentionBackend& b, const AttentionConfig& c) {
  if (c.use_sparse == b.is_sparse()) return std::nullopt;
  return c.use_sparse ? "sparse not supported (this backend is dense)"
                      : "non-sparse not supported (this backend serves sparse attention only)";
}

Reason check_mm_prefix(const AttentionBackend& b, const AttentionConfig& c) {
  if (!c.use_mm_prefix || b.supports_mm_prefix()) return std::nullopt;
  return "partial multimodal token full attention not supported";
}

Reason check_per_head_quant_scales(const AttentionBackend& b, const AttentionConfig& c) {
  if (!c.use_per_head_quant_scales || b.supports_per_head_quant_scales()) return std::nullopt;
  return "per-head quant scales not supported (supported: one per-tensor k_scale and v_scale)";
}

Reason check_compute_capability(const AttentionBackend& b, const AttentionConfig& c) {
  if (!c.device_capability || b.supports_compute_capability(*c.device_capability)) return std::nullopt;
  return fmt::format("compute capability not supported: {}.{}", c.device_capability->major,
                     c.device_capability->minor);
}

Reason check_attn_type(const AttentionBackend& b, const AttentionConfig& c) {
  const auto types = b.supported_attn_types();
  if (contains(types, c.attn_type)) return std::nullopt;
  return fmt::format("attention type {} not supported (supported: {})", to_string(c.attn_type),
                     join_names(types));
}

Reason check_non_causal(const AttentionBackend& b, const AttentionConfig& c) {
  if (!c.use_non_causal || b.supports_non_causal()) return std::nullopt;
  return "non-causal attention not supported (supported: causal only)";
}

Reason check_batch_invariant(const AttentionBackend& b, const AttentionConfig& c) {
  if (!c.use_batch_invariant || b.supports_batch_invariant()) return std::nullopt;
  return "batch invariance not supported";
}

Reason check_sliding_window(const AttentionBackend& b, const AttentionConfig& c) {
  if (!c.sliding_window) return std::nullopt;
  if (*c.sliding_window <= 0)
    return fmt::format("sliding_window not supported: {} (must be positive)", *c.sliding_window);
  if (b.supports_sliding_window()) return std::nullopt;
  return "sliding window not supported (supported: full attention)";
}

Reason check_logits_soft_cap(const AttentionBackend& b, const AttentionConfig& c) {
  if (c.logits_soft_cap == 0.0f) return std::nullopt;
  if (c.logits_soft_cap < 0.0f)
    return fmt::format("logits_soft_cap not supported: {} (must be positive, or 0 for off)",
                       c.logits_soft_cap);
  if (b.supports_logits_soft_cap()) return std::nullopt;
  return "logits soft-cap not supported (supported: 0, off)";
}

Reason check_alibi(const AttentionBackend& b, const AttentionConfig& c) {
  if (!c.has_alibi || b.supports_alibi()) return std::nullopt;
  return "ALiBi not supported";
}

Reason check_head_counts(const AttentionBackend&, const AttentionConfig& c) {
  if (c.num_heads == 0) return std::nullopt;  // shape not given: nothing to check
  const int kv = c.num_kv_heads == 0 ? c.num_heads : c.num_kv_heads;
  if (c.num_heads < 0 || kv < 0)
    return fmt::format("num_heads not supported: {}/{} (must be positive)", c.num_heads, kv);
  if (c.num_heads % kv != 0)
    return fmt::format(
        "num_heads not supported: {} query heads over {} KV heads (num_heads must be a multiple of "
        "num_kv_heads)",
        c.num_heads, kv);
  return std::nullopt;
}

std::span<const Check> all_checks() noexcept {
  static constexpr std::array<Check, 19> kChecks = {check_has_attention,
                                                    check_device,
                                                    check_head_size,
                                                    check_dtype,
                                                    check_kv_cache_dtype,
                                                    check_block_size,
                                                    check_mla,
                                                    check_sink,
                                                    check_sparse,
                                                    check_mm_prefix,
                                                    check_per_head_quant_scales,
                                                    check_compute_capability,
                                                    check_attn_type,
                                                    check_non_causal,
                                                    check_batch_invariant,
                                                    check_sliding_window,
                                                    check_logits_soft_cap,
                                                    check_alibi,
                                                    check_head_counts};
  return kChecks;
}

}  // namespace attnreg::checks
