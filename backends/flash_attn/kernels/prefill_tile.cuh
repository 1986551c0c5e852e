// The pieces of the prefill kernels (mma.sync for sm_80+, wgmma for sm_90a):
// resolving a CTA's rows, gathering Q (both kernels, each in its own layout)
// and K/V tiles (the mma.sync kernel; the Hopper kernel copies K/V with the
// TMA) into shared memory, and the online-softmax steps on one 16-row m-tile
// held in the tensor cores' accumulator layout. In that layout (mma.sync's C
// fragment, and each warp's share of a wgmma m64nN accumulator) the thread
// with lane = 4g + t holds, for every 8-column chunk i, the elements
// [i][0..1] = (row g, columns 8i+2t, 8i+2t+1) and [i][2..3] = the same
// columns of row g+8.
#pragma once

#include "common.cuh"
#include "ptx.cuh"

namespace attnreg::flash_attn {

inline constexpr float kLog2e = 1.4426950408889634f;

/// What one prefill CTA serves: kBM query rows of one head of one request.
struct PrefillBlock {
  int h;          ///< query head
  int kvh;        ///< its KV head
  int r;          ///< request
  int m0;         ///< first query row of the block within the request
  int rows;       ///< query rows of the block (<= kBM)
  int q_start;    ///< the request's first token (row of q / out)
  int seq_len;    ///< the request's keys
  int ctx;        ///< sequence position of the request's query row 0
  KeyRange keys;  ///< keys some row of the block sees: [first row's lo, last row's hi)
};

/// Resolves the CTA's grid position (x: head, y: request, z: m-blocks
/// reversed so the longest causal blocks start first) against the request
/// metadata; false when the CTA has nothing to do: its request is a decode
/// (served by the decode kernel), the block lies past the query, or the
/// metadata is inconsistent (error flag bit 4; a query longer than
/// max_query_len sets bit 8).
template <int kBM>
__device__ __forceinline__ bool prefill_block(const KernelParams& p, PrefillBlock& b) {
  b.h = blockIdx.x;
  b.r = blockIdx.y;
  const int mb = gridDim.z - 1 - blockIdx.z;
  b.m0 = mb * kBM;
  b.q_start = p.query_start_loc[b.r];
  const int q_len = p.query_start_loc[b.r + 1] - b.q_start;
  if (mb == 0 && b.h == 0 && threadIdx.x == 0 && q_len > p.max_query_len)
    atomicOr(p.error_flag, 8);  // max_query_len was smaller than this request's query length
  if (q_len <= kDecodeMaxQueryLen || b.m0 >= q_len) return false;
  b.seq_len = p.seq_lens[b.r];
  if (b.seq_len < q_len || b.q_start < 0 || b.q_start + q_len > p.num_tokens) {
    if (b.m0 == 0 && b.h == 0 && threadIdx.x == 0) atomicOr(p.error_flag, 4);
    return false;
  }
  b.ctx = b.seq_len - q_len;
  b.kvh = b.h / (p.num_heads / p.num_kv_heads);
  b.rows = min(kBM, q_len - b.m0);
  b.keys = {key_range(b.ctx + b.m0, b.seq_len, p.causal, p.window).lo,
            key_range(b.ctx + b.m0 + b.rows - 1, b.seq_len, p.causal, p.window).hi};
  return true;
}

/// Padded row-major tile: row r starts at r * kLd elements (rows padded by 8
/// elements so ldmatrix reads are conflict-free).
template <int kLd>
struct PaddedRows {
  static __device__ __forceinline__ int offset(int row, int chunk) { return row * kLd + chunk * 8; }
};

/// The canonical 128-byte-swizzled layout of wgmma operands for a tile of
/// kRows rows of D 16-bit elements: D/64 column slabs of kRows x 128 bytes,
/// and within a slab the 16-byte chunk c of row r stored at chunk c ^ (r % 8).
template <int kRows>
struct Swizzle128Rows {
  static __device__ __forceinline__ int offset(int row, int chunk) {
    return (chunk / 8) * kRows * 64 + row * 64 + (((chunk % 8) ^ (row % 8)) * 8);
  }
};

/// Starts copying the kBN-key K and V tiles at n0 (gathered through the block
/// table) into shared memory laid out by Dst; keys at or past `end` or in a
/// block the table cannot reach become zeros and are marked invalid. Returns
/// whether all of this thread's keys were valid. fp8 rows are dequantised
/// synchronously through registers. Commits one cp.async group.
template <class T, bool kFp8, int D, int kBN, int kThreads, class Dst>
__device__ bool issue_kv_tile(const KernelParams& p, const int* bt_row, int kvh, int n0, int end, T* ks,
                              T* vs, int* valid) {
  using C = CacheElem<T, kFp8>;
  constexpr int kChunks = D / 8;
  const long long row_stride = static_cast<long long>(p.num_kv_heads) * D;
  bool all = true;
  if constexpr (!kFp8 && kThreads % kChunks == 0 && kBN % (kThreads / kChunks) == 0) {
    // Fixed 16-byte column per thread, rows jj0, jj0 + R, ...: the block table
    // is walked incrementally (one division per tile, a lookup per new block).
    constexpr int R = kThreads / kChunks;
    const int c = threadIdx.x % kChunks;
    const int jj0 = threadIdx.x / kChunks;
    const int bs = p.block_size;
    int j = n0 + jj0;
    int lb = j / bs;
    int off = j - lb * bs;
    int cur_lb = -1, pb = -1;
    const T* kbase = static_cast<const T*>(p.k_cache) + kvh * D + c * 8;
    const T* vbase = static_cast<const T*>(p.v_cache) + kvh * D + c * 8;
#pragma unroll
    for (int k = 0; k < kBN / R; ++k) {
      const int jj = jj0 + k * R;
      int b = -1;
      if (j < end) {
        if (lb != cur_lb) {
          pb = physical_block(p, bt_row, lb);
          cur_lb = lb;
        }
        b = pb;
      }
      if (c == 0) valid[jj] = b >= 0;
      all = all && b >= 0;
      const long long o = b >= 0 ? b * p.cache_stride_block + off * row_stride : 0;
      cp_async16(ks + Dst::offset(jj, c), kbase + o, b >= 0);
      cp_async16(vs + Dst::offset(jj, c), vbase + o, b >= 0);
      j += R;
      off += R;
      while (off >= bs) {
        off -= bs;
        ++lb;
      }
    }
  } else {
    for (int i = threadIdx.x; i < kBN * kChunks; i += kThreads) {
      const int jj = i / kChunks;
      const int c = i % kChunks;
      const int j = n0 + jj;
      int pb = -1;
      if (j < end) pb = physical_block(p, bt_row, j / p.block_size);
      if (c == 0) valid[jj] = pb >= 0;
      all = all && pb >= 0;
      const long long off =
          pb >= 0 ? pb * p.cache_stride_block + (j % p.block_size) * row_stride + kvh * D + c * 8 : 0;
      const C* ksrc = static_cast<const C*>(p.k_cache) + off;
      const C* vsrc = static_cast<const C*>(p.v_cache) + off;
      T* kdst = ks + Dst::offset(jj, c);
      T* vdst = vs + Dst::offset(jj, c);
      if constexpr (kFp8) {
        uint4 ko = make_uint4(0, 0, 0, 0), vo = make_uint4(0, 0, 0, 0);
        if (pb >= 0) {
          float f[8];
          load8_fp8(ksrc, p.k_scale, f);
#pragma unroll
          for (int e = 0; e < 8; ++e) reinterpret_cast<T*>(&ko)[e] = from_float<T>(f[e]);
          load8_fp8(vsrc, p.v_scale, f);
#pragma unroll
          for (int e = 0; e < 8; ++e) reinterpret_cast<T*>(&vo)[e] = from_float<T>(f[e]);
        }
        *reinterpret_cast<uint4*>(kdst) = ko;
        *reinterpret_cast<uint4*>(vdst) = vo;
      } else {
        cp_async16(kdst, ksrc, pb >= 0);
        cp_async16(vdst, vsrc, pb >= 0);
      }
    }
  }
  cp_async_commit();
  return all;
}

/// Starts copying the query rows [q_row0, q_row0 + rows) of head h into a
/// kBM-row tile laid out by Dst, by kThreads threads of which this is number
/// tid; rows past `rows` become zeros. Not committed.
template <class T, int D, int kBM, int kThreads, class Dst>
__device__ __forceinline__ void issue_q_tile(const KernelParams& p, int q_row0, int rows, int h, T* qs,
                                             int tid) {
  constexpr int kChunks = D / 8;
  const T* qbase = static_cast<const T*>(p.q);
  for (int i = tid; i < kBM * kChunks; i += kThreads) {
    const int row = i / kChunks;
    const int c = i % kChunks;
    const T* src = row < rows ? qbase + (q_row0 + row) * p.q_stride_t + h * p.q_stride_h + c * 8 : qbase;
    cp_async16(qs + Dst::offset(row, c), src, row < rows);
  }
}

/// How raw logits become log2-domain scores. Without soft-cap (and with a
/// positive scale) logits stay raw and the scale is folded into exp2's
/// argument (one FFMA): max and mask commute with a positive scale.
/// Otherwise they are transformed first and fold is 1.
struct LogitTransform {
  bool softcap;
  bool prescale;
  float fold;
};

__device__ __forceinline__ LogitTransform logit_transform(const KernelParams& p) {
  const bool softcap = p.softcap > 0.0f;
  const float sl2 = p.scale * kLog2e;
  const bool prescale = softcap || !(sl2 > 0.0f);
  return {softcap, prescale, prescale ? 1.0f : sl2};
}

/// Applies the soft-cap or the scale where the transform needs it first.
/// The branches are uniform across the CTA and outside the element loops.
template <int NT>
__device__ __forceinline__ void transform_logits(const KernelParams& p, const LogitTransform& lt,
                                                 float (&s)[NT][4]) {
  if (lt.softcap) {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) s[nt][e] = soft_cap(s[nt][e] * p.scale, p.softcap) * kLog2e;
    }
  } else if (lt.prescale) {
    const float sl2 = p.scale * kLog2e;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) s[nt][e] *= sl2;
    }
  }
}

