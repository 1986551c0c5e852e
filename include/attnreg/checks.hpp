// attnreg/checks.hpp: the named constraints behind
// AttentionBackend::validate_configuration, one small function each (in the
// style of PyTorch's sdp_utils). Each returns nullopt when the backend meets
// the constraint for config, else a reason that starts as vLLM's does and
// says what would be supported, e.g.
//   "head_size not supported: 72 (supported: 64, 96, 128, 256)".
#pragma once

#include <attnreg/backend.hpp>

#include <optional>
#include <span>
#include <string>

namespace attnreg::checks {

using Reason = std::optional<std::string>;
using Check = Reason (*)(const AttentionBackend&, const AttentionConfig&);

Reason check_device(const AttentionBackend& b, const AttentionConfig& c);
Reason check_head_size(const AttentionBackend& b, const AttentionConfig& c);
Reason check_dtype(const AttentionBackend& b, const AttentionConfig& c);
Reason check_kv_cache_dtype(const AttentionBackend& b, const AttentionConfig& c);
Reason check_block_size(const AttentionBackend& b, const AttentionConfig& c);
Reason check_mla(const AttentionBackend& b, const AttentionConfig& c);
Reason check_sink(const AttentionBackend& b, const AttentionConfig& c);
Reason check_sparse(const AttentionBackend& b, const AttentionConfig& c);
Reason check_mm_prefix(const AttentionBackend& b, const AttentionConfig& c);
Reason check_per_head_quant_scales(const AttentionBackend& b, const AttentionConfig& c);
Reason check_compute_capability(const AttentionBackend& b, const AttentionConfig& c);
Reason check_attn_type(const AttentionBackend& b, const AttentionConfig& c);
Reason check_non_causal(const AttentionBackend& b, const AttentionConfig& c);
Reason check_batch_invariant(const AttentionBackend& b, const AttentionConfig& c);
Reason check_sliding_window(const AttentionBackend& b, const AttentionConfig& c);
Reason check_logits_soft_cap(const AttentionBackend& b, const AttentionConfig& c);
Reason check_alibi(const AttentionBackend& b, const AttentionConfig& c);
Reason check_head_counts(const AttentionBackend& b, const AttentionConfig& c);
Reason check_has_attention(const AttentionBackend& b, const AttentionConfig& c);

/// Every check above, in the order validate_configuration runs them.
std::span<const Check> all_checks() noexcept;

}  // namespace attnreg::checks
