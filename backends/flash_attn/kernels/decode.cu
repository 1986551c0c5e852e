// Split-KV decode: one CTA serves one query token of a request, up
// to heads_per_cta() query heads that share one KV head (GQA packing: each K/V
// row is read once for all of them), and one split of the request's visible
// key range. K/V rows stream through multi-stage cp.async rings in shared
// memory, gathered through the block table (masked keys zero-filled), so
// copies stay in flight while the kernel computes on earlier rows.
//   - 16-bit cache: decode_mma_kernel (decode_mma.cuh), scores and P*V on the
//     tensor cores (mma m16n8k16), each warp streaming its own share of the
//     keys through its own ring; on compute capability 9.0, without a
//     sliding window and for head sizes 64, 128 and 256, decode_tma_kernel
//     (decode_tma.cuh), the same with the rings filled by bulk tensor copies.
//   - fp8 cache: decode_mma_kernel too where fp8_mma_decode_serves(p)
//     (compute capability 8.9 and later), its rings holding fp8 rows that
//     each lane widens to fp16 in registers (decode_fp8_frags.cuh);
//     otherwise decode_kernel below (4 warps sharing one ring), CUDA cores,
//     dequantising from shared memory (k_scale folded into the query,
//     v_scale into the output):
//       1. scores: (key, slice of the row) per thread, query heads in shared memory;
//       2. softmax: one warp per head updates the running max and sum;
//       3. values: threads own (8-element chunk, key group) pairs; the key
//          groups' partial accumulators are combined at the end.
// With one split the CTA writes the output; with several it writes (acc, max,
// sum) partials that merge_kernel combines with a log-sum-exp merge. On
// compute capability 9.0 the merge is a programmatic dependent launch: its
// CTAs are scheduled while the decode grid's last CTAs still run and wait on
// the device for the grid to finish, instead of the host-side launch gap.
#include <cuda_runtime.h>

#include <algorithm>
#include <type_traits>

#include "common.cuh"
#include "decode.cuh"
#include "env_switch.hpp"
#include "ptx.cuh"

namespace attnreg::flash_attn {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;

/// Raw storage of eight cache elements: 16 bytes, or 8 for fp8.
template <bool kFp8>
using Raw8 = std::conditional_t<kFp8, uint2, uint4>;

/// Eight cache elements as floats (fp8 is not scaled here: the scales are
/// folded into the query and the final accumulator).
template <class T, bool kFp8>
__device__ __forceinline__ void unpack8(const Raw8<kFp8>& raw, float (&dst)[8]) {
  if constexpr (kFp8) {
    const __nv_fp8_e4m3* e = reinterpret_cast<const __nv_fp8_e4m3*>(&raw);
#pragma unroll
    for (int i = 0; i < 8; ++i) dst[i] = float(e[i]);
  } else {
    const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int i = 0; i < 8; ++i) dst[i] = to_float(e[i]);
  }
}

/// Compile-time shape of one decode kernel instance.
template <bool kFp8, int D, int HP, int kTileKeys, int kStagesN>
struct DecodeCfg {
  static constexpr int kTile = kTileKeys;   // keys per pipeline stage
  static constexpr int kStages = kStagesN;  // cp.async stages (kStages - 1 tiles in flight while one is used)
  static constexpr int kElem = kCacheElemBytes<kFp8>;
  static constexpr int kRowBytes = D * kElem;
  static constexpr int kUnits = kRowBytes / 16;           // 16-byte copies per K (or V) row
  static constexpr int kPitch = kRowBytes + 16;           // padded row: conflict-free column reads
  static constexpr int kStageBytes = 2 * kTile * kPitch;  // K rows then V rows
  static constexpr int kChunks = D / 8;                   // 8-element compute chunks per row
  static constexpr int kParts = kThreads / kTile;         // score phase: threads per key
  static constexpr int kChunksPerPart = kChunks / kParts;
  static constexpr int kKeyGroups = kThreads / kChunks;  // value phase: threads per chunk column
  static constexpr int kKeysPerGroup = (kTile + kKeyGroups - 1) / kKeyGroups;
  static constexpr int kLoadIters = (kTile * kUnits + kThreads - 1) / kThreads;
  static constexpr int kAccBytes = kKeyGroups * HP * D * 4;
  static constexpr int kSmem = kStages * kStageBytes > kAccBytes ? kStages* kStageBytes : kAccBytes;
  // Bound on decode_kernel's static __shared__ arrays (static_assert'ed there).
  static constexpr int kStaticSmem = HP * D * 4 + kParts * HP * kTile * 4 + kStages * kTile + 3 * HP * 4;
  static_assert(kThreads % kTile == 0 && kChunks % kParts == 0, "tile shape");
  static_assert(kRowBytes % 16 == 0, "rows are copied in 16-byte units");
};

