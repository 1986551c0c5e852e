// The tensor-core decode kernel's reading of an fp8 (e4m3) ring; included by
// decode_mma.cuh only. ldmatrix moves 16-bit elements, so for fp8 rows each
// lane loads its bytes with plain shared-memory loads and widens them to fp16
// in registers (one cvt.rn.f16x2.e4m3x2 per pair on compute capability 8.9
// and later), and the mma runs in fp16 whatever the query type: every e4m3
// value is exact in fp16, the probabilities keep 3 more bits than in bf16,
// and a bf16 query past fp16's range (+-65504) is clamped to it
// (FlashAttention-3's fp8 path takes the query in e4m3 as well, range
// +-448). Which head dimension a
// lane reads is permuted so that its bytes of one row are contiguous:
//   - scores: the k index of the mma (the head dimension) is permuted the
//     same way in Q and K; lane (g, t4) holds, for k-step ks, dims
//     D/4 t4 + 4 ks + {0, 1} (b0) and + {2, 3} (b1) of key row g of the
//     n-tile, so one row span of D/4 bytes serves all D/16 steps;
//   - values: output row g (+8) of m-tile mt is dim D/8 g + 2 mt (+1), so
//     lane group g reads D/8 contiguous bytes of each of its four key rows
//     and byte permutes pair the rows into A fragments.
// Both row spans hit every bank group equally under PitchedRows' swizzle.
#pragma once

#include <cuda_fp8.h>

namespace attnreg::flash_attn {
namespace {

/// Two e4m3 values (the low 16 bits of x, element 0 in the low byte) as an
/// fp16x2 fragment register.
__device__ __forceinline__ std::uint32_t e4m3x2_to_f16x2(std::uint32_t x) {
  const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(x & 0xffffu), __NV_E4M3);
  return static_cast<std::uint32_t>(h.x) | (static_cast<std::uint32_t>(h.y) << 16);
}

/// Two query elements as an fp16x2 fragment register, clamped to fp16's range.
template <class T>
__device__ __forceinline__ std::uint32_t query_pair_f16(const T* q) {
  const float lo = fminf(fmaxf(to_float(q[0]), -65504.0f), 65504.0f);
  const float hi = fminf(fmaxf(to_float(q[1]), -65504.0f), 65504.0f);
  return pack2<__half>(lo, hi);
}

/// Output dimension of accumulator row g + 8 hh of m-tile mt in the fp8 kernel.
template <int D>
__device__ __forceinline__ int fp8_output_dim(int mt, int g, int hh) {
  return D / 8 * g + 2 * mt + hh;
}

/// kBytes bytes of row r of a PitchedRows<kPitch> ring half from byte off on,
/// as 32-bit words, in loads of kPiece bytes (off and kBytes multiples of it).
template <int kPitch, int kBytes, int kPiece>
__device__ __forceinline__ void load_row_span(const unsigned char* half, int r, int off,
                                              std::uint32_t (&words)[kBytes / 4]) {
  static_assert(kBytes % kPiece == 0 && (kPiece == 4 || kPiece == 8 || kPiece == 16), "load shape");
#pragma unroll
  for (int i = 0; i < kBytes / kPiece; ++i) {
    const int o = off + i * kPiece;
    const unsigned char* src = half + PitchedRows<kPitch>::at(r, o / 16) + o % 16;
    if constexpr (kPiece == 16) {
      const uint4 v = *reinterpret_cast<const uint4*>(src);
      words[4 * i] = v.x, words[4 * i + 1] = v.y, words[4 * i + 2] = v.z, words[4 * i + 3] = v.w;
    } else if constexpr (kPiece == 8) {
      const uint2 v = *reinterpret_cast<const uint2*>(src);
      words[2 * i] = v.x, words[2 * i + 1] = v.y;
    } else {
      words[i] = *reinterpret_cast<const std::uint32_t*>(src);
    }
  }
}

/// Widest load (16, 8 or 4 bytes) that divides a span of n bytes at offsets
/// that are multiples of n.
__host__ __device__ constexpr int span_piece(int n) { return n % 16 == 0 ? 16 : n % 8 == 0 ? 8 : 4; }

/// The query rows of a decode CTA as fp16 A fragments in the fp8 kernel's
/// dimension order (row g = head h0 + g; rows >= nh and 8..15 are 0).
template <class T, int D>
__device__ __forceinline__ void load_query_fragments_fp8(const KernelParams& p, int token, int h0, int nh,
                                                         std::uint32_t (&qa)[D / 16][2]) {
  const int g = (threadIdx.x % 32) / 4, t4 = threadIdx.x % 4;
  const T* qrow = static_cast<const T*>(p.q) + token * p.q_stride_t + (h0 + g) * p.q_stride_h + D / 4 * t4;
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks) {
    qa[ks][0] = g < nh ? query_pair_f16(qrow + 4 * ks) : 0u;
    qa[ks][1] = g < nh ? query_pair_f16(qrow + 4 * ks + 2) : 0u;
  }
}

