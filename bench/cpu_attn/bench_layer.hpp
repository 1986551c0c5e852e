// The layer both CPU_ATTN benchmarks time (bench_cpu_attn and
// ab_cpu_attn_plugins): bf16, GQA 32/8, head size 128, block size 16, the
// shapes of issue 4's targets.
#pragma once

#include <attnreg/synthetic_batch.hpp>
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
/// cached ones) as a batch of the layer.
inline BatchSpec decode_spec(int batch, int context) {
  return layer_spec(std::vector<int>(batch, context - 1), std::vector<int>(batch, 1));
}

/// The fewest bytes one decode forward of that shape moves: K and V of every
/// (request, key, KV head) read once, the query read and the output written.
inline double decode_bytes(int batch, int context) {
  const double pairs = static_cast<double>(batch) * context;
  const double kv_bytes = pairs * kKvHeads * kHeadSize * 2 /*K,V*/ * 2 /*bf16*/;
  const double qo_bytes = 2.0 * batch * kHeads * kHeadSize * 2;
  return kv_bytes + qo_bytes;
}

}  // namespace attnreg::bench