/// Tile and stage count for each (cache type, head size, heads per CTA).
template <bool kFp8, int D, int HP>
struct DecodeShape {
  static constexpr int kTile = D >= 256 ? 32 : 64;
  static constexpr int kStages = 3;
};

/// What one decode CTA serves: blockIdx = (split, KV head x head chunk,
/// request x query token), resolved against the request's metadata.
struct DecodeRow {
  int split;      ///< split of the visible key range
  int kvh;        ///< KV head
  int h0, nh;     ///< first query head and how many (<= HP) this CTA serves
  int r;          ///< request
  int token;      ///< query token (row of q / out)
  int lo, hi;     ///< this split's keys [lo, hi), tile-aligned from the range start
  int num_tiles;  ///< kTile-key tiles in [lo, hi)
};

/// Fills w for this CTA; false when the CTA has nothing to do: its request is
/// served by the prefill kernel, its query token is past the request's query,
/// or the metadata is inconsistent (then the error flag gets bit 4; a query
/// longer than max_query_len sets bit 8). Splits cover whole tiles (the last
/// one may run short).
template <int HP, int kTile>
__device__ __forceinline__ bool decode_row(const KernelParams& p, int num_splits, int dq, DecodeRow& w) {
  w.split = blockIdx.x;
  const int group_size = p.num_heads / p.num_kv_heads;
  const int head_chunks = (group_size + HP - 1) / HP;
  w.kvh = blockIdx.y / head_chunks;
  w.h0 = w.kvh * group_size + (blockIdx.y % head_chunks) * HP;
  w.nh = min(HP, w.kvh * group_size + group_size - w.h0);
  w.r = blockIdx.z / dq;
  const int qi = blockIdx.z % dq;

  // The three metadata loads are issued together (seq_lens before the
  // branches that may not need it): each is a trip to DRAM at the kernel's
  // start, while no K/V copy is in flight yet.
  const int q_start = p.query_start_loc[w.r];
  const int q_end = p.query_start_loc[w.r + 1];
  const int seq_len = p.seq_lens[w.r];
  const int q_len = q_end - q_start;
  if (q_len > p.max_query_len && qi == 0 && w.split == 0 && blockIdx.y == 0 && threadIdx.x == 0)
    atomicOr(p.error_flag, 8);  // max_query_len was smaller than this request's query length
  if (q_len > kDecodeMaxQueryLen || qi >= q_len) return false;  // not a decode row of this CTA
  if (seq_len < q_len || q_start < 0 || q_start + q_len > p.num_tokens) {
    if (w.split == 0 && blockIdx.y == 0 && threadIdx.x == 0) atomicOr(p.error_flag, 4);
    return false;
  }
  w.token = q_start + qi;
  const KeyRange range = key_range(seq_len - q_len + qi, seq_len, p.causal, p.window);
  const int span = range.hi - range.lo;
  const int per_split = ((span + num_splits - 1) / num_splits + kTile - 1) / kTile * kTile;
  w.lo = range.lo + w.split * per_split;
  w.hi = min(range.hi, w.lo + per_split);
  w.num_tiles = w.hi > w.lo ? (w.hi - w.lo + kTile - 1) / kTile : 0;
  return true;
}

/// Element d of a decode CTA's result for (token, head), unnormalised
/// accumulator a with running max mx and sum: the output itself with one
/// split, else this split's partial for merge_kernel (the accumulator, and the
/// row's (max, sum) once, at d == 0).
template <class T, int D>
__device__ __forceinline__ void store_decode_result(const KernelParams& p, int num_splits, int split,
                                                    int token, int head, int d, float mx, float sum,
                                                    float a) {
  if (num_splits == 1) {
    write_normalised<T>(p, token, head, d, mx, sum, a);
    return;
  }
  const long long row = static_cast<long long>(token) * p.num_heads + head;
  const long long slot = static_cast<long long>(split) * p.num_tokens * p.num_heads + row;
  p.scratch[slot * D + d] = a;
  if (d == 0) {
    float2* ml = reinterpret_cast<float2*>(p.scratch + static_cast<long long>(num_splits) * p.num_tokens *
                                                           p.num_heads * D);
    ml[slot] = make_float2(mx, sum);
  }
}

