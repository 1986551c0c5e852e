// Tensor-core decode kernel for a 16-bit (fp16/bf16) or fp8 (e4m3) KV
// cache (fp8 rows are widened in registers: decode_fp8_frags.cuh); included
// by decode.cu only. One CTA serves one query token, up to HP query heads of
// one KV head and one split of the visible key range, like the CUDA-core
// kernel, but its warps work independently until the end:
//   - the split's keys are dealt out to the warps in groups of 16 (warp w
//     takes groups w, w + kWarps, ...); each warp streams its groups' K and V
//     rows through its own cp.async ring (2 or 3 stages) in shared memory,
//     gathering the row offsets through the block table one group ahead, so
//     the loop has no CTA-wide barrier;
//   - rows sit at a power-of-two pitch with their 16-byte chunks permuted
//     (chunk c of row r at c ^ (r % 8), PitchedRows): ldmatrix is conflict-free, and each
//     128-byte line of the cache lands in one aligned 128-byte piece of
//     shared memory. (Rows padded by 16 bytes instead made the copies of
//     every line straddle two pieces, which cost 1.5x the L2 sector lookups
//     and 2.6x the requests per byte: decode step 10.)
//   - scores are m16n8k16 mma with the HP query heads as the rows of A
//     (padded to 16 with zeros, kept in registers for the whole kernel) and
//     the 16 K rows as B (ldmatrix, no conversion);
//   - the online softmax runs on the score fragments in registers (a head's
//     row lives in 4 lanes), and those fragments, rounded to the input type
//     as FlashAttention does, are the B operand of the transposed product
//     O^T += V^T P^T (V^T via ldmatrix.trans as A: 16 output dims per mma,
//     no padding rows);
//   - at the end the warps' (max, sum, output) are combined through shared
//     memory with a log-sum-exp merge.
// Why: the earlier kernel (warps splitting each 64-key tile, three CTA
// barriers per tile) reached 83-86% of DRAM bandwidth on the H200 while a
// copy-only probe of the same ring reads 93% (decode step 9 of
// docs/notes/flash_attn.md).
#pragma once

#include "common.cuh"
#include "decode_row.cuh"
#include "ptx.cuh"

namespace attnreg::flash_attn {
namespace {

/// mma16816 with only rows 0..7 of A given (a0: k 0..7, a2: k 8..15); rows
/// 8..15 are the zero padding of the query-head rows.
template <class T>
__device__ __forceinline__ void mma16816_top_rows(float (&c)[4], std::uint32_t a0, std::uint32_t a2,
                                                  std::uint32_t b0, std::uint32_t b1) {
  mma16816<T>(c, {a0, 0u, a2, 0u}, b0, b1);
}

/// Where 16-byte chunk c of row r lives in one half (K or V) of a ring stage
/// of the tensor-core kernel: rows at a power-of-two pitch kPitch, chunk c
/// at c ^ (r % 8) (decode_mma_kernel's own cp.async copies place them so).
template <int kPitch>
struct PitchedRows {
  static __device__ __forceinline__ int at(int r, int c) { return r * kPitch + ((c ^ (r & 7)) << 4); }
};

/// One warp's share of a decode CTA's attention over its key groups: the
/// running max of head g (the same in its 4 lanes), this lane's share of
/// that head's running sum, and the output transposed (m-tile mt holds dims
/// 16 mt + g (e 0, 1) and 16 mt + g + 8 (e 2, 3) of heads 2 t4 + (e % 2)).
template <int D>
struct WarpAttention {
  float acc[D / 16][4];
  float m_run;
  float l_part;

