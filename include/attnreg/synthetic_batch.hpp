// attnreg/synthetic_batch.hpp: a realistic mixed batch on the host, owning
// every buffer a forward call needs, for tests, `attnreg run --check`,
// benchmarks and Python.
//
// Request r has context_lens[r] tokens already in the KV cache (random
// history, written at build time) and query_lens[r] new tokens this step, so
// chunked prefills (context > 0, query > 1), first prefills (context 0) and
// decodes (query 1) mix freely. Optional padding tokens form one trailing
// request whose slots are all -1 (nothing is written for them), as a
// CUDA-graph padded batch has. The output is poisoned with NaN so unwritten
// elements fail a comparison.
//
// Thread safety: a SyntheticBatch is not synchronised; const methods may run
// concurrently with each other, not with a forward writing its cache/output.
#pragma once

#include <dlpack/dlpack.h>

#include <array>
#include <attnreg/backend.hpp>
#include <attnreg/dtype.hpp>
#include <attnreg/reference.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attnreg {

/// What batch to build.
struct BatchSpec {
  std::vector<int> context_lens;  ///< tokens already cached, per request
  std::vector<int> query_lens;    ///< new tokens this step, per request (same length as context_lens)
  int num_heads = 8;
  int num_kv_heads = 8;
  int head_size = 64;
  int block_size = 16;
  ScalarType dtype = ScalarType::Float32;  ///< query/key/value/output: Float32, Float16 or BFloat16
  std::string kv_cache_dtype = "auto";     ///< "auto" or "fp8_e4m3"
  int num_padding_tokens = 0;              ///< extra tokens in a trailing request with slots -1
  /// Give requests random, non-contiguous blocks: the cache gets twice the
  /// blocks needed (plus one) and each request's blocks are drawn at random
  /// from them, leaving holes. Otherwise blocks are handed out in order.
  bool shuffle_blocks = false;
  /// Extra unused block_table columns per request (filled with 0, as vLLM
  /// does), so max_blocks_per_req exceeds what any request needs.
  int extra_block_table_columns = 0;
  /// Store the cache non-contiguously: physically [num_blocks][2][block_size]
  /// [Hkv][D + 8], viewed as [2, num_blocks, block_size, Hkv, D] through strides.
  bool strided_cache = false;
  /// Store the cache physically as [2, num_blocks, Hkv, block_size, D] (each
  /// block holds one KV head's rows together: the "HND" page layout of
  /// vLLM's CPU_ATTN and FlashInfer backends), viewed as [2, num_blocks,
  /// block_size, Hkv, D] through strides. Not together with strided_cache.
  bool head_major_cache = false;
  std::uint64_t seed = 0;  ///< all random data derives from it
  // ---- layer features (copied into params() / metadata()) ----
  bool causal = true;
  AttentionType attn_type = AttentionType::DECODER;
  std::optional<int> sliding_window;
  float logits_soft_cap = 0.0f;
  float scale = 0.0f;      ///< 0 = 1/sqrt(head_size)
  bool use_sinks = false;  ///< random sinks in [-1, 1] per head
  bool use_alibi = false;  ///< ALiBi slopes 2^(-8 (h + 1) / H)
  float k_scale = 1.0f, v_scale = 1.0f;
  /// Keep a copy of the cache as built, for expected_kv_cache() and
  /// reference_output(); benchmarks of huge batches may turn it off.
  bool keep_initial_cache = true;
};

/// The buffers, DLTensor views and metadata of one batch (see the file comment).
/// Not copyable or movable: the views point into the object itself.
class SyntheticBatch {
 public:
  /// Builds the batch: random query/key/value in [-1, 1], a cache full of
  /// random values (every block, used or not, so a stray read is finite), the
  /// request history written at its slots, NaN output. Throws ValueError for
  /// an inconsistent spec (sizes differ, negative lengths, non-positive sizes,
  /// unsupported dtype or kv_cache_dtype, a request of 0 tokens in total).
  explicit SyntheticBatch(BatchSpec spec);
  SyntheticBatch(const SyntheticBatch&) = delete;
  SyntheticBatch& operator=(const SyntheticBatch&) = delete;

