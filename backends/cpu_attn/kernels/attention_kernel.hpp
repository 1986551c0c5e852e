// The CPU_ATTN attention kernel: paged, variable-length, mixed batch, online
// softmax over tiles of keys (flash-attention style), Highway SIMD with
// run-time dispatch, OpenMP over (request, KV head, query block, KV split)
// work items, split-KV with a log-sum-exp merge so one long decode uses every
// core.
//
// Thread safety: run_attention uses the Workspace it is given and writes only
// `out`; one call per Workspace at a time. Distinct Workspaces may run
// concurrently (they then share the OpenMP pool).
#pragma once

#include <attnreg/forward_args.hpp>
#include <attnreg/tensor.hpp>
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace attnreg::cpu_attn {

/// Keys per tile: a tile's fp32 K and V rows (2 * 64 * 256 * 4 bytes at most)
/// stay in L2 while every query row of a work item reads them. 64 rather than
/// 32 halves each row's per-tile work (the softmax's reductions and scalar
/// exp, the accumulators' rescale), 6-10% of a vdpbf16ps prefill (notes,
/// attempt 75).
inline constexpr int kTileKeys = 64;
/// Query rows (query tokens x heads of one KV group) a work item takes at most.
inline constexpr int kMaxItemRows = 64;
/// A split of a long KV range gets at least this many keys, so merge costs stay small.
inline constexpr int kMinSplitKeys = 512;
/// Decode-like items (few rows) cut their keys into chunks of this many, so
/// all KV heads of one chunk run close together in time (see Workspace::order).
inline constexpr int kLocalityChunkKeys = 1024;
/// A split of a decode item (one query token, all KV heads) gets at least this many keys.
inline constexpr int kMinDecodeSplitKeys = 256;
/// Work items per thread the planner aims for when it splits decode items.
inline constexpr int kDecodeItemsPerThread = 8;

/// Everything a forward call's attention reads, resolved from validated tensors.
struct KernelArgs {
  ForwardArgs sizes;
  tensor::TensorView query;                       ///< [T, H, D]
  tensor::TensorView output;                      ///< [T, H, D]
  tensor::TensorView cache;                       ///< [2, num_blocks, block_size, Hkv, D], cache element type
  const std::int32_t* query_start_loc = nullptr;  ///< [R + 1]
  const std::int32_t* seq_lens = nullptr;         ///< [R]
  const std::int32_t* block_table = nullptr;      ///< [R, M] with row stride block_table_stride
  std::int64_t block_table_stride = 0;            ///< elements between block-table rows
  const float* sinks = nullptr;                   ///< [H] or null
  const float* alibi_slopes = nullptr;            ///< [H] or null
  float logits_soft_cap = 0.0f;                   ///< 0 = off
  int sliding_window = 0;                         ///< 0 = off
  const float* fp8_k_lut = nullptr;               ///< fp8 caches: 256 dequantised keys (k_scale applied)
  const float* fp8_v_lut = nullptr;               ///< fp8 caches: 256 dequantised values (v_scale applied)
  float k_scale = 1.0f, v_scale = 1.0f;           ///< fp8 caches: the scales (for the widening in registers)
};

/// One unit of parallel work: some query tokens of one request against one KV
/// head's key range (all of it, or one split of it). kv_head = -1 marks a
/// decode item: the single query token of a request against every KV head,
/// so each cache row (all heads of one slot) is read contiguously; its rows
/// (and partial rows) are the query heads in order.
struct WorkItem {
  std::int32_t req = 0, kv_head = 0;
  std::int32_t token_begin = 0, num_tokens = 0;  ///< global token rows of query/output
  std::int32_t first_pos = 0;                    ///< sequence position of token_begin
  std::int32_t key_begin = 0, key_end = 0;       ///< keys [key_begin, key_end) of this split
  std::int32_t num_splits = 1;                   ///< splits of this (req, kv_head, tokens) group
  std::int64_t partial_offset = -1;              ///< floats into Workspace::partials (splits only)
};

/// Allocates whole cache lines: a buffer starts on a line and no other
/// buffer shares its last line, so the two threads' scratch (allocated
/// together) never share a line and vector loads of a row do not straddle
/// two (notes, attempt 56).
template <class T>
struct LineAllocator {
  using value_type = T;
  static constexpr std::size_t kLine = 64;
  LineAllocator() = default;
  template <class U>
  LineAllocator(const LineAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    const std::size_t bytes = (n * sizeof(T) + kLine - 1) / kLine * kLine;
    return static_cast<T*>(::operator new (bytes, std::align_val_t{kLine}));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete (p, std::align_val_t{kLine}); }
  template <class U>
  bool operator==(const LineAllocator<U>&) const noexcept {
    return true;
  }
};
template <class T>
using LineVector = std::vector<T, LineAllocator<T>>;

/// Per-thread scratch of one worker: query rows, accumulators, a converted tile.
struct ThreadScratch {
  LineVector<float> q, acc, m, l, scores, k_tile, v_tile;
  LineVector<float> k_pairs;  ///< a tile's bf16 keys transposed into element pairs (PackKeysBF16)
  LineVector<float> pv_sink;  ///< P.V of the rows a vdpbf16ps pass of fewer than 4 rows pads with
  LineVector<const float*> k_rows, v_rows;
  LineVector<const std::byte*> k_src, v_src;  ///< decode items: per key, the cache row of all KV heads
  LineVector<std::int32_t> lo, hi, active;
};

/// Reusable buffers of an AttentionImpl. They only grow, so steady-state
/// forward calls do not allocate.
struct Workspace {
  std::vector<WorkItem> items;
  /// Execution order of items: by request, then key range, then KV head, so
  /// the threads walk one region of the cache (whose rows interleave the KV
  /// heads) together instead of each head sweeping every page separately.
  std::vector<std::int32_t> order;
  std::vector<std::int32_t> merge_groups;  ///< index of the first item of each split group
  LineVector<float> partials;              ///< per split: rows x (m, l, acc[D])
  std::vector<ThreadScratch> threads;
};

/// Attention of every query token into args.output (the cache already holds
/// this step's keys and values).
void run_attention(const KernelArgs& args, Workspace& workspace);

/// Name of the Highway target run_attention dispatches to on this CPU, e.g. "AVX2".
const char* dispatched_target();

}  // namespace attnreg::cpu_attn