/// Sets to -inf the scores of keys a row may not see (causal bound, sliding
/// window, keys past the sequence or in unreachable blocks: valid(jj) is
/// false for tile column jj). pos_g is the sequence position of this
/// thread's row g; the tile starts at key n0.
template <int NT, class Valid>
__device__ __forceinline__ void mask_logits(const KernelParams& p, int pos_g, int seq_len, int n0,
                                            Valid valid, float (&s)[NT][4]) {
  const int t = (threadIdx.x % 32) % 4;
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const KeyRange kr = key_range(pos_g + hr * 8, seq_len, p.causal, p.window);
    const int lo = kr.lo - n0, hi = kr.hi - n0;  // visible tile columns [lo, hi)
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int jj = nt * 8 + 2 * t + e;
        if (!(jj >= lo && jj < hi && valid(jj))) s[nt][2 * hr + e] = -INFINITY;
      }
    }
  }
}

/// The online-softmax step for rows g and g+8 on this tile's scores: updates
/// their running max m and sum l, turns the scores into probabilities and
/// returns in corr the factor the output accumulated so far must be scaled by.
template <int NT>
__device__ __forceinline__ void softmax_probabilities(float fold, float (&s)[NT][4], float (&m)[2],
                                                      float (&l)[2], float (&corr)[2]) {
  // Row maxima and sums with two partial chains per row (shorter dependences).
  float mx[2][2] = {{-INFINITY, -INFINITY}, {-INFINITY, -INFINITY}};
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) mx[e >> 1][nt & 1] = fmaxf(mx[e >> 1][nt & 1], s[nt][e]);
  }
  float muse[2];
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    float tile_max = fmaxf(mx[hr][0], mx[hr][1]);
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
    const float m_new = fmaxf(m[hr], tile_max);
    muse[hr] = m_new == -INFINITY ? 0.0f : m_new;  // a row that saw nothing yet keeps zeros
    corr[hr] = fast_exp2((m[hr] - muse[hr]) * fold);
    m[hr] = m_new;
    muse[hr] *= fold;
  }
  float sum[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int hr = e >> 1;
      s[nt][e] = fast_exp2(fmaf(s[nt][e], fold, -muse[hr]));
      sum[hr][nt & 1] += s[nt][e];
    }
  }
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) l[hr] = l[hr] * corr[hr] + (sum[hr][0] + sum[hr][1]);
}

