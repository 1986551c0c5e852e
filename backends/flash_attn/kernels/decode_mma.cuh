// Tensor-core decode kernel for a 16-bit (fp16/bf16) KV cache; included by
// decode.cu only. One CTA of 8 warps serves one query token, up to HP query
// heads of one KV head and one split of the visible key range, like the
// CUDA-core kernel, but:
//   - K/V tiles of kTile keys stream through a kStages-deep cp.async ring in
//     shared memory (rows padded by 16 bytes: conflict-free ldmatrix), the
//     row offsets of a tile gathered through the block table once per key
//     into shared memory one iteration ahead of the copies;
//   - scores are m16n8k16 mma with the HP query heads as the rows of A
//     (padded to 16 with zeros, kept in registers for the whole kernel) and
//     K rows as B (ldmatrix, no conversion); each warp scores 8 keys of the
//     tile over all of D (or, for 32-key tiles, half of D: the halves' partial
//     scores are summed by the softmax);
//   - P*V is m16n8k16 mma too: P (probabilities rounded to the input type, as
//     FlashAttention does) as A, V via ldmatrix.trans as B; each warp owns a
//     slice of the output columns for 32 keys of the tile (64-key tiles: two
//     warps per slice, whose partial outputs are added once at the end).
// Why 8 warps: with 4 (2 per scheduler) ncu on the H200 (B64 L16k) showed
// 0.31 issues per cycle and stalls mostly on fixed-latency and shared-memory
// dependencies; 8 warps were neutral to +4% (decode step 8 of
// docs/notes/flash_attn.md) and shorten each warp's chain per tile.
#pragma once

