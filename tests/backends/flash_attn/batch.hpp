// Random mixed batches for the FLASH_ATTN device tests and their float64
// reference. A batch has decodes and prefill chunks with cached prefixes,
// a shuffled block table with unused ("hole") blocks and -1 tails, padding
// tokens (slot -1, outside every request), a KV cache whose unused slots hold
// NaN (so reading past seq_len shows), and a NaN-poisoned output.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace attnreg::flash_attn::test {

/// What to generate.
struct BatchSpec {
  bool bf16 = true;
  bool fp8 = false;
  int num_heads = 8, num_kv_heads = 2, head_size = 128, block_size = 16;
  std::vector<std::pair<int, int>> requests;  ///< (query_len, seq_len) each
  int padding_tokens = 3;
  bool causal = true;
  std::optional<int> window;
  float softcap = 0.0f;
  bool sinks = false;
  float k_scale = 0.5f, v_scale = 0.25f;  ///< used when fp8
  unsigned seed = 1;
};

/// Host arrays of one batch, in the layouts forward() takes.
struct HostBatch {
  BatchSpec spec;
  int num_tokens = 0, num_reqs = 0, num_blocks = 0, max_blocks_per_req = 0;
  int max_query_len = 0, max_seq_len = 0;
  std::vector<std::uint16_t> q, k, v;  ///< [T, H, D], [T, Hkv, D] as bf16/fp16 bits
  std::vector<std::uint8_t> cache;     ///< [2, NB, BS, Hkv, D] raw bytes (2 or 1 per element)
  std::vector<std::int32_t> query_start_loc, seq_lens, block_table;
  std::vector<std::int64_t> slot_mapping;
  std::vector<float> sinks;  ///< [H] when spec.sinks
  /// Element bytes of the cache.
  int cache_elem() const { return spec.fp8 ? 1 : 2; }
};

/// Builds a batch from spec (deterministic in spec.seed).
HostBatch make_batch(const BatchSpec& spec);

/// The float64 reference output [T, H, D]; rows of padding tokens are NaN.
/// scale = 0 means 1/sqrt(head_size).
std::vector<double> reference_output(const HostBatch& b, float scale = 0.0f);

/// The cache as forward() must leave it: the batch's cache with this step's
/// K/V (quantised to the cache dtype) at their slots.
std::vector<std::uint8_t> expected_cache(const HostBatch& b);

}  // namespace attnreg::flash_attn::test
