// Hopper decode kernel for a 16-bit KV cache (sm_90a; included by decode.cu
// after decode_mma.cuh). The same CTA, warps and arithmetic as
// decode_mma_kernel (attend_group, merge_warps_and_store), but each warp's
// ring is filled by the tensor memory accelerator: per group of 16 keys one
// lane arms the stage's mbarrier with the group's bytes and issues one bulk
// tensor copy per 64-element slab of K and of V (16 rows x 128 bytes each,
// written with the 128-byte swizzle) through tensor maps of the two cache
// halves, instead of every lane issuing 16 cp.async copies, 8 shuffles and
// their address arithmetic per group: 39% fewer instructions at B64 L1k,
// and 0.7-2.6% faster than the cp.async kernel at 11 of the 15 points of the
// H100 decode sweep (decode step 26 of docs/notes/flash_attn.md; rows of
// many short splits stay on the cp.async kernel, which starts faster).
// - A group is one box of rows of one block, so the kernel serves batches
//   whose groups start on a multiple of 16 keys: no sliding window (a window
//   starts anywhere); block sizes are multiples of 16 already.
// - Keys past the range in a group's block are copied too (a box has 16
//   rows): their scores are masked, and their V rows (which may hold
//   anything, NaN included) are zeroed in shared memory before P*V reads
//   them. A block the table does not map (a bad entry, raising the flag) is
//   read from block num_blocks, outside the tensor, which the TMA fills with
//   zeros.
// - The block-table entry of a group is read an iteration before its copies
//   are issued and checked when they are (as the 3-stage decode_mma_kernel).
//   Split 0's first groups are read and copied before the request's
//   metadata arrives (they start at key 0 whatever its length): 2.6-3%
//   faster at B8 L1k and 1-1.8% at B8 L4k in two A/Bs, level at B64 and
//   B256 (decode step 32).
#pragma once

#include "cache_tensor_map.hpp"
#include "decode_mma.cuh"
#include "tma.cuh"