/// Scales output rows g and g+8 by corr, skipped when no row of the warp
/// needs it (no row max moved).
template <int DT>
__device__ __forceinline__ void rescale_output(const float (&corr)[2], float (&o)[DT][4]) {
  if (__any_sync(0xffffffffu, corr[0] != 1.0f || corr[1] != 1.0f)) {
#pragma unroll
    for (int i = 0; i < DT; ++i) {
      o[i][0] *= corr[0];
      o[i][1] *= corr[0];
      o[i][2] *= corr[1];
      o[i][3] *= corr[1];
    }
  }
}

/// Probabilities of 16 keys (score chunks 2kk and 2kk+1) as the A fragment
/// of a k16 tensor-core product.
template <class T, int NT>
__device__ __forceinline__ void probabilities_fragment(const float (&s)[NT][4], int kk,
                                                       std::uint32_t (&a)[4]) {
  a[0] = pack2<T>(s[2 * kk][0], s[2 * kk][1]);
  a[1] = pack2<T>(s[2 * kk][2], s[2 * kk][3]);
  a[2] = pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
  a[3] = pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
}

/// Writes output rows g and g+8 of an m-tile (row_g: row of query/output of
/// row g, or past `rows` when it is padding), normalised by the row sums
/// (reduced across the quad here) and folding in head h's sink logit.
template <class T, int DT>
__device__ __forceinline__ void store_output_rows(const KernelParams& p, float fold, int h, int token_g,
                                                  int row_g, int rows, const float (&o)[DT][4],
                                                  const float (&m)[2], const float (&l)[2]) {
  const int t = (threadIdx.x % 32) % 4;
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    float sum = l[hr];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    if (row_g + hr * 8 >= rows) continue;
    const float mx = m[hr] * fold;  // log2 domain
    float w = 1.0f;
    if (p.sinks != nullptr) {
      const float sink = p.sinks[h] * kLog2e;
      const float m_tot = fmaxf(mx, sink);
      w = mx == -INFINITY ? 0.0f : exp2f(mx - m_tot);
      sum = sum * w + exp2f(sink - m_tot);
    }
    const float inv = sum != 0.0f ? w / sum : 0.0f;  // a NaN sum (NaN key) stays NaN
    T* out = static_cast<T*>(p.out) + (token_g + hr * 8) * p.o_stride_t + h * p.o_stride_h;
#pragma unroll
    for (int dt = 0; dt < DT; ++dt) {
      *reinterpret_cast<std::uint32_t*>(out + dt * 8 + 2 * t) =
          pack2<T>(o[dt][2 * hr] * inv, o[dt][2 * hr + 1] * inv);
    }
  }
}

}  // namespace attnreg::flash_attn