template <class T, bool kFp8, int D, int HP, int kTileKeys, int kStagesN>
__global__ void __launch_bounds__(kThreads, HP == 4 ? 4 : 2)
    decode_kernel(KernelParams p, int num_splits, int dq) {
  using Cfg = DecodeCfg<kFp8, D, HP, kTileKeys, kStagesN>;
  using C = CacheElem<T, kFp8>;
  using Raw = Raw8<kFp8>;
  constexpr int kTile = Cfg::kTile, kStages = Cfg::kStages, kPitch = Cfg::kPitch;
  constexpr int kChunks = Cfg::kChunks, kKeyGroups = Cfg::kKeyGroups, kKeysPerGroup = Cfg::kKeysPerGroup;
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ __align__(16) float s_q[HP][D];
  __shared__ float s_part[Cfg::kParts][HP][kTile];  // score partials; row 0 then holds probabilities
  __shared__ unsigned char s_valid[kStages][kTile];
  __shared__ float s_m[HP], s_l[HP], s_corr[HP];
  static_assert(sizeof(s_q) + sizeof(s_part) + sizeof(s_valid) + 3 * sizeof(s_m) <= Cfg::kStaticSmem,
                "static shared memory beyond what decode_shared_memory counts");

  allow_dependent_launch();
  DecodeRow w;
  if (!decode_row<HP, kTile>(p, num_splits, dq, w)) return;
  const int split = w.split, kvh = w.kvh, h0 = w.h0, nh = w.nh, r = w.r, token = w.token;
  const int lo = w.lo, hi = w.hi, num_tiles = w.num_tiles;

  const int* bt_row = p.block_table + r * p.bt_stride;
  const unsigned char* kbase = static_cast<const unsigned char*>(p.k_cache) + kvh * Cfg::kRowBytes;
  const unsigned char* vbase = static_cast<const unsigned char*>(p.v_cache) + kvh * Cfg::kRowBytes;
  const long long row_stride = static_cast<long long>(p.num_kv_heads) * Cfg::kRowBytes;
  const long long block_stride = p.cache_stride_block * Cfg::kElem;

  // Issues the copies of tile `tile` (K and V rows of its keys) into stage `st`;
  // keys out of range or in a bad block are zero-filled and marked invalid.
  auto load_tile = [&](int tile, int st) {
    unsigned char* sk = smem + st * Cfg::kStageBytes;
    unsigned char* sv = sk + kTile * kPitch;
    const int t0 = lo + tile * kTile;
#pragma unroll
    for (int it = 0; it < Cfg::kLoadIters; ++it) {
      const int i = threadIdx.x + it * kThreads;
      if (Cfg::kLoadIters * kThreads == kTile * Cfg::kUnits || i < kTile * Cfg::kUnits) {
        const int kk = i / Cfg::kUnits, u = i % Cfg::kUnits;
        const int j = t0 + kk;
        long long off = -1;
        if (j < hi) {
          const int pb = physical_block(p, bt_row, j / p.block_size);
          if (pb >= 0) off = pb * block_stride + (j % p.block_size) * row_stride + u * 16;
        }
        const bool ok = off >= 0;
        cp_async16(sk + kk * kPitch + u * 16, ok ? kbase + off : kbase, ok);
        cp_async16(sv + kk * kPitch + u * 16, ok ? vbase + off : vbase, ok);
        if (u == 0) s_valid[st][kk] = ok;
      }
    }
  };

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < num_tiles) load_tile(s, s);
    cp_async_commit();
  }

  // Query rows (softmax scale and, for fp8, k_scale folded in); rows past nh are 0.
  const float qscale = kFp8 ? p.scale * p.k_scale : p.scale;
  for (int i = threadIdx.x; i < HP * kChunks; i += kThreads) {
    const int h = i / kChunks, c = i % kChunks;
    float f[8];
    if (h < nh) {
      load8(static_cast<const T*>(p.q) + token * p.q_stride_t + (h0 + h) * p.q_stride_h + c * 8, f);
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) f[e] = 0.0f;
    }
