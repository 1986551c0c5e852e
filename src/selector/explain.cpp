// Human-readable forms of a selection: the configuration repr used in error
// messages and the candidate table of Selection::explain.
#include <fmt/format.h>

#include <algorithm>
#include <attnreg/selector.hpp>

namespace attnreg {
namespace {

std::string_view py_bool(bool b) { return b ? "True" : "False"; }

std::string py_optional(const std::optional<int>& v) { return v ? fmt::format("{}", *v) : "None"; }

std::string capability_str(const std::optional<DeviceCapability>& cc) {
  return cc ? fmt::format("{}.{}", cc->major, cc->minor) : "None";
}

}  // namespace

std::string config_repr(const AttentionConfig& c) {
  return fmt::format(
      "AttentionConfig(head_size={}, dtype={}, kv_cache_dtype={}, block_size={}, use_mla={}, has_sink={}, "
      "use_sparse={}, use_mm_prefix={}, use_per_head_quant_scales={}, attn_type={}, use_non_causal={}, "
      "use_batch_invariant={}, num_heads={}, num_kv_heads={}, sliding_window={}, logits_soft_cap={}, "
      "has_alibi={}, has_attention={}, device={}, device_capability={})",
      c.head_size, to_string(c.dtype), c.kv_cache_dtype, py_optional(c.block_size), py_bool(c.use_mla),
      py_bool(c.has_sink), py_bool(c.use_sparse), py_bool(c.use_mm_prefix),
      py_bool(c.use_per_head_quant_scales), to_string(c.attn_type), py_bool(c.use_non_causal),
      py_bool(c.use_batch_invariant), c.num_heads, c.num_kv_heads, py_optional(c.sliding_window),
      c.logits_soft_cap, py_bool(c.has_alibi), py_bool(c.has_attention), to_string(c.device),
      capability_str(c.device_capability));
}

std::string Selection::explain() const {
  std::string out = fmt::format("platform: {}\n", to_string(platform));
  out += fmt::format("config:   {}\n", config_repr(config));
  out += fmt::format("selected: {} (from {})\n\n", chosen.name(), to_string(origin));
  return out + candidates_table(candidates);
}

std::string candidates_table(const std::vector<CandidateReport>& candidates) {
  std::size_t name_w = 7, origin_w = 6, verdict_w = 7;
  for (const auto& c : candidates) {
    name_w = std::max(name_w, c.member.name().size());
    origin_w = std::max(origin_w, to_string(c.origin).size());
    verdict_w = std::max(verdict_w, c.verdict.size());
  }
  std::string out = fmt::format("  {:<{}}  {:<{}}  {:<{}}  {}\n", "backend", name_w, "origin", origin_w,
                                "verdict", verdict_w, "class path");
  for (const auto& c : candidates) {
    out += fmt::format("{} {:<{}}  {:<{}}  {:<{}}  {}\n", c.selected ? '*' : ' ', c.member.name(), name_w,
                       to_string(c.origin), origin_w, c.verdict, verdict_w, c.path.empty() ? "-" : c.path);
    for (const auto& reason : c.reasons) out += fmt::format("      - {}\n", reason);
  }
  return out;
}

}  // namespace attnreg
