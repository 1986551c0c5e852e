// Tensor-core decode kernel for a 16-bit (fp16/bf16) KV cache; included by
// decode.cu only. One CTA of 4 warps serves one query token, up to HP query
// heads of one KV head and one split of the visible key range, like the
// CUDA-core kernel, but:
//   - K/V tiles of kTile keys stream through a kStages-deep cp.async ring in
//     shared memory (rows padded by 16 bytes: conflict-free ldmatrix), the
//     row offsets of a tile gathered through the block table once per key
//     into shared memory one iteration ahead of the copies;
//   - scores are m16n8k16 mma with the HP query heads as the rows of A
//     (padded to 16 with zeros, kept in registers for the whole kernel) and
//     K rows as B (ldmatrix, no conversion); warp w scores keys
//     [w*kTile/4, (w+1)*kTile/4) over all of D;
//   - P*V is m16n8k16 mma too: P (probabilities rounded to the input type, as
//     FlashAttention does) as A, V via ldmatrix.trans as B; warp w owns the
//     output columns [w*D/4, (w+1)*D/4), so no cross-warp reduction is needed.
// The instruction count per byte is a fraction of the CUDA-core kernel's,
// which was issue bound (4 cycles between issues per warp at 2 warps per
// scheduler).
#pragma once

namespace attnreg::flash_attn {
namespace {

/// mma16816 with only rows 0..7 of A given (a0: k 0..7, a2: k 8..15); rows
/// 8..15 are the zero padding of the query-head rows.
template <class T>
__device__ __forceinline__ void mma16816_top_rows(float (&c)[4], std::uint32_t a0, std::uint32_t a2,
                                                  std::uint32_t b0, std::uint32_t b1) {
  mma16816<T>(c, {a0, 0u, a2, 0u}, b0, b1);
}

/// Compile-time shape of the tensor-core decode kernel.
template <int D, int kTileKeys, int kStagesN>
struct MmaCfg {
  static constexpr int kTile = kTileKeys;
  static constexpr int kStages = kStagesN;
  static constexpr int kRowBytes = D * 2;
  static constexpr int kUnits = kRowBytes / 16;
  static constexpr int kPitch = kRowBytes + 16;
  static constexpr int kStageBytes = 2 * kTile * kPitch;
  static constexpr int kSmem = kStages * kStageBytes;
  // Bound on decode_mma_kernel's static __shared__ arrays for any heads per
  // CTA up to kHeadsPerCta (static_assert'ed there).
  static constexpr int kStaticSmem =
      kHeadsPerCta * kTile * 4 + (kStages + 1) * kTile * 8 + 3 * kHeadsPerCta * 4;
  static constexpr int kLoadIters = (kTile * kUnits + kThreads - 1) / kThreads;
  static constexpr int kKeysPerWarp = kTile / kWarps;  // score phase
  static constexpr int kDimsPerWarp = D / kWarps;      // value phase
  static_assert(kKeysPerWarp % 8 == 0 && kTile % 32 == 0 && D % 32 == 0 && kDimsPerWarp % 8 == 0, "shape");
};

template <int D>
struct MmaShape {
  static constexpr int kTile = D >= 256 ? 32 : 64;
  static constexpr int kStages = 3;
};

template <class T, int D, int HP, int kTileKeys, int kStagesN>
__global__ void __launch_bounds__(kThreads) decode_mma_kernel(KernelParams p, int num_splits, int dq) {
  using Cfg = MmaCfg<D, kTileKeys, kStagesN>;
  constexpr int kTile = Cfg::kTile, kStages = Cfg::kStages, kPitch = Cfg::kPitch;
  constexpr int kKSteps = D / 16;
  constexpr int kNT = Cfg::kDimsPerWarp / 8;  // value phase: n-tiles per warp
  static_assert(HP <= 8, "head rows live in rows 0..7 of the mma tile");
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ float s_p[HP][kTile];                 // scores, then probabilities
  __shared__ long long s_off[kStages + 1][kTile];  // byte offset of each key's row, -1 = masked
  __shared__ float s_m[HP], s_l[HP], s_corr[HP];
  static_assert(HP <= kHeadsPerCta && sizeof(s_p) + sizeof(s_off) + 3 * sizeof(s_m) <= Cfg::kStaticSmem,
                "static shared memory beyond what decode_shared_memory counts");

  DecodeRow w;
  if (!decode_row<HP, kTile>(p, num_splits, dq, w)) return;
  const int split = w.split, kvh = w.kvh, h0 = w.h0, nh = w.nh, r = w.r, token = w.token;
  const int lo = w.lo, hi = w.hi, num_tiles = w.num_tiles;

  const int* bt_row = p.block_table + r * p.bt_stride;
  const unsigned char* kbase = static_cast<const unsigned char*>(p.k_cache) + kvh * Cfg::kRowBytes;
  const unsigned char* vbase = static_cast<const unsigned char*>(p.v_cache) + kvh * Cfg::kRowBytes;
  const long long row_stride = static_cast<long long>(p.num_kv_heads) * Cfg::kRowBytes;
  const long long block_stride = p.cache_stride_block * 2;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t4 = lane % 4;

  // Block-table entry of this thread's key of tile `tile` (threads < kTile,
  // one key each): kNoKey past the range, -1 past the table's row. Loaded one
  // iteration before its offset is needed, so the table read's latency is
  // hidden behind a whole tile instead of stalling the barrier after the scores.
  constexpr int kNoKey = -2147483647 - 1;
  auto fetch_entry = [&](int tile) -> int {
    const int j = lo + tile * kTile + static_cast<int>(threadIdx.x);
    if (threadIdx.x >= kTile || tile >= num_tiles || j >= hi) return kNoKey;
    const int lb = j / p.block_size;
    if (lb >= p.max_blocks_per_req) {
      atomicOr(p.error_flag, 1);
      return -1;
    }
    return bt_row[lb];
  };
  // Byte offset of the row of this thread's key of tile `tile` (block entry b)
  // into slot st; -1 = masked (out of range or a bad block, which raises the flag).
  auto store_offset = [&](int tile, int st, int b) {
    if (threadIdx.x >= kTile) return;
    long long off = -1;
    if (b != kNoKey) {
      if (b < 0 || b >= p.num_blocks) {
        if (p.error_flag != nullptr) atomicOr(p.error_flag, 1);
      } else {
        const int j = lo + tile * kTile + static_cast<int>(threadIdx.x);
        off = b * block_stride + (j % p.block_size) * row_stride;
      }
    }
    s_off[st][threadIdx.x] = off;
  };
  // Copies of tile rows whose offsets are in slot st into stage st (masked keys zero-filled).
  auto load_tile = [&](int slot, int st) {
    unsigned char* sk = smem + st * Cfg::kStageBytes;
    unsigned char* sv = sk + kTile * kPitch;
#pragma unroll
    for (int it = 0; it < Cfg::kLoadIters; ++it) {
      const int i = threadIdx.x + it * kThreads;
      if (Cfg::kLoadIters * kThreads == kTile * Cfg::kUnits || i < kTile * Cfg::kUnits) {
        const int kk = i / Cfg::kUnits, u = i % Cfg::kUnits;
        const long long off = s_off[slot][kk];
        const bool ok = off >= 0;
        if constexpr (Cfg::kRowBytes >= 256) {
          cp_async16_l2(sk + kk * kPitch + u * 16, ok ? kbase + off + u * 16 : kbase, ok);
          cp_async16_l2(sv + kk * kPitch + u * 16, ok ? vbase + off + u * 16 : vbase, ok);
        } else {
          cp_async16(sk + kk * kPitch + u * 16, ok ? kbase + off + u * 16 : kbase, ok);
          cp_async16(sv + kk * kPitch + u * 16, ok ? vbase + off + u * 16 : vbase, ok);
        }
      }
    }
  };

  static_assert(kTile <= kThreads, "one key per thread in the offset gather");
  // Offsets of tile i live in slot i % (kStages + 1): those of tile i + kStages
  // are written while tile i - 1's are still read by its softmax.
  constexpr int kSlots = kStages + 1;
  for (int s = 0; s < kStages; ++s)
    if (s < num_tiles) store_offset(s, s, fetch_entry(s));
  int next_entry = fetch_entry(kStages);  // for tile kStages, stored in the first iteration
  if (threadIdx.x < HP) {
    s_m[threadIdx.x] = -INFINITY;
    s_l[threadIdx.x] = 0.0f;
  }
  // Query rows as the A operand (row g = head g; rows >= nh and 8..15 are 0).
  std::uint32_t qa[kKSteps][2];
  {
    const T* qrow = static_cast<const T*>(p.q) + token * p.q_stride_t + (h0 + g) * p.q_stride_h;
#pragma unroll
    for (int ks = 0; ks < kKSteps; ++ks) {
      qa[ks][0] = g < nh ? *reinterpret_cast<const std::uint32_t*>(qrow + ks * 16 + 2 * t4) : 0u;
      qa[ks][1] = g < nh ? *reinterpret_cast<const std::uint32_t*>(qrow + ks * 16 + 8 + 2 * t4) : 0u;
    }
  }
  __syncthreads();
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < num_tiles) load_tile(s, s);
    cp_async_commit();
  }