namespace attnreg::flash_attn {
namespace {

/// Where 16-byte chunk c of row r lives in one half (K or V) of a ring stage
/// as the tensor memory accelerator writes it with the 128-byte swizzle:
/// 64-element slabs of kRows rows of 128 bytes, chunk c % 8 of row r at
/// (c % 8) ^ (r % 8) within its slab. At head size 64 (one slab) this is
/// decode_mma_kernel's PitchedRows<128>.
template <int kRows>
struct SwizzledSlabs {
  static __device__ __forceinline__ int at(int r, int c) {
    return (c >> 3) * (kRows * 128) + r * 128 + (((c & 7) ^ (r & 7)) << 4);
  }
};

/// Compile-time shape of decode_tma_kernel with kStagesN-deep rings.
template <int D, int kStagesN>
struct TmaCfg {
  static constexpr int kGroup = kCacheBoxRows;  // keys a warp takes at a time (one TMA box of rows)
  static constexpr int kWarps = 4;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kTile = kGroup * kWarps;  // keys of one round of all warps (split granularity)
  static constexpr int kStages = kStagesN;
  static constexpr int kSlab = kCacheBoxCols;               // elements of one 128-byte swizzled row
  static constexpr int kSlabs = D / kSlab;                  // boxes per K (or V) half-stage
  static constexpr int kHalfBytes = kGroup * D * 2;         // K (or V) rows of one group
  static constexpr int kStageBytes = 2 * kHalfBytes;        // K half then V half
  static constexpr int kRingBytes = kStages * kStageBytes;  // per warp
  static constexpr int kMergeBytes = kWarps * kHeadsPerCta * D * 4;
  static constexpr int kBarOffset = kWarps * kRingBytes > kMergeBytes ? kWarps* kRingBytes : kMergeBytes;
  static constexpr int kAlign = 1024;  // the 128-byte swizzle's period: 8 rows of 128 bytes
  // Rings (or the merge buffer), the warps' mbarriers, and slack to align the rings.
  static constexpr int kSmem = kBarOffset + kWarps * kStages * 8 + kAlign;
  static_assert(D % kSlab == 0, "the TMA kernel reads whole 64-element slabs");
};

template <class T, int D, int HP, int kStagesN>
__global__ void __launch_bounds__(TmaCfg<D, kStagesN>::kThreads)
    decode_tma_kernel(const __grid_constant__ CUtensorMap k_map, const __grid_constant__ CUtensorMap v_map,
                      KernelParams p, int num_splits, int dq) {
#ifdef ATTNREG_HAS_WGMMA
  using Cfg = TmaCfg<D, kStagesN>;
  constexpr int kGroup = Cfg::kGroup, kWarps = Cfg::kWarps, kStages = Cfg::kStages;
  static_assert(HP <= 8, "head rows live in rows 0..7 of the mma tile");
  extern __shared__ unsigned char smem_raw[];
  __shared__ float2 s_ml[kWarps][HP];  // each warp's (max, sum) per head
  // The swizzle pattern is a function of the shared address: the rings start
  // on its 1024-byte period (wherever the static arrays leave the dynamic part).
  unsigned char* smem = smem_raw + (Cfg::kAlign - smem_addr(smem_raw) % Cfg::kAlign) % Cfg::kAlign;

  if (threadIdx.x % 32 == 0) {  // each warp's copy-issuing lane, before the metadata trips
    prefetch_tensor_map(&k_map);
    prefetch_tensor_map(&v_map);
  }
  allow_dependent_launch();  // the split merge (if any) may be scheduled as the last CTAs run
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  unsigned char* ring = smem + warp * Cfg::kRingBytes;
  std::uint64_t* full = reinterpret_cast<std::uint64_t*>(smem + Cfg::kBarOffset) + warp * kStages;
  if (lane == 0) {
#pragma unroll
    for (int s = 0; s < kStages; ++s) mbar_init(&full[s], 1);
    mbar_init_fence();
  }
  __syncwarp();
  // Lane 0 arms ring stage st and issues one group's boxes of KV head kvh's
  // K and V: 16 rows from row `row` of cache block `block` (num_blocks,
  // outside the tensor, reads zeros).
  auto copy_group = [&](int st, int kvh, int block, int row) {
    unsigned char* sk = ring + st * Cfg::kStageBytes;
    mbar_arrive_expect_tx(&full[st], Cfg::kStageBytes);
#pragma unroll
    for (int s = 0; s < Cfg::kSlabs; ++s) {
      const int col = kvh * D + s * Cfg::kSlab;
      tma_load_3d(sk + s * kGroup * 128, &k_map, col, row, block, &full[st]);
      tma_load_3d(sk + Cfg::kHalfBytes + s * kGroup * 128, &v_map, col, row, block, &full[st]);
    }
  };
  // The block a table entry names, or num_blocks for one that names none.
  auto cache_block = [&](int entry) { return entry < 0 || entry >= p.num_blocks ? p.num_blocks : entry; };
  // Split 0 starts at key 0 whatever the sequence's length (this kernel
  // serves no sliding window), so with one query token per request (the
  // request is blockIdx.z) its first groups' table entries are read together
  // with the metadata and their copies issued before it arrives: two trips
  // to DRAM fewer before the first data (decode step 32 of
  // docs/notes/flash_attn.md). An entry past the sequence is never used; a
  // copy past it is waited for and dropped.
  const bool copy_early = blockIdx.x == 0 && p.window == 0 && dq == 1;
  int early[kStages - 1];
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) early[s] = -1;
  if (copy_early) {
    const int* row = p.block_table + blockIdx.z * p.bt_stride;
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
      const int lb = (warp + s * kWarps) * kGroup / p.block_size;
      early[s] = lb < p.max_blocks_per_req ? row[lb] : -1;
    }
    if (lane == 0) {
#pragma unroll
      for (int s = 0; s < kStages - 1; ++s)
        copy_group(s, decode_kv_head<HP>(p), cache_block(early[s]),
                   (warp + s * kWarps) * kGroup % p.block_size);
    }
  }
  DecodeRow w;
  if (!decode_row<HP, Cfg::kTile>(p, num_splits, dq, w)) {
    if (copy_early) {
#pragma unroll
      for (int s = 0; s < kStages - 1; ++s) mbar_wait(&full[s], 0);  // no copy outlives the CTA
    }
    return;
  }
  const int kvh = w.kvh, hi = w.hi;
  const int* bt_row = p.block_table + w.r * p.bt_stride;

  // This warp's groups: keys [group_lo(i), group_lo(i) + 16) for i < num_groups.
  const int first = w.lo + warp * kGroup;
  const int num_groups = first < hi ? (hi - first + kWarps * kGroup - 1) / (kWarps * kGroup) : 0;
  auto group_lo = [&](int i) { return first + i * kWarps * kGroup; };