/// attend_group for fp8 rows (D bytes each) at PitchedRows<kPitch> in sk
/// (K) and sv (V), with fp16 query fragments from load_query_fragments_fp8;
/// scale includes k_scale (v_scale is applied to the merged output).
template <int D, int kPitch>
__device__ __forceinline__ void attend_group_fp8(WarpAttention<D>& w, const std::uint32_t (&qa)[D / 16][2],
                                                 const unsigned char* sk, const unsigned char* sv,
                                                 unsigned valid, float scale, float softcap) {
  const int lane = threadIdx.x % 32, g = lane / 4, t4 = lane % 4;
  static_assert(D % 32 == 0, "whole 32-bit words per lane and row");
  // ---- scores: lane (g, t4) reads D/4 bytes of key row 8 nt + g ----
  float sc[2][2];
#pragma unroll
  for (int nt = 0; nt < 2; ++nt) {
    std::uint32_t kw[D / 16];
    load_row_span<kPitch, D / 4, span_piece(D / 4)>(sk, nt * 8 + g, D / 4 * t4, kw);
    float c0[4] = {0.0f, 0.0f, 0.0f, 0.0f}, c1[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int ks = 0; ks < D / 16; ks += 2) {
      mma16816_top_rows<__half>(c0, qa[ks][0], qa[ks][1], e4m3x2_to_f16x2(kw[ks]),
                                e4m3x2_to_f16x2(kw[ks] >> 16));
      mma16816_top_rows<__half>(c1, qa[ks + 1][0], qa[ks + 1][1], e4m3x2_to_f16x2(kw[ks + 1]),
                                e4m3x2_to_f16x2(kw[ks + 1] >> 16));
    }
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int kk = nt * 8 + 2 * t4 + e;
      sc[nt][e] = (valid >> kk) & 1u ? soft_cap((c0[e] + c1[e]) * scale, softcap) : -INFINITY;
    }
  }
  const GroupProbabilities pb = online_softmax<__half>(w, sc);
  // ---- values: lane group g reads D/8 bytes of key rows 2 t4, 2 t4 + 1,
  // 8 + 2 t4 and 9 + 2 t4; a byte permute pairs the same dim of two keys ----
  std::uint32_t v0[D / 32], v1[D / 32], v2[D / 32], v3[D / 32];
  constexpr int kPiece = span_piece(D / 8);
  load_row_span<kPitch, D / 8, kPiece>(sv, 2 * t4, D / 8 * g, v0);
  load_row_span<kPitch, D / 8, kPiece>(sv, 2 * t4 + 1, D / 8 * g, v1);
  load_row_span<kPitch, D / 8, kPiece>(sv, 8 + 2 * t4, D / 8 * g, v2);
  load_row_span<kPitch, D / 8, kPiece>(sv, 9 + 2 * t4, D / 8 * g, v3);
#pragma unroll
  for (int mt = 0; mt < D / 16; ++mt) {
    // bytes (dim d, key k): (d0, k0) (d0, k1) (d1, k0) (d1, k1) from byte 2 (mt % 2) of each word
    const unsigned sel = mt % 2 ? 0x7362u : 0x5140u;
    const std::uint32_t lo = __byte_perm(v0[mt / 2], v1[mt / 2], sel);
    const std::uint32_t hi = __byte_perm(v2[mt / 2], v3[mt / 2], sel);
    const std::uint32_t a[4] = {e4m3x2_to_f16x2(lo), e4m3x2_to_f16x2(lo >> 16), e4m3x2_to_f16x2(hi),
                                e4m3x2_to_f16x2(hi >> 16)};
    accumulate_values<__half>(w.acc[mt], a, pb);
  }
}

}  // namespace
}  // namespace attnreg::flash_attn