  float acc[kNT][4];
#pragma unroll
  for (int j = 0; j < kNT; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[j][e] = 0.0f;

  for (int tile = 0; tile < num_tiles; ++tile) {
    cp_async_wait<kStages - 2>();
    __syncthreads();  // tile landed; the previous tile (its stage, offsets and s_p) is consumed
    const int nxt = tile + kStages - 1;
    // Copies of tile nxt into the stage tile - 1 used (offsets stored last iteration).
    if (nxt < num_tiles) load_tile(nxt % kSlots, nxt % kStages);
    cp_async_commit();
    if (nxt + 1 < num_tiles) {
      store_offset(nxt + 1, (nxt + 1) % kSlots, next_entry);
      next_entry = fetch_entry(nxt + 2);
    }
    const int st = tile % kStages;
    const unsigned char* sk = smem + st * Cfg::kStageBytes;
    const unsigned char* sv = sk + kTile * kPitch;

    // ---- scores: warp = kKeysPerWarp keys, all of D ----
#pragma unroll
    for (int nt = 0; nt < Cfg::kKeysPerWarp / 8; ++nt) {
      const int key0 = warp * Cfg::kKeysPerWarp + nt * 8;
      float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
      for (int kp = 0; kp < D / 32; ++kp) {
        std::uint32_t b[4];
        ldmatrix_x4(b, sk + (key0 + lane % 8) * kPitch + (kp * 32 + 8 * (lane / 8)) * 2);
        mma16816_top_rows<T>(c, qa[2 * kp][0], qa[2 * kp][1], b[0], b[1]);
        mma16816_top_rows<T>(c, qa[2 * kp + 1][0], qa[2 * kp + 1][1], b[2], b[3]);
      }
      if (g < HP) {
        s_p[g][key0 + 2 * t4] = c[0];
        s_p[g][key0 + 2 * t4 + 1] = c[1];
      }
    }
    __syncthreads();  // scores visible

    // ---- softmax: warp per head ----
    for (int h = warp; h < nh; h += kWarps) {
      constexpr int kPer = kTile / 32;
      float x[kPer];
      float mx = -INFINITY;
#pragma unroll
      for (int i = 0; i < kPer; ++i) {
        const int kk = lane + 32 * i;
        float s = -INFINITY;
        if (s_off[tile % kSlots][kk] >= 0) s = soft_cap(s_p[h][kk] * p.scale, p.softcap);
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
        const float e = m_new == -INFINITY ? 0.0f : __expf(x[i] - m_new);
        s_p[h][lane + 32 * i] = e;
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

    // ---- values: warp = kDimsPerWarp output columns, all keys of the tile ----
    {
      const float corr = g < nh ? s_corr[g] : 1.0f;
#pragma unroll
      for (int j = 0; j < kNT; ++j) {
        acc[j][0] *= corr;
        acc[j][1] *= corr;
      }
#pragma unroll
      for (int kp = 0; kp < kTile / 32; ++kp) {
        std::uint32_t pa[2][2];
#pragma unroll
        for (int s2 = 0; s2 < 2; ++s2) {
          const int k0 = kp * 32 + s2 * 16;
          if (g < nh) {
            const float2 lo2 = *reinterpret_cast<const float2*>(&s_p[g][k0 + 2 * t4]);
            const float2 hi2 = *reinterpret_cast<const float2*>(&s_p[g][k0 + 8 + 2 * t4]);
            pa[s2][0] = pack2<T>(lo2.x, lo2.y);
            pa[s2][1] = pack2<T>(hi2.x, hi2.y);
          } else {
            pa[s2][0] = pa[s2][1] = 0u;
          }
        }
#pragma unroll
        for (int j = 0; j < kNT; ++j) {
          std::uint32_t b[4];
          ldmatrix_x4_trans(b, sv + (kp * 32 + lane) * kPitch + (warp * Cfg::kDimsPerWarp + j * 8) * 2);
          mma16816_top_rows<T>(acc[j], pa[0][0], pa[0][1], b[0], b[1]);
          mma16816_top_rows<T>(acc[j], pa[1][0], pa[1][1], b[2], b[3]);
        }
      }
    }
  }

  cp_async_wait<0>();
  __syncthreads();
  if (g < nh) {
    const int h = h0 + g;
    const float mx = s_m[g], sum = s_l[g];
    const long long row = static_cast<long long>(token) * p.num_heads + h;
#pragma unroll
    for (int j = 0; j < kNT; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int d = warp * Cfg::kDimsPerWarp + j * 8 + 2 * t4 + e;
        if (num_splits == 1) {
          write_normalised<T>(p, token, h, d, mx, sum, acc[j][e]);
        } else {
          const long long slot = static_cast<long long>(split) * p.num_tokens * p.num_heads + row;
          p.scratch[slot * D + d] = acc[j][e];
          if (d == 0) {
            float2* ml = reinterpret_cast<float2*>(p.scratch + static_cast<long long>(num_splits) *
                                                                   p.num_tokens * p.num_heads * D);
            ml[slot] = make_float2(mx, sum);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace attnreg::flash_attn
