#include "workload.hpp"

#include <algorithm>

namespace attnreg::cli {

std::int64_t visible_pairs(std::span<const RequestShape> requests, std::optional<int> window) {
  std::int64_t pairs = 0;
  for (const auto& r : requests) {
    const std::int64_t first = r.seq_len - r.query_len;  // position of the first query
    if (!window) {
      // sum over p = first .. seq_len-1 of (p + 1)
      const std::int64_t last = r.seq_len - 1;
      pairs += (first + 1 + last + 1) * r.query_len / 2;
      continue;
    }
    for (std::int64_t p = first; p < r.seq_len; ++p) pairs += std::min<std::int64_t>(p + 1, *window);
  }
  return pairs;
}

std::int64_t keys_read(std::span<const RequestShape> requests, std::optional<int> window) {
  std::int64_t keys = 0;
  for (const auto& r : requests) {
    const std::int64_t first_key =
        window ? std::max<std::int64_t>(0, std::int64_t{r.seq_len} - r.query_len - *window + 1) : 0;
    keys += r.seq_len - first_key;
  }
  return keys;
}

double attention_flops(std::span<const RequestShape> requests, const LayerShape& l,
                       std::optional<int> window) {
  return 4.0 * static_cast<double>(visible_pairs(requests, window)) * l.num_heads * l.head_size;
}

double attention_bytes(std::span<const RequestShape> requests, const LayerShape& l,
                       std::optional<int> window) {
  std::int64_t tokens = 0;
  for (const auto& r : requests) tokens += r.query_len;
  const double kv =
      2.0 * static_cast<double>(keys_read(requests, window)) * l.num_kv_heads * l.head_size * l.kv_bytes;
  const double q_and_out = 2.0 * static_cast<double>(tokens) * l.num_heads * l.head_size * l.query_bytes;
  return kv + q_and_out;
}

}  // namespace attnreg::cli