#pragma unroll
    for (int e = 0; e < 8; ++e) s_q[h][c * 8 + e] = f[e] * qscale;
  }
  if (threadIdx.x < HP) {
    s_m[threadIdx.x] = -INFINITY;
    s_l[threadIdx.x] = 0.0f;
  }

  const int sk_key = threadIdx.x % kTile;  // score phase: key of the tile
  const int part = threadIdx.x / kTile;    // score phase: slice of the row
  const int vc = threadIdx.x % kChunks;    // value phase: chunk column
  const int vg = threadIdx.x / kChunks;    // value phase: key group (>= kKeyGroups: idle)
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float acc[HP][8];
#pragma unroll
  for (int h = 0; h < HP; ++h)
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[h][e] = 0.0f;

  for (int tile = 0; tile < num_tiles; ++tile) {
    cp_async_wait<kStages - 2>();
    __syncthreads();  // tile landed for every thread's copies; the previous tile is consumed
    if (tile + kStages - 1 < num_tiles) load_tile(tile + kStages - 1, (tile + kStages - 1) % kStages);
    cp_async_commit();
    const int st = tile % kStages;
    const unsigned char* sk = smem + st * Cfg::kStageBytes;
    const unsigned char* sv = sk + kTile * kPitch;

    // ---- scores: (key, slice of the row) per thread ----
    {
      float dot[HP];
#pragma unroll
      for (int h = 0; h < HP; ++h) dot[h] = 0.0f;
      const unsigned char* krow = sk + sk_key * kPitch;
#pragma unroll
      for (int cc = 0; cc < Cfg::kChunksPerPart; ++cc) {
        const int c = part * Cfg::kChunksPerPart + cc;
        const Raw raw = *reinterpret_cast<const Raw*>(krow + c * 8 * Cfg::kElem);
        float kf[8];
        unpack8<T, kFp8>(raw, kf);
#pragma unroll
        for (int h = 0; h < HP; ++h) {
          const float4 qa = *reinterpret_cast<const float4*>(&s_q[h][c * 8]);
          const float4 qb = *reinterpret_cast<const float4*>(&s_q[h][c * 8 + 4]);
          dot[h] += qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3] + qb.x * kf[4] + qb.y * kf[5] +
                    qb.z * kf[6] + qb.w * kf[7];
        }
      }
#pragma unroll
      for (int h = 0; h < HP; ++h) s_part[part][h][sk_key] = dot[h];
    }
    __syncthreads();

    // ---- softmax: warp per head ----
    for (int h = warp; h < nh; h += kWarps) {
      constexpr int kPer = (kTile + 31) / 32;
      float x[kPer];
      float mx = -INFINITY;
#pragma unroll
      for (int i = 0; i < kPer; ++i) {
        const int kk = lane + 32 * i;
        float s = -INFINITY;
        if (kk < kTile && s_valid[st][kk]) {
          s = 0.0f;
#pragma unroll
          for (int q = 0; q < Cfg::kParts; ++q) s += s_part[q][h][kk];
          s = soft_cap(s, p.softcap);
        }
        x[i] = s;
        mx = fmaxf(mx, s);
      }
#pragma unroll
      for (int o = 16; o > 0; o /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
      const float m_old = s_m[h];
      const float m_new = fmaxf(m_old, mx);
      float sum = 0.0f;
#pragma unroll
      for (int i = 0; i < kPer; ++i) {
        const int kk = lane + 32 * i;
        const float e = m_new == -INFINITY ? 0.0f : __expf(x[i] - m_new);
        if (kk < kTile) s_part[0][h][kk] = e;
        sum += e;
      }
#pragma unroll
      for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
      __syncwarp();  // every lane has read s_m[h] / s_l[h] before lane 0 rewrites them
      if (lane == 0) {
        const float corr = m_new == -INFINITY ? 1.0f : __expf(m_old - m_new);
        s_corr[h] = corr;
        s_m[h] = m_new;
        s_l[h] = s_l[h] * corr + sum;
      }
    }
    __syncthreads();

    // ---- values: (chunk column, key group) per thread ----
    if (vg < kKeyGroups) {
#pragma unroll
      for (int h = 0; h < HP; ++h) {
        const float corr = h < nh ? s_corr[h] : 1.0f;
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[h][e] *= corr;
      }
#pragma unroll
      for (int i = 0; i < kKeysPerGroup; ++i) {
        const int kk = vg * kKeysPerGroup + i;
        if (kKeysPerGroup * kKeyGroups == kTile || kk < kTile) {
          const Raw raw = *reinterpret_cast<const Raw*>(sv + kk * kPitch + vc * 8 * Cfg::kElem);
          float vf[8];
          unpack8<T, kFp8>(raw, vf);
#pragma unroll
          for (int h = 0; h < HP; ++h) {
            const float pr = h < nh ? s_part[0][h][kk] : 0.0f;
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[h][e] = fmaf(pr, vf[e], acc[h][e]);
          }
        }
      }
    }
  }

  cp_async_wait<0>();
  __syncthreads();  // every stage drained and consumed: the pipeline memory becomes s_acc
  float* s_acc = reinterpret_cast<float*>(smem);  // [kKeyGroups][HP][D]
  if (vg < kKeyGroups) {
#pragma unroll
    for (int h = 0; h < HP; ++h)
      if (h < nh)
#pragma unroll
        for (int e = 0; e < 8; ++e) s_acc[(vg * HP + h) * D + vc * 8 + e] = acc[h][e];
  }
  __syncthreads();

  const float vscale = kFp8 ? p.v_scale : 1.0f;
  for (int idx = threadIdx.x; idx < nh * D; idx += kThreads) {
    const int h = idx / D;
    const int d = idx % D;
    float a = 0.0f;
#pragma unroll
    for (int g = 0; g < kKeyGroups; ++g) a += s_acc[(g * HP + h) * D + d];
    a *= vscale;
    store_decode_result<T, D>(p, num_splits, split, token, h0 + h, d, s_m[h], s_l[h], a);
  }
}

}  // namespace
}  // namespace attnreg::flash_attn