namespace attnreg::flash_attn {
namespace {

/// Threads of a tensor-core decode CTA.
constexpr int kMmaThreads = 256;
constexpr int kMmaWarps = kMmaThreads / 32;

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
  // Score phase: warp = (8-key n-tile, slice of D).
  static constexpr int kQkKeyParts = kTile / 8;
  static constexpr int kQkDimParts = kMmaWarps / kQkKeyParts;
  static constexpr int kQkDims = D / kQkDimParts;
  // Value phase: warp = (slice of the output columns, 32 keys of the tile).
  static constexpr int kPvKeyParts = kTile / 32;
  static constexpr int kPvDimParts = kMmaWarps / kPvKeyParts;
  static constexpr int kPvDims = D / kPvDimParts;
  // Bound on decode_mma_kernel's static __shared__ arrays for any heads per
  // CTA up to kHeadsPerCta (static_assert'ed there).
  static constexpr int kStaticSmem =
      kQkDimParts * kHeadsPerCta * kTile * 4 + (kStages + 1) * kTile * 8 + 3 * kHeadsPerCta * 4;
  static constexpr int kLoadIters = (kTile * kUnits + kMmaThreads - 1) / kMmaThreads;
  static_assert(kQkKeyParts * kQkDimParts == kMmaWarps && kQkDims % 32 == 0, "score phase shape");
  static_assert(kPvKeyParts * kPvDimParts == kMmaWarps && kPvDims % 8 == 0, "value phase shape");
  static_assert(kTile <= kMmaThreads, "one key per thread in the offset gather");
  // The partial outputs of the key parts are added through the pipeline memory.
  static_assert((kPvKeyParts - 1) * kPvDimParts * 32 * (kPvDims / 8) * 2 * 4 <= kSmem, "reduction space");
};

template <int D>
struct MmaShape {
  static constexpr int kTile = D >= 256 ? 32 : 64;
  static constexpr int kStages = 3;
};

template <class T, int D, int HP, int kTileKeys, int kStagesN>
__global__ void __launch_bounds__(kMmaThreads, 2) decode_mma_kernel(KernelParams p, int num_splits, int dq) {
  using Cfg = MmaCfg<D, kTileKeys, kStagesN>;
  constexpr int kTile = Cfg::kTile, kStages = Cfg::kStages, kPitch = Cfg::kPitch;
  constexpr int kQkSteps = Cfg::kQkDims / 16;  // k16 steps of this warp's slice of D
  constexpr int kNT = Cfg::kPvDims / 8;        // value phase: n-tiles per warp
  static_assert(HP <= 8, "head rows live in rows 0..7 of the mma tile");
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ float s_p[Cfg::kQkDimParts][HP][kTile];  // partial scores; [0] then holds probabilities
  __shared__ long long s_off[kStages + 1][kTile];     // byte offset of each key's row, -1 = masked
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
  const int qk_key0 = (warp % Cfg::kQkKeyParts) * 8, qk_part = warp / Cfg::kQkKeyParts;
  const int qk_dim0 = qk_part * Cfg::kQkDims;
  const int pv_dim0 = (warp % Cfg::kPvDimParts) * Cfg::kPvDims, pv_part = warp / Cfg::kPvDimParts;
  const int pv_key0 = pv_part * 32;

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
  // Copies of the rows of tile `tile`, whose offsets are in slot `slot`, into
  // stage st. Keys past the range are zero-filled (so that P = 0 times V is 0).
  // A tile whose keys are all in range uses the copy without the zero-fill
  // operand (+3-5% at B 64-256 on the H200, decode step 8 of
  // docs/notes/flash_attn.md); a bad block's rows (an error the flag
  // reports) then read row 0 of block 0 instead.
  auto load_tile = [&](int tile, int slot, int st) {
    unsigned char* sk = smem + st * Cfg::kStageBytes;
    unsigned char* sv = sk + kTile * kPitch;
    const bool full = lo + (tile + 1) * kTile <= hi;
#pragma unroll
    for (int it = 0; it < Cfg::kLoadIters; ++it) {
      const int i = threadIdx.x + it * kMmaThreads;
      if (Cfg::kLoadIters * kMmaThreads == kTile * Cfg::kUnits || i < kTile * Cfg::kUnits) {
        const int kk = i / Cfg::kUnits, u = i % Cfg::kUnits;
        const long long off = s_off[slot][kk];
        const bool ok = off >= 0;
        if constexpr (Cfg::kRowBytes >= 256) {
          if (full) {
            cp_async16_l2(sk + kk * kPitch + u * 16, (ok ? kbase + off : kbase) + u * 16);
            cp_async16_l2(sv + kk * kPitch + u * 16, (ok ? vbase + off : vbase) + u * 16);
          } else {
            cp_async16_l2(sk + kk * kPitch + u * 16, ok ? kbase + off + u * 16 : kbase, ok);
            cp_async16_l2(sv + kk * kPitch + u * 16, ok ? vbase + off + u * 16 : vbase, ok);
          }
        } else {
          cp_async16(sk + kk * kPitch + u * 16, ok ? kbase + off + u * 16 : kbase, ok);
          cp_async16(sv + kk * kPitch + u * 16, ok ? vbase + off + u * 16 : vbase, ok);
        }
      }
    }
  };

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
  // This warp's slice of the query rows as the A operand (row g = head g;
  // rows >= nh and 8..15 are 0).
  std::uint32_t qa[kQkSteps][2];
  {
    const T* qrow = static_cast<const T*>(p.q) + token * p.q_stride_t + (h0 + g) * p.q_stride_h + qk_dim0;
#pragma unroll
    for (int ks = 0; ks < kQkSteps; ++ks) {
      qa[ks][0] = g < nh ? *reinterpret_cast<const std::uint32_t*>(qrow + ks * 16 + 2 * t4) : 0u;
      qa[ks][1] = g < nh ? *reinterpret_cast<const std::uint32_t*>(qrow + ks * 16 + 8 + 2 * t4) : 0u;
    }
  }
  __syncthreads();
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < num_tiles) load_tile(s, s, s);
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
    if (nxt < num_tiles) load_tile(nxt, nxt % kSlots, nxt % kStages);
    cp_async_commit();
    if (nxt + 1 < num_tiles) {
      store_offset(nxt + 1, (nxt + 1) % kSlots, next_entry);
      next_entry = fetch_entry(nxt + 2);
    }
    const int st = tile % kStages;
    const unsigned char* sk = smem + st * Cfg::kStageBytes;
    const unsigned char* sv = sk + kTile * kPitch;