  const BatchSpec& spec() const noexcept { return spec_; }
  std::int64_t num_tokens() const noexcept { return num_tokens_; }  ///< including padding tokens
  std::int64_t num_reqs() const noexcept { return num_reqs_; }      ///< including the padding request
  std::int64_t num_blocks() const noexcept { return num_blocks_; }

  const DLTensor& query() const noexcept { return tensors_[kQuery]; }
  const DLTensor& key() const noexcept { return tensors_[kKey]; }
  const DLTensor& value() const noexcept { return tensors_[kValue]; }
  const DLTensor& kv_cache() const noexcept { return tensors_[kCache]; }
  const DLTensor& output() const noexcept { return tensors_[kOutput]; }
  const DLTensor& query_start_loc() const noexcept { return tensors_[kQueryStartLoc]; }
  const DLTensor& seq_lens() const noexcept { return tensors_[kSeqLens]; }
  const DLTensor& block_table() const noexcept { return tensors_[kBlockTable]; }
  const DLTensor& slot_mapping() const noexcept { return tensors_[kSlotMapping]; }
  const AttentionMetadata& metadata() const noexcept { return metadata_; }
  const AttentionLayerParams& params() const noexcept { return params_; }

  /// Mutable host views of the buffers (for tests that corrupt one field).
  std::vector<std::byte>& output_bytes() noexcept { return output_; }
  std::vector<std::byte>& cache_bytes() noexcept { return cache_; }
  std::vector<std::int32_t>& query_start_loc_values() noexcept { return query_start_loc_; }
  std::vector<std::int32_t>& seq_lens_values() noexcept { return seq_lens_; }
  std::vector<std::int32_t>& block_table_values() noexcept { return block_table_; }
  std::vector<std::int64_t>& slot_mapping_values() noexcept { return slot_mapping_; }

  /// Fills the output with NaN again.
  void poison_output();
  /// Restores the cache as built (needs keep_initial_cache).
  void reset_cache();

  /// The reference output [T, H, D] row-major: reference::forward on a copy of
  /// the cache as built (needs keep_initial_cache). Costs O(sum q_r * seq_r * H * D).
  std::vector<double> reference_output() const;
  /// reference::compare(output(), reference_output(), tolerance for the spec's dtypes).
  reference::Comparison check_output() const;
  /// The cache as a correct forward leaves it: the initial cache with the new
  /// tokens written (reference::write_kv_cache). Needs keep_initial_cache.
  std::vector<std::byte> expected_kv_cache() const;
  /// nullopt when the cache equals expected_kv_cache() byte for byte (padding
  /// bytes of a strided cache ignored), else the first differing element, e.g.
  /// "kv_cache[1, 3, 5, 0, 17] = 0x3c00, expected 0x3c01".
  std::optional<std::string> check_kv_cache() const;

 private:
  enum Slot {
    kQuery,
    kKey,
    kValue,
    kCache,
    kOutput,
    kQueryStartLoc,
    kSeqLens,
    kBlockTable,
    kSlotMapping,
    kNum
  };
  void require_initial_cache(const char* what) const;

  BatchSpec spec_;
  std::int64_t num_tokens_ = 0, num_reqs_ = 0, num_blocks_ = 0, max_blocks_per_req_ = 0;
  std::vector<std::byte> query_, key_, value_, cache_, initial_cache_, output_;
  std::vector<std::int32_t> query_start_loc_, seq_lens_, block_table_;
  std::vector<std::int64_t> slot_mapping_;
  std::vector<float> sinks_, alibi_slopes_;
  std::array<std::array<std::int64_t, 5>, kNum> shapes_{};
  std::array<std::int64_t, 5> cache_strides_{};
  std::array<DLTensor, kNum> tensors_{};
  AttentionMetadata metadata_;
  AttentionLayerParams params_;
};

}  // namespace attnreg