#include "decode_mma.cuh"
#include "decode_tma.cuh"

namespace attnreg::flash_attn {
namespace {

/// Combines the split partials of every decode row (log-sum-exp merge). The
/// request's metadata, which the decode grid does not write, is read before
/// waiting for that grid; then each thread merges its column over the splits
/// online, loading the (max, sum) and partial of kMergeBatch splits at once,
/// so that after the decode grid ends a merge of up to kMergeBatch splits is
/// one round trip to the L2. The earlier merge waited first, then read the
/// metadata, the (max, sum) pairs and the partials in three dependent steps
/// with a CTA barrier between; batches of 8 splits made B1 L4k's 32 splits
/// four dependent trips (decode step 19 of docs/notes/flash_attn.md).
template <class T, int D>
__global__ void merge_kernel(KernelParams p, int num_splits, int dq) {
  constexpr int kMergeBatch = 32;
  const int r = blockIdx.x / dq;
  const int qi = blockIdx.x % dq;
  const int h = blockIdx.y;
  const int q_start = p.query_start_loc[r];
  const int q_len = p.query_start_loc[r + 1] - q_start;
  if (q_len > kDecodeMaxQueryLen || qi >= q_len) return;
  if (p.seq_lens[r] < q_len || q_start < 0 || q_start + q_len > p.num_tokens) return;
  const int token = q_start + qi;
  const long long row = static_cast<long long>(token) * p.num_heads + h;
  const long long split_stride = static_cast<long long>(p.num_tokens) * p.num_heads;
  const float2* ml = reinterpret_cast<const float2*>(p.scratch + num_splits * split_stride * D);
  wait_for_prerequisite_grid();  // the decode grid's partials
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    const float* col = p.scratch + row * D + d;
    float mx = -INFINITY, sum = 0.0f, a = 0.0f;
    for (int s0 = 0; s0 < num_splits; s0 += kMergeBatch) {
      float2 ml_s[kMergeBatch];
      float a_s[kMergeBatch];
#pragma unroll
      for (int k = 0; k < kMergeBatch; ++k) {
        const bool in = s0 + k < num_splits;
        ml_s[k] = in ? ml[(s0 + k) * split_stride + row] : make_float2(-INFINITY, 0.0f);
        a_s[k] = in ? col[(s0 + k) * split_stride * D] : 0.0f;
      }
      float m_new = mx;
#pragma unroll
      for (int k = 0; k < kMergeBatch; ++k) m_new = fmaxf(m_new, ml_s[k].x);
      if (m_new == -INFINITY) continue;    // no split so far saw a key
      const float c = __expf(mx - m_new);  // 0 while mx is still -inf
      sum *= c;
      a *= c;
#pragma unroll
      for (int k = 0; k < kMergeBatch; ++k) {
        const float w = __expf(ml_s[k].x - m_new);  // 0 for a split without keys
        sum += ml_s[k].y * w;
        a += w * a_s[k];
      }
      mx = m_new;
    }
    write_normalised<T>(p, token, h, d, mx, sum, a);
  }
}

/// One decode kernel instance of kBlockThreads threads with kSmem bytes of
/// dynamic shared memory, opted into it once (cudaFuncSetAttribute is no
/// stream operation, so this is legal during graph capture too).
template <auto kKernel, int kSmem, int kBlockThreads>
struct KernelInst {
  static int prepare() {
    static const int rc =
        static_cast<int>(cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem));
    return rc;
  }
  static int launch(const KernelParams& p, dim3 grid, cudaStream_t s, int num_splits, int dq) {
    if (int rc = prepare(); rc != 0) return rc;
    kKernel<<<grid, kBlockThreads, kSmem, s>>>(p, num_splits, dq);
    return 0;
  }
  static int ctas_per_sm() {
    // Asked once per process (the kernel's residency does not change between
    // calls), so the scheduler costs no runtime call per forward.
    static const int n = [] {
      int k = 0;
      if (prepare() != 0 ||
          cudaOccupancyMaxActiveBlocksPerMultiprocessor(&k, kKernel, kBlockThreads, kSmem) != 0)
        return 0;
      return k;
    }();
    return n;
  }
};