  __device__ __forceinline__ void reset() {
#pragma unroll
    for (int mt = 0; mt < D / 16; ++mt)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[mt][e] = 0.0f;
    m_run = -INFINITY;
    l_part = 0.0f;
  }
};

/// The query rows of a decode CTA as the A operand of the score mma (row g =
/// head h0 + g; rows >= nh and 8..15 are 0).
template <class T, int D>
__device__ __forceinline__ void load_query_fragments(const KernelParams& p, int token, int h0, int nh,
                                                     std::uint32_t (&qa)[D / 16][2]) {
  const int g = (threadIdx.x % 32) / 4, t4 = threadIdx.x % 4;
  const T* qrow = static_cast<const T*>(p.q) + token * p.q_stride_t + (h0 + g) * p.q_stride_h;
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks) {
    qa[ks][0] = g < nh ? *reinterpret_cast<const std::uint32_t*>(qrow + ks * 16 + 2 * t4) : 0u;
    qa[ks][1] = g < nh ? *reinterpret_cast<const std::uint32_t*>(qrow + ks * 16 + 8 + 2 * t4) : 0u;
  }
}

/// One group's probabilities as P^T's B fragments (keys 2 t4, 2 t4 + 1 in
/// b0, keys 8 + 2 t4, 9 + 2 t4 in b1, of head g, rounded to the mma type M)
/// and the factors that rescale the accumulators of heads 2 t4 and 2 t4 + 1.
struct GroupProbabilities {
  std::uint32_t b0, b1;
  float corr_lo, corr_hi;
};

/// The online softmax of one group of 16 keys on its score fragments (sc[nt][e]:
/// key 8 nt + 2 t4 + e of head g; head g's 16 scores are in lanes
/// 4g..4g+3): updates w's running max and sum and returns the probabilities.
template <class M, int D>
__device__ __forceinline__ GroupProbabilities online_softmax(WarpAttention<D>& w, const float (&sc)[2][2]) {
  const int t4 = threadIdx.x % 4;
  float mx = fmaxf(fmaxf(sc[0][0], sc[0][1]), fmaxf(sc[1][0], sc[1][1]));
  mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
  mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
  const float m_new = fmaxf(w.m_run, mx);
  const float corr = m_new == -INFINITY ? 1.0f : __expf(w.m_run - m_new);
  w.m_run = m_new;
  float pr[2][2];
#pragma unroll
  for (int nt = 0; nt < 2; ++nt)
#pragma unroll
    for (int e = 0; e < 2; ++e) pr[nt][e] = m_new == -INFINITY ? 0.0f : __expf(sc[nt][e] - m_new);
  w.l_part = w.l_part * corr + (pr[0][0] + pr[0][1]) + (pr[1][0] + pr[1][1]);
  GroupProbabilities pb;
  pb.b0 = pack2<M>(pr[0][0], pr[0][1]);
  pb.b1 = pack2<M>(pr[1][0], pr[1][1]);
  pb.corr_lo = __shfl_sync(0xffffffffu, corr, 8 * t4);      // head 2 t4
  pb.corr_hi = __shfl_sync(0xffffffffu, corr, 8 * t4 + 4);  // head 2 t4 + 1
  return pb;
}

/// acc (one m-tile of O^T: 16 dims x 8 heads) rescaled by the group's
/// correction, plus V^T (A fragment a, 16 dims x the group's 16 keys) P^T.
template <class M>
__device__ __forceinline__ void accumulate_values(float (&acc)[4], const std::uint32_t (&a)[4],
                                                  const GroupProbabilities& pb) {
  acc[0] *= pb.corr_lo;
  acc[1] *= pb.corr_hi;
  acc[2] *= pb.corr_lo;
  acc[3] *= pb.corr_hi;
  mma16816<M>(acc, a, pb.b0, pb.b1);
}

/// Attends one group of 16 keys whose K rows are at sk and V rows at sv,
/// Layout::at(row, chunk) locating 16-byte chunks in either; bit kk of valid
/// says key kk counts (the others score -inf, and their V rows must be
/// finite: zero-filled or real keys, since P = 0 times NaN is NaN).
template <class T, int D, class Layout>
__device__ __forceinline__ void attend_group(WarpAttention<D>& w, const std::uint32_t (&qa)[D / 16][2],
                                             const unsigned char* sk, const unsigned char* sv, unsigned valid,
                                             float scale, float softcap) {
  const int lane = threadIdx.x % 32, t4 = lane % 4;
  // ---- scores: n-tile h covers keys 8h..8h+7; two accumulators per n-tile halve the chain ----
  float sc[2][2];
#pragma unroll
  for (int nt = 0; nt < 2; ++nt) {
    float c0[4] = {0.0f, 0.0f, 0.0f, 0.0f}, c1[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int kp = 0; kp < D / 32; ++kp) {
      std::uint32_t b[4];
      ldmatrix_x4(b, sk + Layout::at(nt * 8 + lane % 8, kp * 4 + lane / 8));
      mma16816_top_rows<T>(c0, qa[2 * kp][0], qa[2 * kp][1], b[0], b[1]);
      mma16816_top_rows<T>(c1, qa[2 * kp + 1][0], qa[2 * kp + 1][1], b[2], b[3]);
    }
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int kk = nt * 8 + 2 * t4 + e;
      sc[nt][e] = (valid >> kk) & 1u ? soft_cap((c0[e] + c1[e]) * scale, softcap) : -INFINITY;
    }
  }
  const GroupProbabilities pb = online_softmax<T>(w, sc);
  // ---- values, transposed: O^T (dims x heads) += V^T P^T. The score
  // fragments are already P^T's B fragments (keys 2 t4.., head g), and no
  // mma row is padding (O = P V with heads as rows wasted half of them) ----
#pragma unroll
  for (int mt = 0; mt < D / 16; ++mt) {
    std::uint32_t a[4];
    ldmatrix_x4_trans(a, sv + Layout::at(lane % 8 + 8 * (lane / 16), 2 * mt + (lane / 8) % 2));
    accumulate_values<T>(w.acc[mt], a, pb);
  }
}

}  // namespace
}  // namespace attnreg::flash_attn

