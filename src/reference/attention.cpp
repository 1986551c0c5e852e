#include <fmt/format.h>

#include <algorithm>
#include <attnreg/errors.hpp>
#include <attnreg/forward_args.hpp>
#include <attnreg/numeric.hpp>
#include <attnreg/reference.hpp>
#include <attnreg/tensor.hpp>
#include <cmath>
#include <limits>
#include <vector>

namespace attnreg::reference {
namespace {

std::int64_t read_i32(const DLTensor& t, std::int64_t i) {
  return *tensor::TensorView::of(t, ScalarType::Int32).ptr<const std::int32_t>(i);
}

// Whether key position k is visible from query position p (see reference.hpp).
bool visible(std::int64_t k, std::int64_t p, bool causal, const std::optional<int>& window) {
  if (causal && k > p) return false;
  if (!window) return true;
  const std::int64_t distance = causal ? p - k : std::abs(p - k);
  return distance < *window;
}

}  // namespace

void forward(const AttentionLayerParams& params, const DLTensor& query, const DLTensor& key,
             const DLTensor& value, const DLTensor& kv_cache, const AttentionMetadata& metadata,
             const DLTensor& output, std::span<double> out) {
  const ForwardArgs a =
      validate_forward_args(params, query, key, value, kv_cache, metadata, output, DeviceType::CPU, true);
  const std::int64_t H = a.num_heads, D = a.head_size, group = a.num_heads / a.num_kv_heads;
  if (static_cast<std::int64_t>(out.size()) != a.num_tokens * H * D)
    throw ValueError(fmt::format("out: has {} elements; expected num_tokens * num_heads * head_size = {}",
                                 out.size(), a.num_tokens * H * D));
  write_kv_cache(params, key, value, kv_cache, *metadata.slot_mapping);

  const auto q_view = tensor::TensorView::of(query, a.dtype);
  const auto cache = tensor::TensorView::of(kv_cache, a.cache_dtype);
  const auto table = tensor::TensorView::of(*metadata.block_table, ScalarType::Int32);
  const double k_scale = a.fp8_cache ? params.k_scale : 1.0;
  const double v_scale = a.fp8_cache ? params.v_scale : 1.0;
  const double cap = params.logits_soft_cap;
  // The scale in double: ForwardArgs::scale is the float a kernel uses.
  const double scale = params.scale != 0.0f ? params.scale : 1.0 / std::sqrt(static_cast<double>(D));

  // Per request and KV head, the keys and values are first dequantised into
  // contiguous [seq][D] arrays; every query head of the group then reads them.
  std::vector<double> keys, values, logits, acc(D), q_row(D);
  for (std::int64_t r = 0; r < a.num_reqs; ++r) {
    const std::int64_t begin = read_i32(*metadata.query_start_loc, r);
    const std::int64_t q_len = read_i32(*metadata.query_start_loc, r + 1) - begin;
    const std::int64_t seq = read_i32(*metadata.seq_lens, r);
    if (q_len == 0) continue;
    keys.resize(seq * D);
    values.resize(seq * D);
    for (std::int64_t kvh = 0; kvh < a.num_kv_heads; ++kvh) {
      for (std::int64_t k = 0; k < seq; ++k) {
        const std::int64_t block = *table.ptr<const std::int32_t>(r, k / a.block_size);
        for (std::int64_t d = 0; d < D; ++d) {
          keys[k * D + d] =
              numeric::load_as_double(cache.at(0, block, k % a.block_size, kvh, d), a.cache_dtype) * k_scale;
          values[k * D + d] =
              numeric::load_as_double(cache.at(1, block, k % a.block_size, kvh, d), a.cache_dtype) * v_scale;
        }
      }
      for (std::int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
        for (std::int64_t j = 0; j < q_len; ++j) {
          const std::int64_t token = begin + j, p = seq - q_len + j;
          for (std::int64_t d = 0; d < D; ++d)
            q_row[d] = numeric::load_as_double(q_view.at(token, h, d), a.dtype);
          logits.assign(seq, -std::numeric_limits<double>::infinity());
          double max_logit =
              params.sinks ? static_cast<double>(params.sinks[h]) : -std::numeric_limits<double>::infinity();
          for (std::int64_t k = 0; k < seq; ++k) {
            if (!visible(k, p, a.causal, params.sliding_window)) continue;
            double dot = 0.0;
            for (std::int64_t d = 0; d < D; ++d) dot += q_row[d] * keys[k * D + d];
            double s = scale * dot;
            if (cap > 0.0) s = cap * std::tanh(s / cap);
            if (params.alibi_slopes)
              s += static_cast<double>(params.alibi_slopes[h]) * static_cast<double>(k - p);
            logits[k] = s;
            max_logit = std::max(max_logit, s);
          }
          double denominator =
              params.sinks ? std::exp(static_cast<double>(params.sinks[h]) - max_logit) : 0.0;
          std::fill(acc.begin(), acc.end(), 0.0);
          for (std::int64_t k = 0; k < seq; ++k) {
            if (logits[k] == -std::numeric_limits<double>::infinity()) continue;
            const double w = std::exp(logits[k] - max_logit);
            denominator += w;
            for (std::int64_t d = 0; d < D; ++d) acc[d] += w * values[k * D + d];
          }
          double* row = out.data() + (token * H + h) * D;
          for (std::int64_t d = 0; d < D; ++d) row[d] = acc[d] / denominator;
        }
      }
    }
  }
}

}  // namespace attnreg::reference