/// The CUDA-core kernel instance for (T, fp8, D, HP) (fp8 caches).
template <class T, bool kFp8, int D, int HP>
using DecodeInst = KernelInst<
    decode_kernel<T, kFp8, D, HP, DecodeShape<kFp8, D, HP>::kTile, DecodeShape<kFp8, D, HP>::kStages>,
    DecodeCfg<kFp8, D, HP, DecodeShape<kFp8, D, HP>::kTile, DecodeShape<kFp8, D, HP>::kStages>::kSmem,
    kThreads>;

/// The tensor-core kernel instance for a 16-bit (or fp8) cache and
/// kStages-deep rings.
template <class T, int D, int HP, int kStages, bool kFp8 = false>
using MmaInst = KernelInst<decode_mma_kernel<T, D, HP, kStages, kFp8>,
                           MmaCfg<D, kStages, kCacheElemBytes<kFp8>>::kSmem, MmaCfg<D, kStages>::kThreads>;

/// The tensor maps of the two cache halves that decode_tma_kernel reads.
struct CacheMaps {
  CUtensorMap k, v;
};

/// The Hopper (TMA) kernel instance for a 16-bit cache and kStages-deep rings.
template <class T, int D, int HP, int kStages>
struct TmaInst {
  using Base = KernelInst<decode_tma_kernel<T, D, HP, kStages>, TmaCfg<D, kStages>::kSmem,
                          TmaCfg<D, kStages>::kThreads>;
  static int ctas_per_sm() { return Base::ctas_per_sm(); }
  static int launch(const KernelParams& p, dim3 grid, cudaStream_t s, int num_splits, int dq,
                    const CacheMaps& maps) {
    if (int rc = Base::prepare(); rc != 0) return rc;
    decode_tma_kernel<T, D, HP, kStages>
        <<<grid, TmaCfg<D, kStages>::kThreads, TmaCfg<D, kStages>::kSmem, s>>>(maps.k, maps.v, p, num_splits,
                                                                               dq);
    return 0;
  }
};

/// ATTNREG_FLASH_ATTN_DECODE_TMA=0 keeps every 16-bit decode on
/// decode_mma_kernel's cp.async rings, =1 puts every one the Hopper kernel
/// serves on it, whatever the plan's copy_engine says (read once; for tests
/// of both kernels and A/B measurements). -1 when unset.
int forced_tma_decode() {
  static const int forced = env_switch("ATTNREG_FLASH_ATTN_DECODE_TMA", "01");
  return forced;
}

/// Whether an fp8 cache takes the tensor-core kernel when nothing pins it:
/// 1.23-1.84x the CUDA-core kernel's speed at every point of the H100 decode
/// sweep (decode step 29 of docs/notes/flash_attn.md).
constexpr bool kFp8MmaDecodeByDefault = true;

/// ATTNREG_FLASH_ATTN_DECODE_FP8_MMA=0 keeps fp8 caches on the CUDA-core
/// decode_kernel, =1 puts them on the tensor-core kernel (read once; for
/// tests of both kernels and A/B measurements); otherwise
/// kFp8MmaDecodeByDefault decides.
bool fp8_mma_decode_wanted() {
  static const bool wanted = [] {
    const int forced = env_switch("ATTNREG_FLASH_ATTN_DECODE_FP8_MMA", "01");
    return forced < 0 ? kFp8MmaDecodeByDefault : forced == 1;
  }();
  return wanted;
}

/// Whether the tensor-core kernel serves an fp8 cache: when wanted, from
/// compute capability 8.9 on, whose cvt.rn.f16x2.e4m3x2 widens a pair of fp8
/// values in one instruction (older devices would emulate it in about ten).
bool fp8_mma_decode_serves(const KernelParams& p) {
  return fp8_mma_decode_wanted() && p.compute_capability >= 89;
}

