// The layer both CPU_ATTN benchmarks time (bench_cpu_attn and
// ab_cpu_attn_plugins): bf16, GQA 32/8, head size 128, block size 16, the
// shapes of issue 4's targets. ab_cpu_attn_plugins may change the dtypes.
#pragma once

#include <attnreg/synthetic_batch.hpp>
#include <string>
#include <utility>
#include <vector>

namespace attnreg::bench {

inline constexpr int kHeads = 32, kKvHeads = 8, kHeadSize = 128, kBlockSize = 16;

/// A batch of the layer: request i has context[i] cached and query[i] new
/// tokens. No initial cache copy is kept (no reference checks here; it
/// halves the memory).
inline BatchSpec layer_spec(std::vector<int> context, std::vector<int> query) {
  BatchSpec s;
  s.context_lens = std::move(context);
  s.query_lens = std::move(query);
  s.num_heads = kHeads;
  s.num_kv_heads = kKvHeads;
  s.head_size = kHeadSize;
  s.block_size = kBlockSize;
  s.dtype = ScalarType::BFloat16;
  s.keep_initial_cache = false;
  s.seed = 1;
  return s;
}

/// The decode shape (batch requests of one new token after context - 1
/// cached ones) as a batch of the layer, with the model and cache dtypes.
inline BatchSpec decode_spec(int batch, int context, ScalarType dtype = ScalarType::BFloat16,
                             std::string kv_cache_dtype = "auto") {
  BatchSpec s = layer_spec(std::vector<int>(batch, context - 1), std::vector<int>(batch, 1));
  s.dtype = dtype;
  s.kv_cache_dtype = std::move(kv_cache_dtype);
  return s;
}

/// The fewest bytes one decode forward of that shape moves: K and V of every
/// (request, key, KV head) read once (cache_bytes each), the query read and
/// the output written (model_bytes each).
inline double decode_bytes(int batch, int context, int model_bytes = 2, int cache_bytes = 2) {
  const double pairs = static_cast<double>(batch) * context;
  const double kv_bytes = pairs * kKvHeads * kHeadSize * 2 /*K,V*/ * cache_bytes;
  const double qo_bytes = 2.0 * batch * kHeads * kHeadSize * model_bytes;
  return kv_bytes + qo_bytes;
}

}  // namespace attnreg::bench