#include "decode_fp8_frags.cuh"

namespace attnreg::flash_attn {
namespace {

/// Combines the kWarps warps' WarpAttention (log-sum-exp merge) through
/// s_ml and s_acc (kWarps x HP x D floats, memory no copy writes any more)
/// and stores the CTA's result for row w. Every thread of the CTA calls it.
/// kFp8: the accumulators hold the fp8 kernel's dimension order
/// (fp8_output_dim) and are scaled by v_scale.
template <class T, int D, int HP, int kWarps, bool kFp8 = false>
__device__ __forceinline__ void merge_warps_and_store(const KernelParams& p, int num_splits,
                                                      const DecodeRow& w, const WarpAttention<D>& wa,
                                                      float2 (&s_ml)[kWarps][HP], float* s_acc) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t4 = lane % 4;
  const int nh = w.nh;
  float l_sum = wa.l_part;
  l_sum += __shfl_xor_sync(0xffffffffu, l_sum, 1);
  l_sum += __shfl_xor_sync(0xffffffffu, l_sum, 2);
  if (t4 == 0 && g < HP) s_ml[warp][g] = make_float2(wa.m_run, l_sum);
  __syncthreads();  // every warp left its loop (the rings become the merge buffer); s_ml complete
#pragma unroll
  for (int e = 0; e < 2; ++e) {
    const int h = 2 * t4 + e;
    if (h < nh) {
      float m_all = -INFINITY;
#pragma unroll
      for (int v = 0; v < kWarps; ++v) m_all = fmaxf(m_all, s_ml[v][h].x);
      const float m_own = s_ml[warp][h].x;
      float wgt = m_own == -INFINITY ? 0.0f : __expf(m_own - m_all);
      if constexpr (kFp8) wgt *= p.v_scale;
#pragma unroll
      for (int mt = 0; mt < D / 16; ++mt) {
        const int d0 = kFp8 ? fp8_output_dim<D>(mt, g, 0) : 16 * mt + g;
        const int d1 = kFp8 ? fp8_output_dim<D>(mt, g, 1) : 16 * mt + g + 8;
        s_acc[(warp * HP + h) * D + d0] = wa.acc[mt][e] * wgt;
        s_acc[(warp * HP + h) * D + d1] = wa.acc[mt][e + 2] * wgt;
      }
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < nh * D; idx += kWarps * 32) {
    const int h = idx / D, d = idx % D;
    float m_all = -INFINITY;
#pragma unroll
    for (int v = 0; v < kWarps; ++v) m_all = fmaxf(m_all, s_ml[v][h].x);
    float a = 0.0f, sum = 0.0f;
#pragma unroll
    for (int v = 0; v < kWarps; ++v) {
      const float2 ml = s_ml[v][h];
      sum += ml.x == -INFINITY ? 0.0f : ml.y * __expf(ml.x - m_all);
      a += s_acc[(v * HP + h) * D + d];
    }
    store_decode_result<T, D>(p, num_splits, w.split, w.token, w.h0 + h, d, m_all, sum, a);
  }
}

/// Compile-time shape of the tensor-core decode kernel with kStagesN-deep
/// rings of kElem-byte elements: for a 16-bit cache 3 stages (at head 128, 96
/// KB per CTA: 2 CTAs and 8 warps per SM on the H100/H200) or 2 (64 KB: 3
/// CTAs, 12 warps); plan_decode picks one per batch. An fp8 cache's rings are
/// half as large.
template <int D, int kStagesN, int kElem = 2>
struct MmaCfg {
  static constexpr int kGroup = 16;  // keys a warp takes at a time
  static constexpr int kWarps = 4;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kTile = kGroup * kWarps;  // keys of one round of all warps (split granularity)
  static constexpr int kStages = kStagesN;
  static constexpr int kRowBytes = D * kElem;
  static constexpr int kUnits = kRowBytes / 16;
  static constexpr int kPitch = kRowBytes <= 128 ? 128 : kRowBytes <= 256 ? 256 : 512;
  static constexpr int kStageBytes = 2 * kGroup * kPitch;   // K rows then V rows
  static constexpr int kRingBytes = kStages * kStageBytes;  // per warp
  static constexpr int kMergeBytes = kWarps * kHeadsPerCta * D * 4;
  static constexpr int kSmem = kWarps * kRingBytes > kMergeBytes ? kWarps* kRingBytes : kMergeBytes;
  // Bound on decode_mma_kernel's static __shared__ arrays (static_assert'ed there).
  static constexpr int kStaticSmem = kWarps * kHeadsPerCta * 8;
  static constexpr int kCopies = kGroup * kUnits / 32;  // 16-byte copies per lane per group, K or V
  static_assert(kGroup * kUnits % 32 == 0 && D % 32 == 0 && kRowBytes <= kPitch, "shape");
};

template <class T, int D, int HP, int kStagesN, bool kFp8 = false>
__global__ void __launch_bounds__(MmaCfg<D, kStagesN>::kThreads)
    decode_mma_kernel(KernelParams p, int num_splits, int dq) {
  using Cfg = MmaCfg<D, kStagesN, kCacheElemBytes<kFp8>>;
  constexpr int kGroup = Cfg::kGroup, kWarps = Cfg::kWarps, kStages = Cfg::kStages, kPitch = Cfg::kPitch;
  constexpr int kKSteps = D / 16;
  static_assert(HP <= 8, "head rows live in rows 0..7 of the mma tile");
  extern __shared__ __align__(128) unsigned char smem[];  // 128-byte pieces: see PitchedRows
  __shared__ float2 s_ml[kWarps][HP];                     // each warp's (max, sum) per head
  static_assert(HP <= kHeadsPerCta && sizeof(s_ml) <= Cfg::kStaticSmem,
                "static shared memory beyond what decode_shared_memory counts");
  // The dynamic shared memory is placed after the static arrays, so these
  // must keep the rings 128-byte aligned: with 144 static bytes, every
  // 128-byte line of the cache landed across two pieces of a ring, doubling
  // the L2 sectors and shared-memory wavefronts per copy (8-14% slower,
  // decode step 23 of docs/notes/flash_attn.md).
  static_assert(sizeof(s_ml) % 128 == 0, "static shared memory must keep the rings 128-byte aligned");

  allow_dependent_launch();  // the split merge (if any) may be scheduled as the last CTAs run
  DecodeRow w;
  if (!decode_row<HP, Cfg::kTile>(p, num_splits, dq, w)) return;
  const int kvh = w.kvh, lo = w.lo, hi = w.hi;

  const int* bt_row = p.block_table + w.r * p.bt_stride;
  const unsigned char* kbase = static_cast<const unsigned char*>(p.k_cache) + kvh * Cfg::kRowBytes;
  const unsigned char* vbase = static_cast<const unsigned char*>(p.v_cache) + kvh * Cfg::kRowBytes;
  const long long row_stride = static_cast<long long>(p.num_kv_heads) * Cfg::kRowBytes;
  const long long block_stride = p.cache_stride_block * kCacheElemBytes<kFp8>;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  unsigned char* ring = smem + warp * Cfg::kRingBytes;
  // This warp's groups: keys [group_lo(i), group_lo(i) + 16) for i < num_groups.
  const int first = lo + warp * kGroup;
  const int num_groups = first < hi ? (hi - first + kWarps * kGroup - 1) / (kWarps * kGroup) : 0;
  auto group_lo = [&](int i) { return first + i * kWarps * kGroup; };

  // Where the row of key `lane` (lanes < 16) of group i lives: its slot in
  // its block (high half; -1 = masked: past the range, or a block past
  // max_blocks_per_req, which raises the flag) and its block table entry
  // (low half), a load that may still be in flight.
  constexpr long long kMaskedRow = -(1ll << 32);  // slot -1, entry 0
  auto row_request = [&](int i) -> long long {
    const int j = group_lo(i) + lane;
    if (lane >= kGroup || i >= num_groups || j >= hi) return kMaskedRow;
    const int lb = j / p.block_size;
    if (lb >= p.max_blocks_per_req) {
      atomicOr(p.error_flag, 1);
      return kMaskedRow;
    }
    return (static_cast<long long>(j - lb * p.block_size) << 32) | static_cast<unsigned>(bt_row[lb]);
  };
  // The byte offset of a row_request's row; -1 = masked, or a bad block
  // table entry (which raises the flag). Uses the table entry, so waits for
  // its load.
  auto row_offset = [&](long long req) -> long long {
    const int slot = static_cast<int>(req >> 32), b = static_cast<int>(req);
    if (slot < 0) return -1;
    if (b < 0 || b >= p.num_blocks) {
      atomicOr(p.error_flag, 1);
      return -1;
    }
    return b * block_stride + slot * row_stride;
  };
  // With 3 stages the table entry read for a group is checked only when its
  // copies are issued, an iteration later: checking it at once made each
  // warp wait for the read right after asking for it (15% of the stall
  // samples at B8 L64k). On the H100 this gave B1 L16k +3% and B1 L1k +1.4%,
  // the other points level; in the persistent kernel of decode step 23 the
  // same change cost the 2-stage plans 1.3-2%, so they keep the immediate
  // check (decode step 25 of docs/notes/flash_attn.md).
  constexpr bool kDeferTableCheck = kStages == 3;
  // What the lookahead holds for group i: its row_request, or (table checked
  // at once) its row_offset.
  auto lookahead = [&](int i) -> long long {
    return kDeferTableCheck ? row_request(i) : row_offset(row_request(i));
  };
  // Copies of group i's rows (offsets in lanes 0..15 of `off`) into its stage.
  // Keys past the range are zero-filled (so that P = 0 times V is 0); a
  // group whose keys are all in range uses the copy without the zero-fill
  // operand (+3-5% at B 64-256 on the H200, decode step 8), and a bad block's
  // rows (an error the flag reports) then read row 0 of block 0.
  auto load_group = [&](int i, long long off) {
    unsigned char* sk = ring + (i % kStages) * Cfg::kStageBytes;
    unsigned char* sv = sk + kGroup * kPitch;
    const bool full = group_lo(i) + kGroup <= hi;
#pragma unroll
    for (int it = 0; it < Cfg::kCopies; ++it) {
      const int u_all = lane + it * 32;
      const int kk = u_all / Cfg::kUnits, u = u_all % Cfg::kUnits;
      const long long o = __shfl_sync(0xffffffffu, off, kk);
      const bool ok = o >= 0;
      const int at = PitchedRows<kPitch>::at(kk, u);
      if (full) {
        cp_async16_l2(sk + at, (ok ? kbase + o : kbase) + u * 16);
        cp_async16_l2(sv + at, (ok ? vbase + o : vbase) + u * 16);
      } else {
        cp_async16_l2(sk + at, ok ? kbase + o + u * 16 : kbase, ok);
        cp_async16_l2(sv + at, ok ? vbase + o + u * 16 : vbase, ok);
      }
    }
  };

  std::uint32_t qa[kKSteps][2];
  if constexpr (kFp8) {
    load_query_fragments_fp8<T, D>(p, w.token, w.h0, w.nh, qa);
  } else {
    load_query_fragments<T, D>(p, w.token, w.h0, w.nh, qa);
  }

  // Offsets of group i live in a register of lanes 0..15 from when its copies
  // are issued until it is consumed.
  long long offs[kStages - 1];
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) offs[s] = row_request(s);  // the table reads together
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    offs[s] = row_offset(offs[s]);
    if (s < num_groups) load_group(s, offs[s]);
    cp_async_commit();
  }
  long long ahead = lookahead(kStages - 1);  // the next group to issue

