// Work and traffic of one attention step, computed exactly from the causal /
// sliding-window masks, for the throughput figures of `run` and `bench`.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace attnreg::cli {

/// One request of a batch: its new tokens (queries) and its cached tokens
/// including them (vLLM's query_start_loc difference and seq_lens).
struct RequestShape {
  int query_len = 1;
  int seq_len = 1;
};

/// Layer dimensions and element sizes that scale the counts.
struct LayerShape {
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_size = 0;
  int query_bytes = 2;  ///< element size of query and output
  int kv_bytes = 2;     ///< element size of the KV cache
};

/// (query, key) pairs the causal mask (and the window, if any) lets through:
/// the query at position p sees keys max(0, p-W+1) .. p.
std::int64_t visible_pairs(std::span<const RequestShape> requests, std::optional<int> sliding_window);

/// Distinct cached keys each request's queries read, summed over requests.
std::int64_t keys_read(std::span<const RequestShape> requests, std::optional<int> sliding_window);

/// Floating-point operations: 2*D for QK^T and 2*D for PV per visible pair
/// and query head (softmax not counted, as FlashAttention reports).
double attention_flops(std::span<const RequestShape> requests, const LayerShape& layer,
                       std::optional<int> sliding_window);

/// Bytes moved at least once: the K and V of every key read (per KV head),
/// plus the query read and the output written.
double attention_bytes(std::span<const RequestShape> requests, const LayerShape& layer,
                       std::optional<int> sliding_window);

}  // namespace attnreg::cli