    // ---- scores: warp = 8 keys x its slice of D (two accumulators halve the mma chain) ----
    {
      float c0[4] = {0.0f, 0.0f, 0.0f, 0.0f}, c1[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
      for (int kp = 0; kp < kQkSteps / 2; ++kp) {
        std::uint32_t b[4];
        ldmatrix_x4(b, sk + (qk_key0 + lane % 8) * kPitch + (qk_dim0 + kp * 32 + 8 * (lane / 8)) * 2);
        mma16816_top_rows<T>(c0, qa[2 * kp][0], qa[2 * kp][1], b[0], b[1]);
        mma16816_top_rows<T>(c1, qa[2 * kp + 1][0], qa[2 * kp + 1][1], b[2], b[3]);
      }
      if (g < HP) {
        s_p[qk_part][g][qk_key0 + 2 * t4] = c0[0] + c1[0];
        s_p[qk_part][g][qk_key0 + 2 * t4 + 1] = c0[1] + c1[1];
      }
    }
    __syncthreads();  // scores visible

    // ---- softmax: warp per head ----
    for (int h = warp; h < nh; h += kMmaWarps) {
      constexpr int kPer = kTile / 32;
      float x[kPer];
      float mx = -INFINITY;
#pragma unroll
      for (int i = 0; i < kPer; ++i) {
        const int kk = lane + 32 * i;
        float s = -INFINITY;
        if (s_off[tile % kSlots][kk] >= 0) {
          float dot = 0.0f;
#pragma unroll
          for (int q = 0; q < Cfg::kQkDimParts; ++q) dot += s_p[q][h][kk];
          s = soft_cap(dot * p.scale, p.softcap);
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
        const float e = m_new == -INFINITY ? 0.0f : __expf(x[i] - m_new);
        s_p[0][h][lane + 32 * i] = e;
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

    // ---- values: warp = kPvDims output columns x 32 keys of the tile ----
    {
      const float corr = g < nh ? s_corr[g] : 1.0f;
#pragma unroll
      for (int j = 0; j < kNT; ++j) {
        acc[j][0] *= corr;
        acc[j][1] *= corr;
      }
      std::uint32_t pa[2][2];
#pragma unroll
      for (int s2 = 0; s2 < 2; ++s2) {
        const int k0 = pv_key0 + s2 * 16;
        if (g < nh) {
          const float2 lo2 = *reinterpret_cast<const float2*>(&s_p[0][g][k0 + 2 * t4]);
          const float2 hi2 = *reinterpret_cast<const float2*>(&s_p[0][g][k0 + 8 + 2 * t4]);
          pa[s2][0] = pack2<T>(lo2.x, lo2.y);
          pa[s2][1] = pack2<T>(hi2.x, hi2.y);
        } else {
          pa[s2][0] = pa[s2][1] = 0u;
        }
      }
#pragma unroll
      for (int j = 0; j < kNT; ++j) {
        std::uint32_t b[4];
        ldmatrix_x4_trans(b, sv + (pv_key0 + lane) * kPitch + (pv_dim0 + j * 8) * 2);
        mma16816_top_rows<T>(acc[j], pa[0][0], pa[0][1], b[0], b[1]);
        mma16816_top_rows<T>(acc[j], pa[1][0], pa[1][1], b[2], b[3]);
      }
    }
  }

  cp_async_wait<0>();
  __syncthreads();  // every stage drained and consumed: the pipeline memory holds the key parts' outputs
  // Partial outputs of key parts >= 1 (rows 0..7 of the fragments) into the
  // pipeline memory; key part 0 adds them.
  float* s_red = reinterpret_cast<float*>(smem);
  const int red_lane = (warp % Cfg::kPvDimParts) * 32 + lane;
  constexpr int kRedStride = Cfg::kPvDimParts * 32 * kNT * 2;
  if (pv_part > 0) {
#pragma unroll
    for (int j = 0; j < kNT; ++j) {
      s_red[(pv_part - 1) * kRedStride + red_lane * kNT * 2 + j * 2] = acc[j][0];
      s_red[(pv_part - 1) * kRedStride + red_lane * kNT * 2 + j * 2 + 1] = acc[j][1];
    }
  }
  if constexpr (Cfg::kPvKeyParts > 1) __syncthreads();
  if (pv_part == 0 && g < nh) {
#pragma unroll
    for (int q = 1; q < Cfg::kPvKeyParts; ++q)
#pragma unroll
      for (int j = 0; j < kNT; ++j) {
        acc[j][0] += s_red[(q - 1) * kRedStride + red_lane * kNT * 2 + j * 2];
        acc[j][1] += s_red[(q - 1) * kRedStride + red_lane * kNT * 2 + j * 2 + 1];
      }
    const int h = h0 + g;
    const float mx = s_m[g], sum = s_l[g];
    const long long row = static_cast<long long>(token) * p.num_heads + h;
#pragma unroll
    for (int j = 0; j < kNT; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int d = pv_dim0 + j * 8 + 2 * t4 + e;
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