  WarpAttention<D> wa;
  wa.reset();

  for (int i = 0; i < num_groups; ++i) {
    const long long off = offs[0];
#pragma unroll
    for (int s = 0; s + 1 < kStages - 1; ++s) offs[s] = offs[s + 1];
    cp_async_wait<kStages - 2>();
    __syncwarp();  // group i landed for every lane; group i - 1's stage is consumed
    offs[kStages - 2] = kDeferTableCheck ? row_offset(ahead) : ahead;
    const int nxt = i + kStages - 1;
    if (nxt < num_groups) load_group(nxt, offs[kStages - 2]);
    cp_async_commit();
    ahead = lookahead(nxt + 1);
    const unsigned valid = __ballot_sync(0xffffffffu, off >= 0);  // bit kk: key kk of group i

    const unsigned char* sk = ring + (i % kStages) * Cfg::kStageBytes;
    if constexpr (kFp8) {
      attend_group_fp8<D, kPitch>(wa, qa, sk, sk + kGroup * kPitch, valid, p.scale * p.k_scale, p.softcap);
    } else {
      attend_group<T, D, PitchedRows<kPitch>>(wa, qa, sk, sk + kGroup * kPitch, valid, p.scale, p.softcap);
    }
  }
  cp_async_wait<0>();

  merge_warps_and_store<T, D, HP, kWarps, kFp8>(p, num_splits, w, wa, s_ml, reinterpret_cast<float*>(smem));
}

}  // namespace
}  // namespace attnreg::flash_attn