/// Whether decode_tma_kernel can serve p's decode rows: a 16-bit cache,
/// whole 64-element slabs per head, groups starting on multiples of 16 keys
/// (no sliding window), a compute capability 9.0 device and a build with
/// sm_90a code for it (and ATTNREG_FLASH_ATTN_DECODE_TMA is not 0).
template <class T, bool kFp8, int D>
bool tma_decode_serves(const KernelParams& p) {
  if constexpr (kFp8 || D % kCacheBoxCols != 0) {
    return false;
  } else {
    return p.window == 0 && forced_tma_decode() != 0 && p.compute_capability == 90 &&
           has_sm90a_code<decode_tma_kernel<T, D, kHeadsPerCta, 3>>();
  }
}

/// Launches (kind = 0) or sizes (kind = 1: CTAs per SM) the decode kernel for
/// (T, fp8, D, HP); ring_stages picks the tensor-core kernels' ring depth (the
/// CUDA-core fp8 kernel has one shape), and tma the Hopper kernel (whose
/// launch reads maps) instead of decode_mma_kernel. fp8 caches take the
/// tensor-core kernel where fp8_mma_decode_serves(p), else the CUDA-core one.
template <class T, bool kFp8, int D, int HP>
int decode_op(int kind, const KernelParams& p, dim3 grid, cudaStream_t s, int num_splits, int dq,
              int ring_stages, bool tma, const CacheMaps* maps) {
  auto run = [&](auto inst) {
    using I = decltype(inst);
    return kind == 0 ? I::launch(p, grid, s, num_splits, dq) : I::ctas_per_sm();
  };
  if constexpr (kFp8) {
    if (!fp8_mma_decode_serves(p)) return run(DecodeInst<T, kFp8, D, HP>{});
    return ring_stages == 2 ? run(MmaInst<T, D, HP, 2, true>{}) : run(MmaInst<T, D, HP, 3, true>{});
  } else {
    if constexpr (D % kCacheBoxCols == 0) {
      if (tma) {
        auto run_tma = [&](auto inst) {
          using I = decltype(inst);
          return kind == 0 ? I::launch(p, grid, s, num_splits, dq, *maps) : I::ctas_per_sm();
        };
        return ring_stages == 2 ? run_tma(TmaInst<T, D, HP, 2>{}) : run_tma(TmaInst<T, D, HP, 3>{});
      }
    }
    return ring_stages == 2 ? run(MmaInst<T, D, HP, 2>{}) : run(MmaInst<T, D, HP, 3>{});
  }
}

template <class T, bool kFp8, int D>
int launch_decode_typed(const KernelParams& p, const DecodePlan& plan, int dq) {
  const int num_splits = plan.num_splits;
  const int group_size = p.num_heads / p.num_kv_heads;
  const int hp = heads_per_cta(group_size);
  const dim3 grid(num_splits, p.num_kv_heads * ((group_size + hp - 1) / hp), p.num_reqs * dq);
  auto s = static_cast<cudaStream_t>(p.stream);
  CacheMaps maps;
  const bool tma = (plan.copy_engine || forced_tma_decode() == 1) && tma_decode_serves<T, kFp8, D>(p) &&
                   encode_cache_map(maps.k, p.k_cache, p, std::is_same_v<T, __nv_bfloat16>) &&
                   encode_cache_map(maps.v, p.v_cache, p, std::is_same_v<T, __nv_bfloat16>);
  const int rc =
      hp == 4
          ? decode_op<T, kFp8, D, 4>(0, p, grid, s, num_splits, dq, plan.ring_stages, tma, &maps)
          : decode_op<T, kFp8, D, kHeadsPerCta>(0, p, grid, s, num_splits, dq, plan.ring_stages, tma, &maps);
  if (rc != 0) return rc;
  if (num_splits > 1) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(p.num_reqs * dq, p.num_heads);
    cfg.blockDim = dim3(D);
    cfg.stream = s;
    cudaLaunchAttribute pdl = {};
    pdl.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    pdl.val.programmaticStreamSerializationAllowed = 1;
    if (p.compute_capability >= 90) {  // programmatic dependent launch runs from 9.0 on
      cfg.attrs = &pdl;
      cfg.numAttrs = 1;
    }
    if (int rc2 = static_cast<int>(cudaLaunchKernelEx(&cfg, merge_kernel<T, D>, p, num_splits, dq)); rc2 != 0)
      return rc2;
  }
  return static_cast<int>(cudaGetLastError());
}