  // Every lane holds the same values below (one broadcast load per group).
  // The raw block-table entry of group i's block (a load that may still be
  // in flight), or -1 past the table's row (which raises the flag); the
  // first groups of split 0 take the entries read early.
  auto table_entry = [&](int i, bool use_early = false, int early_entry = -1) -> int {
    if (i >= num_groups) return -1;
    const int lb = group_lo(i) / p.block_size;
    if (lb >= p.max_blocks_per_req) {
      if (lane == 0) atomicOr(p.error_flag, 1);
      return -1;
    }
    return use_early ? early_entry : bt_row[lb];
  };
  // Where the TMA reads group i from (block, first row in it) and which of
  // its 16 keys count; a bad entry raises the flag and reads zeros from
  // block num_blocks with no key counting. Waits for the entry's load.
  struct GroupSource {
    int block, row;
    unsigned valid;
  };
  auto resolve = [&](int i, int entry) -> GroupSource {
    const int j0 = group_lo(i);
    const int row = j0 % p.block_size;
    if (entry < 0 || entry >= p.num_blocks) {
      if (i < num_groups && lane == 0) atomicOr(p.error_flag, 1);
      return {p.num_blocks, row, 0u};
    }
    const int n = min(kGroup, hi - j0);
    return {entry, row, n >= kGroup ? 0xffffu : (1u << n) - 1u};
  };
  // Lane 0 arms group i's stage and issues its K and V boxes.
  auto issue = [&](int i, const GroupSource& src) {
    if (lane == 0 && i < num_groups) copy_group(i % kStages, kvh, src.block, src.row);
  };

  std::uint32_t qa[D / 16][2];
  load_query_fragments<T, D>(p, w.token, w.h0, w.nh, qa);

  // Sources of the groups in flight, oldest first.
  GroupSource srcs[kStages - 1];
  {
    int entries[kStages - 1];
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) entries[s] = table_entry(s, copy_early, early[s]);  // together
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
      srcs[s] = resolve(s, entries[s]);
      if (!copy_early) issue(s, srcs[s]);
    }
    if (copy_early) {
#pragma unroll
      for (int s = 0; s < kStages - 1; ++s)
        if (s >= num_groups) mbar_wait(&full[s], 0);  // issued early for keys this row lacks
    }
  }
  int ahead = table_entry(kStages - 1);  // the next group to issue

  WarpAttention<D> wa;
  wa.reset();

  for (int i = 0; i < num_groups; ++i) {
    const GroupSource cur = srcs[0];
#pragma unroll
    for (int s = 0; s + 1 < kStages - 1; ++s) srcs[s] = srcs[s + 1];
    const int nxt = i + kStages - 1;
    srcs[kStages - 2] = resolve(nxt, ahead);
    __syncwarp();  // every lane is done with group i - 1's stage, which group nxt takes
    issue(nxt, srcs[kStages - 2]);
    ahead = table_entry(nxt + 1);

    const int st = i % kStages;
    mbar_wait(&full[st], (i / kStages) & 1);
    const unsigned char* sk = ring + st * Cfg::kStageBytes;
    unsigned char* sv = ring + st * Cfg::kStageBytes + Cfg::kHalfBytes;
    if (cur.valid != 0xffffu && cur.valid != 0u) {
      // Keys past the range: rows n..15 of V, in every slab, become zeros.
      const int n = __popc(cur.valid);
      constexpr int kChunks = Cfg::kHalfBytes / 16;
#pragma unroll
      for (int k = 0; k < kChunks / 32; ++k) {
        const int c = lane + 32 * k;
        if ((c / 8) % kGroup >= n) reinterpret_cast<uint4*>(sv)[c] = make_uint4(0u, 0u, 0u, 0u);
      }
      fence_proxy_async_shared();  // these stores come before the TMA's next write of the stage
      __syncwarp();
    }
    attend_group<T, D, SwizzledSlabs<kGroup>>(wa, qa, sk, sv, cur.valid, p.scale, p.softcap);
  }

  merge_warps_and_store<T, D, HP, kWarps>(p, num_splits, w, wa, s_ml, reinterpret_cast<float*>(smem));
#endif
}

}  // namespace
}  // namespace attnreg::flash_attn
