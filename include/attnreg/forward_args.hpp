// attnreg/forward_args.hpp: validation of everything AttentionImpl::forward
// receives, shared by every backend so they all refuse the same inputs with
// the same messages, before anything is written.
//
// Thread safety: both functions only read their arguments; callable from any
// thread.
#pragma once

#include <dlpack/dlpack.h>

#include <attnreg/backend.hpp>
#include <attnreg/dtype.hpp>
#include <cstdint>

namespace attnreg {

/// The sizes and resolved settings of one validated forward call.
struct ForwardArgs {
  std::int64_t num_tokens = 0;             ///< T: rows of query/key/value/output/slot_mapping
  std::int64_t num_reqs = 0;               ///< R: query_start_loc has R + 1 entries
  std::int64_t num_heads = 0;              ///< H
  std::int64_t num_kv_heads = 0;           ///< Hkv (H is a multiple of it)
  std::int64_t head_size = 0;              ///< D
  std::int64_t num_blocks = 0;             ///< kv_cache dimension 1
  std::int64_t block_size = 0;             ///< kv_cache dimension 2
  std::int64_t max_blocks_per_req = 0;     ///< block_table dimension 1
  ScalarType dtype = ScalarType::Float32;  ///< of query, key, value and output
  ScalarType cache_dtype =
      ScalarType::Float32;  ///< element type of the cache: dtype, or Float8_E4M3 (uint8 bytes)
  bool fp8_cache = false;   ///< kv_cache_dtype == "fp8_e4m3"
  float scale = 0.0f;       ///< softmax scale: params.scale, or 1/sqrt(D) when that is 0
  /// Effective causality: metadata.causal and a DECODER layer. Encoder,
  /// encoder-only and cross (encoder-decoder) attention are non-causal: each
  /// query sees all seq_len keys of its request.
  bool causal = true;
  bool index_ranges_checked = false;  ///< whether the metadata contents were checked (see below)
};

/// Throws ValueError unless params describe a layer attnreg can run:
/// num_heads > 0, num_kv_heads > 0 and dividing num_heads, head_size > 0,
/// scale >= 0 and finite, sliding_window > 0 when set, logits_soft_cap >= 0,
/// kv_cache_dtype "auto" or "fp8_e4m3", k_scale and v_scale positive and
/// finite. Backends call it in make_impl.
void validate_layer_params(const AttentionLayerParams& params);

/// Throws ValueError when a tensor that forward writes shares memory with
/// another argument: output with any of them (in-place attention is not part
/// of the contract), kv_cache with query, key, value or a metadata tensor
/// (forward writes the cache while it reads them), e.g. "kv_cache: overlaps
/// key in memory; expected a separate buffer (forward writes the cache while
/// it reads the others)". Byte extents are compared (tensor::expect_apart);
/// null metadata tensors are skipped. validate_forward_args calls it; a
/// backend with checks of its own (FLASH_ATTN) calls it too.
void expect_written_apart(const DLTensor& query, const DLTensor& key, const DLTensor& value,
                          const DLTensor& kv_cache, const AttentionMetadata& metadata,
                          const DLTensor& output);

/// Validates one forward call for a backend on `device` and returns its sizes.
/// Throws ValueError naming the tensor, what it got and what it needs.
///
/// Always checked:
///  - params (validate_layer_params);
///  - query, output: dtype bfloat16, float16 or float32, shape [T, H, D];
///    key, value: the query's dtype, shape [T, Hkv, D]; output: the query's dtype;
///  - kv_cache: shape [2, num_blocks, block_size, Hkv, D] (num_blocks >= 1,
///    block_size >= 1); dtype = query dtype for kv_cache_dtype "auto", uint8
///    for "fp8_e4m3";
///  - metadata tensors present; query_start_loc int32 [R + 1] (R >= 0);
///    seq_lens int32 [R]; block_table int32 [R, M]; slot_mapping int64 [T];
///    max_query_len >= 0, max_seq_len >= 0;
///  - every tensor on `device` (CUDA: all on the query's device id);
///  - strides (tensor::expect_usable_strides): positive, last dimension contiguous;
///    kv_cache and output, which the call writes, without two elements in the
///    same memory (tensor::expect_no_internal_overlap);
///  - output does not overlap query, key, value, kv_cache or a metadata
///    tensor, and kv_cache does not overlap query, key, value or a metadata
///    tensor (byte extents; expect_written_apart).
///
/// Checked only when check_index_ranges is true and the metadata tensors are
/// host-accessible (then index_ranges_checked is set), reading them on the host:
///  - query_start_loc starts at 0, never decreases, ends at T;
///  - q_r <= seq_lens[r] <= M * block_size, and max_query_len >= max q_r,
///    max_seq_len >= max seq_lens[r];
///  - block_table[r][0 .. ceil(seq_lens[r] / block_size)) in [0, num_blocks);
///  - each slot_mapping entry negative (padding: not written) or
///    < num_blocks * block_size, and equal to the slot the block table gives
///    the token's position (block_table[r][p / bs] * bs + p % bs). vLLM does
///    not check this last one; it is O(T) and catches metadata that would make
///    attention read keys other than the ones just written.
/// The CUDA backend passes false for device metadata and guards indices in
/// its kernels instead.
ForwardArgs validate_forward_args(const AttentionLayerParams& params, const DLTensor& query,
                                  const DLTensor& key, const DLTensor& value, const DLTensor& kv_cache,
                                  const AttentionMetadata& metadata, const DLTensor& output,
                                  DeviceType device, bool check_index_ranges = true);

}  // namespace attnreg