template <class T, bool kFp8>
int launch_decode_d(const KernelParams& p, const DecodePlan& plan, int dq) {
  switch (p.head_size) {
    case 64:
      return launch_decode_typed<T, kFp8, 64>(p, plan, dq);
    case 96:
      return launch_decode_typed<T, kFp8, 96>(p, plan, dq);
    case 128:
      return launch_decode_typed<T, kFp8, 128>(p, plan, dq);
    case 256:
      return launch_decode_typed<T, kFp8, 256>(p, plan, dq);
    default:
      return static_cast<int>(cudaErrorInvalidValue);
  }
}

template <class T, bool kFp8, int D>
int ctas_per_sm_typed(const KernelParams& p, int ring_stages) {
  // Sized with the Hopper kernel where it can serve the batch, even if the
  // plan then sends rows of many splits to the cp.async kernel: on the H100
  // both fit the same number of CTAs per SM at every head size and depth
  // (the TMA kernel's mbarriers and 1 KB of alignment slack do not cost one).
  const bool tma = tma_decode_serves<T, kFp8, D>(p);
  return heads_per_cta(p.num_heads / p.num_kv_heads) == 4
             ? decode_op<T, kFp8, D, 4>(1, p, dim3(), nullptr, 1, 1, ring_stages, tma, nullptr)
             : decode_op<T, kFp8, D, kHeadsPerCta>(1, p, dim3(), nullptr, 1, 1, ring_stages, tma, nullptr);
}

template <class T, bool kFp8>
int ctas_per_sm_d(const KernelParams& p, int ring_stages) {
  switch (p.head_size) {
    case 64:
      return ctas_per_sm_typed<T, kFp8, 64>(p, ring_stages);
    case 96:
      return ctas_per_sm_typed<T, kFp8, 96>(p, ring_stages);
    case 128:
      return ctas_per_sm_typed<T, kFp8, 128>(p, ring_stages);
    case 256:
      return ctas_per_sm_typed<T, kFp8, 256>(p, ring_stages);
    default:
      return 0;
  }
}

}  // namespace

int decode_ctas_per_sm(const KernelParams& p, int ring_stages) {
  if (p.dtype == Dtype::BFloat16)
    return p.cache_fp8 ? ctas_per_sm_d<__nv_bfloat16, true>(p, ring_stages)
                       : ctas_per_sm_d<__nv_bfloat16, false>(p, ring_stages);
  return p.cache_fp8 ? ctas_per_sm_d<__half, true>(p, ring_stages)
                     : ctas_per_sm_d<__half, false>(p, ring_stages);
}

namespace {
template <int D>
constexpr int decode_shared_memory_d() {
  using Mma = MmaCfg<D, 3>;  // the deeper ring of 16-bit rows is the largest (fp8 rows are half as long)
  using Fp8Small = DecodeCfg<true, D, 4, DecodeShape<true, D, 4>::kTile, DecodeShape<true, D, 4>::kStages>;
  using Fp8Wide = DecodeCfg<true, D, kHeadsPerCta, DecodeShape<true, D, kHeadsPerCta>::kTile,
                            DecodeShape<true, D, kHeadsPerCta>::kStages>;
  // The TMA kernel's rings are the tensor-core kernel's, plus its mbarriers
  // and alignment slack; its static arrays are the same.
  int tma = 0;
  if constexpr (D % kCacheBoxCols == 0) tma = TmaCfg<D, 3>::kSmem + Mma::kStaticSmem;
  return std::max({Mma::kSmem + Mma::kStaticSmem, Fp8Small::kSmem + Fp8Small::kStaticSmem,
                   Fp8Wide::kSmem + Fp8Wide::kStaticSmem, tma});
}
}  // namespace

int decode_shared_memory(int head_size) {
  switch (head_size) {
    case 64:
      return decode_shared_memory_d<64>();
    case 96:
      return decode_shared_memory_d<96>();
    case 128:
      return decode_shared_memory_d<128>();
    case 256:
      return decode_shared_memory_d<256>();
    default:
      return 0;
  }
}

int launch_decode(const KernelParams& p, const DecodePlan& plan, int dq) {
  if (p.dtype == Dtype::BFloat16) {
    return p.cache_fp8 ? launch_decode_d<__nv_bfloat16, true>(p, plan, dq)
                       : launch_decode_d<__nv_bfloat16, false>(p, plan, dq);
  }
  return p.cache_fp8 ? launch_decode_d<__half, true>(p, plan, dq)
                     : launch_decode_d<__half, false>(p, plan, dq);
}

}  // namespace attnreg::flash_attn
