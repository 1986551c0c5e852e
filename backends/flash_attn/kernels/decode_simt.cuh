// CUDA-core decode kernel, for fp8 caches on devices before compute
// capability 8.9 (or with ATTNREG_FLASH_ATTN_DECODE_FP8_MMA=0): the 4 warps
// of a CTA share one cp.async ring of K/V tiles and work through each tile
// in three steps (scores, softmax, values; see decode.cu's overview).
// Included by decode.cu only.
#pragma once

#include <type_traits>

#include "common.cuh"
#include "decode_row.cuh"
#include "ptx.cuh"

namespace attnreg::flash_attn {
namespace {

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
