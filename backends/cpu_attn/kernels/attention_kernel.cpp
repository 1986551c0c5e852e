// CPU_ATTN attention kernel (see attention_kernel.hpp). The per-target part
// is compiled once per Highway x86 target and chosen at run time; the
// planning and OpenMP driver below HWY_ONCE are compiled once.

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention_kernel.cpp"
#include <hwy/foreach_target.h>
#include <hwy/highway.h>
#include <hwy/cache_control.h>
#include <hwy/contrib/math/math-inl.h>
// clang-format on

#include "kernels/attention_kernel.hpp"

#include <algorithm>
#include <array>
#include <attnreg/numeric.hpp>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

HWY_BEFORE_NAMESPACE();
namespace attnreg::cpu_attn::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

/// An fp16 query element rounded to bf16 for the vdpbf16ps paths over an fp8
/// cache: an error the size of P's own rounding to bf16 (notes, attempts 70, 78).
inline std::uint16_t Fp16ToBf16(std::uint16_t h) { return numeric::float_to_bf16(numeric::fp16_to_float(h)); }

#undef ATTNREG_CPU_FP8_SIMD  // this file is compiled once per Highway target
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
#define ATTNREG_CPU_FP8_SIMD 1
/// WidenFp8's values times this are the bytes' e4m3 values.
constexpr float kFp8Unscale = 256.0f;
/// 2 N float8_e4m3fn bytes at p (N = lanes of a float vector) as floats, the
/// first N in a, each the byte's value / 2^8, widened in registers without
/// a table: the byte, sign-extended to 16 bits and shifted left by 7, is the
/// fp16 bit pattern of its value / 2^8 once bit 14 (a copy of the sign) is
/// cleared, since e4m3's exponent field and 3 mantissa bits land on fp16's
/// with biases 7 and 15, subnormals included; F16C widens that to fp32
/// exactly. 0x7F / 0xFF (NaN in e4m3fn) would read as 1.875, so they are
/// replaced by the fp16 NaN.
HWY_INLINE void WidenFp8(const std::byte* p, VF& a, VF& b) {
#if HWY_TARGET <= HWY_AVX3
  const __m512i x = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  const __m512i h = _mm512_and_si512(_mm512_slli_epi16(x, 7), _mm512_set1_epi16(static_cast<short>(0xBF80)));
  const __mmask32 nan = _mm512_cmpeq_epi16_mask(_mm512_slli_epi16(x, 9),  // the 7 bits below the sign
                                                _mm512_set1_epi16(static_cast<short>(0xFE00)));
  const __m512i f = _mm512_mask_mov_epi16(h, nan, _mm512_set1_epi16(0x7E00));
  a = VF{_mm512_cvtph_ps(_mm512_castsi512_si256(f))};
  b = VF{_mm512_cvtph_ps(_mm512_extracti64x4_epi64(f, 1))};
#else
  const __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  const __m256i h = _mm256_and_si256(_mm256_slli_epi16(x, 7), _mm256_set1_epi16(static_cast<short>(0xBF80)));
  const __m256i nan =
      _mm256_cmpeq_epi16(_mm256_slli_epi16(x, 9), _mm256_set1_epi16(static_cast<short>(0xFE00)));
  const __m256i f = _mm256_blendv_epi8(h, _mm256_set1_epi16(0x7E00), nan);
  a = VF{_mm256_cvtph_ps(_mm256_castsi256_si128(f))};
  b = VF{_mm256_cvtph_ps(_mm256_extracti128_si256(f, 1))};
#endif
}
#else
#define ATTNREG_CPU_FP8_SIMD 0
#endif

/// n elements of `type` at src (n a multiple of the lane count) as floats.
/// fp8 bytes are dequantised with fp8_scale: widened in registers (WidenFp8)
/// where the target has it and n is a multiple of 2 vectors, else through
/// lut (256 dequantised values, fp8_scale applied).
HWY_INLINE void ToFloat(const std::byte* src, ScalarType type, int n, float* HWY_RESTRICT dst,
                        const float* lut, float fp8_scale = 1.0f) {
  const DF d;
  const int N = static_cast<int>(hn::Lanes(d));
  switch (type) {
    case ScalarType::BFloat16: {
      const hn::Rebind<hwy::bfloat16_t, DF> dh;
      const auto* p = reinterpret_cast<const hwy::bfloat16_t*>(src);
      for (int i = 0; i < n; i += N) hn::StoreU(hn::PromoteTo(d, hn::LoadU(dh, p + i)), d, dst + i);
      return;
    }
    case ScalarType::Float16: {
      const hn::Rebind<hwy::float16_t, DF> dh;
      const auto* p = reinterpret_cast<const hwy::float16_t*>(src);
      for (int i = 0; i < n; i += N) hn::StoreU(hn::PromoteTo(d, hn::LoadU(dh, p + i)), d, dst + i);
      return;
    }
    case ScalarType::Float8_E4M3: {
#if ATTNREG_CPU_FP8_SIMD
      if (n % (2 * N) == 0) {
        const VF unscale = hn::Set(d, kFp8Unscale * fp8_scale);
        for (int i = 0; i < n; i += 2 * N) {
          VF lo, hi;
          WidenFp8(src + i, lo, hi);
          hn::StoreU(hn::Mul(lo, unscale), d, dst + i);
          hn::StoreU(hn::Mul(hi, unscale), d, dst + i + N);
        }
        return;
      }
#endif
      (void)fp8_scale;  // in lut already
      const auto* p = reinterpret_cast<const std::uint8_t*>(src);
      for (int i = 0; i < n; ++i) dst[i] = lut[p[i]];
      return;
    }
    default:
      std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
      return;
  }
}

/// Prefetches the bytes [p, p + n) into cache, one request per 64-byte line.
HWY_INLINE void Prefetch(const std::byte* p, int n) {
  for (int i = 0; i < n; i += 64) hwy::Prefetch(p + i);
}

/// e^x for the softmax's arguments, x in [-87, 0]: 2^n 2^f with n = round(x
/// log2 e), 2^f a degree-5 minimax polynomial on [-1/2, 1/2] (7.5e-8
/// relative, below fp32's rounding) and 2^n put into the exponent bits (n >=
/// -126, a normal float). 2.5x the throughput of Highway's general Exp, which
/// also handles arguments the softmax never passes (notes, attempt 80).
HWY_INLINE VF SoftmaxExp(DF d, VF x) {
  const hn::RebindToSigned<DF> di;
  const VF t = hn::Mul(x, hn::Set(d, 1.44269504088896341f));
  const VF n = hn::Round(t);
  const VF f = hn::Sub(t, n);
  VF p = hn::Set(d, 0.0013276466634124517f);
  p = hn::MulAdd(p, f, hn::Set(d, 0.009675540961325169f));
  p = hn::MulAdd(p, f, hn::Set(d, 0.05550713464617729f));
  p = hn::MulAdd(p, f, hn::Set(d, 0.24022120237350464f));
  p = hn::MulAdd(p, f, hn::Set(d, 0.6931469440460205f));
  p = hn::MulAdd(p, f, hn::Set(d, 1.0000001192092896f));
  const auto two_n = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(hn::ConvertTo(di, n), hn::Set(di, 127))));
  return hn::Mul(p, two_n);
}

/// exp(x - m) of scores x against the running maximum m, 0 for masked keys
/// (x = -inf). Clamping keeps SoftmaxExp's argument in its range. A NaN score
/// (a NaN in the cache) stays NaN, as in the reference, whatever the clamp
/// and SoftmaxExp make of it: it comes back through x * 0, which is 0 for
/// finite x.
HWY_INLINE VF SoftmaxWeight(DF d, VF x, VF m) {
  const VF e = SoftmaxExp(d, hn::Max(hn::Sub(x, m), hn::Set(d, -87.0f)));
  return hn::IfThenZeroElse(hn::Eq(x, hn::Set(d, kNegInf)), hn::MulAdd(x, hn::Zero(d), e));
}

/// Per-item constants the row kernels need.
struct ItemContext {
  const KernelArgs* args;
  const WorkItem* item;
  int head_size, group;
  bool dot = false;        ///< vdpbf16ps: scores from the raw query and bf16 key rows (s.k_src), P.V from
                           ///< the value rows paired in s.v_tile (PairRowsBF16)
  bool dot_fp8 = false;    ///< with dot: an fp8 cache, its rows widened to bf16 (Fp8RowsToBf16)
  float dot_scale = 1.0f;  ///< with dot: the scores' scale (the softmax scale, times k_scale for fp8)
  float pv_scale = 1.0f;   ///< with dot: P's factor in P.V (v_scale for fp8, whose rows widen unscaled)
  bool query_f16 = false;  ///< with dot: an fp16 query, its rows rounded to bf16 into s.q (ProcessItem)
};

#undef ATTNREG_CPU_BF16_DOT  // this file is compiled once per Highway target
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
#define ATTNREG_CPU_BF16_DOT 1
/// The tile's bf16 key rows k[j] (j < kTileKeys, rows past nk repeating the
/// last; head_size a multiple of 32) transposed for ScoresRows4BF16Dot: for
/// each block b of 16 keys and pair p of elements (2 p, 2 p + 1), 64 bytes at
/// dst + (b * head_size / 2 + p) * 64 whose 32-bit lane l holds that element
/// pair of key 16 b + l. Shared by every row pass of the work item.
void PackKeysBF16(const std::byte* const* k, int nk, int head_size, std::byte* dst);
/// Scores of 4 bf16 query rows (raw, unscaled) against the nk keys packed by
/// PackKeysBF16, times scale, into sc[r * kTileKeys + j] (up to the next 16
/// keys; those past nk are masked by the softmax). Keys are the vector lanes
/// and each query element pair a broadcast operand of vdpbf16ps, so no
/// horizontal sums (notes, attempt 74).
void ScoresRows4BF16Dot(const std::byte* const* q, const std::byte* packed_keys, int nk, int head_size,
                        float scale, float* sc);
/// The nk bf16 value rows v[j] (head_size a multiple of 32) as key pairs for
/// PvRows4BF16Dot: pair i's 64-byte block c holds elements 16 c .. 16 c + 15
/// of rows 2 i and 2 i + 1, one (row 2 i, row 2 i + 1) pair of words per
/// 32-bit lane, at dst + i * head_size * 4 + c * 64; an odd nk's last pair
/// has zeros for its second row.
void PairRowsBF16(const std::byte* const* v, int nk, int head_size, std::byte* dst);
/// acc[r] = alpha[r] acc[r] + P V for 4 rows (r < 4), two keys per vdpbf16ps:
/// P (sc[r * kTileKeys + j] times p_scale, zero past nk up to a whole pair)
/// rounded to bf16, as tensor-core kernels round it; V from PairRowsBF16.
void PvRows4BF16Dot(const float* sc, const float* alpha, float* const* acc, const std::byte* pairs, int nk,
                    int head_size, float p_scale);
/// Whether this call's query and cache allow the vdpbf16ps scores and P.V: a
/// bf16 query and a bf16 cache with AVX512_BF16, or an fp8 cache (head size
/// a multiple of 64) with AVX512_VBMI too and a bf16 query or an fp16 one,
/// which both paths round to bf16 (Fp16ToBf16).
bool UseBF16Dot(const KernelArgs& a);
/// The nk fp8 key rows k[j] (head_size a multiple of 64) widened to bf16, in
/// natural order, into dst (head_size * 2 bytes a row); k[j] then points at its
/// copy. Needs AVX512_VBMI (UseBF16Dot says so for fp8 caches).
void Fp8RowsToBf16(const std::byte** k, int nk, int head_size, std::byte* dst);
#else
#define ATTNREG_CPU_BF16_DOT 0
#endif

/// Scores, online-softmax update and P.V for NR query rows against one tile of
/// nk keys starting at key0. Rows share each K/V load; NR <= 4 keeps the
/// accumulators in registers.
template <int NR>
HWY_INLINE void ProcessRows(const ItemContext& c, ThreadScratch& s, const std::int32_t* rows, int key0,
                            int nk) {
  const DF d;
  const int N = static_cast<int>(hn::Lanes(d));
  const int Dh = c.head_size;
  const KernelArgs& a = *c.args;
  const float* q[NR];
  float* acc[NR];
  float* sc[NR];
  for (int r = 0; r < NR; ++r) {
    q[r] = s.q.data() + static_cast<std::ptrdiff_t>(rows[r]) * Dh;
    acc[r] = s.acc.data() + static_cast<std::ptrdiff_t>(rows[r]) * Dh;
    sc[r] = s.scores.data() + r * kTileKeys;
  }
  // ---- S = Q K^T for the tile: two keys at a time, so each query vector
  // load feeds two FMAs (6 loads per 8 FMAs with four rows) ----
  int j = 0;
#if ATTNREG_CPU_BF16_DOT
  if (c.dot) {  // 4 rows at a time: a pass of fewer repeats its last row, whose extra scores go unused
    const std::byte* qp[4];
    for (int r = 0; r < 4; ++r) {
      const int row = rows[std::min(r, NR - 1)];
      qp[r] =
          c.query_f16
              ? reinterpret_cast<const std::byte*>(s.q.data() + static_cast<std::ptrdiff_t>(row) * Dh)
              : a.query.at(c.item->token_begin + row / c.group, c.item->kv_head * c.group + row % c.group, 0);
    }
    ScoresRows4BF16Dot(qp, reinterpret_cast<const std::byte*>(s.k_pairs.data()), nk, Dh, c.dot_scale,
                       s.scores.data());
    j = nk;
  }
#endif
  for (; j + 2 <= nk; j += 2) {
    const float* HWY_RESTRICT k0p = s.k_rows[j];
    const float* HWY_RESTRICT k1p = s.k_rows[j + 1];
    VF s0[NR], s1[NR];
    for (int r = 0; r < NR; ++r) s0[r] = s1[r] = hn::Zero(d);
    for (int i = 0; i < Dh; i += N) {
      const VF k0 = hn::LoadU(d, k0p + i), k1 = hn::LoadU(d, k1p + i);
      for (int r = 0; r < NR; ++r) {
        const VF qv = hn::LoadU(d, q[r] + i);
        s0[r] = hn::MulAdd(qv, k0, s0[r]);
        s1[r] = hn::MulAdd(qv, k1, s1[r]);
      }
    }
    for (int r = 0; r < NR; ++r) {
      sc[r][j] = hn::GetLane(hn::SumOfLanes(d, s0[r]));
      sc[r][j + 1] = hn::GetLane(hn::SumOfLanes(d, s1[r]));
    }
  }
  if (j < nk) {  // odd tile: the last key alone
    const float* HWY_RESTRICT kp = s.k_rows[j];
    VF s0[NR];
    for (int r = 0; r < NR; ++r) s0[r] = hn::Zero(d);
    for (int i = 0; i < Dh; i += N) {
      const VF k0 = hn::LoadU(d, kp + i);
      for (int r = 0; r < NR; ++r) s0[r] = hn::MulAdd(hn::LoadU(d, q[r] + i), k0, s0[r]);
    }
    for (int r = 0; r < NR; ++r) sc[r][j] = hn::GetLane(hn::SumOfLanes(d, s0[r]));
  }
  // ---- soft-cap, ALiBi, mask; online softmax ----
  float alpha[NR];
  const float cap = a.logits_soft_cap;
  for (int r = 0; r < NR; ++r) {
    const int row = rows[r];
    const int token = row / c.group;
    const int head = c.item->kv_head * c.group + row % c.group;
    const float pos = static_cast<float>(c.item->first_pos + token);
    const float lo = static_cast<float>(std::max(s.lo[row], key0));
    const float hi = static_cast<float>(std::min(s.hi[row], key0 + nk));
    const VF vlo = hn::Set(d, lo), vhi = hn::Set(d, hi), vpos = hn::Set(d, pos);
    const VF slope = hn::Set(d, a.alibi_slopes ? a.alibi_slopes[head] : 0.0f);
    VF vmax = hn::Set(d, kNegInf);
    for (int jv = 0; jv < nk; jv += N) {
      VF x = hn::LoadU(d, sc[r] + jv);
      if (cap > 0.0f) x = hn::Mul(hn::Set(d, cap), hn::Tanh(d, hn::Mul(x, hn::Set(d, 1.0f / cap))));
      const VF kpos = hn::Iota(d, static_cast<float>(key0 + jv));
      if (a.alibi_slopes) x = hn::MulAdd(slope, hn::Sub(kpos, vpos), x);
      x = hn::IfThenElse(hn::And(hn::Ge(kpos, vlo), hn::Lt(kpos, vhi)), x, hn::Set(d, kNegInf));
      hn::StoreU(x, d, sc[r] + jv);
      vmax = hn::Max(vmax, x);
    }
    const float m_old = s.m[row];
    const float m_new = std::max(m_old, hn::GetLane(hn::MaxOfLanes(d, vmax)));
    alpha[r] = std::exp(m_old - m_new);  // 0 for the first tile (m_old = -inf)
    const VF vm = hn::Set(d, m_new);
    VF vsum = hn::Zero(d);
    for (int jv = 0; jv < nk; jv += N) {
      const VF x = hn::LoadU(d, sc[r] + jv);
      const VF p = SoftmaxWeight(d, x, vm);
      hn::StoreU(p, d, sc[r] + jv);
      vsum = hn::Add(vsum, p);
    }
    s.l[row] = s.l[row] * alpha[r] + hn::GetLane(hn::SumOfLanes(d, vsum));
    s.m[row] = m_new;
  }
#if ATTNREG_CPU_BF16_DOT
  if (c.dot) {  // V as bf16 key pairs (ProcessItem), two keys per vdpbf16ps; rows past NR go to a sink
    float* acc4[4];
    float alpha4[4];
    for (int r = 0; r < 4; ++r) {
      acc4[r] = r < NR ? acc[r] : s.pv_sink.data();
      alpha4[r] = r < NR ? alpha[r] : 0.0f;
    }
    PvRows4BF16Dot(s.scores.data(), alpha4, acc4, reinterpret_cast<const std::byte*>(s.v_tile.data()), nk, Dh,
                   c.pv_scale);
    return;
  }
#endif
  // ---- O = alpha O + P V: two head-dim vectors at a time, so each
  // broadcast probability feeds two FMAs (6 loads per 8 FMAs with four rows) ----
  int i = 0;
#if HWY_TARGET <= HWY_AVX3
  // 32 vector registers: four head-dim vectors at a time (16 accumulators),
  // 8 loads per 16 FMAs with four rows.
  for (; i + 4 * N <= Dh; i += 4 * N) {
    VF o[4][NR];
    for (int r = 0; r < NR; ++r) {
      const VF al = hn::Set(d, alpha[r]);
      for (int h = 0; h < 4; ++h) o[h][r] = hn::Mul(hn::LoadU(d, acc[r] + i + h * N), al);
    }
    for (int jj = 0; jj < nk; ++jj) {
      VF v[4];
      for (int h = 0; h < 4; ++h) v[h] = hn::LoadU(d, s.v_rows[jj] + i + h * N);
      for (int r = 0; r < NR; ++r) {
        const VF p = hn::Set(d, sc[r][jj]);
        for (int h = 0; h < 4; ++h) o[h][r] = hn::MulAdd(p, v[h], o[h][r]);
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int h = 0; h < 4; ++h) hn::StoreU(o[h][r], d, acc[r] + i + h * N);
  }
#endif
  for (; i + 2 * N <= Dh; i += 2 * N) {
    VF o0[NR], o1[NR];
    for (int r = 0; r < NR; ++r) {
      const VF al = hn::Set(d, alpha[r]);
      o0[r] = hn::Mul(hn::LoadU(d, acc[r] + i), al);
      o1[r] = hn::Mul(hn::LoadU(d, acc[r] + i + N), al);
    }
    for (int jj = 0; jj < nk; ++jj) {
      const VF v0 = hn::LoadU(d, s.v_rows[jj] + i), v1 = hn::LoadU(d, s.v_rows[jj] + i + N);
      for (int r = 0; r < NR; ++r) {
        const VF p = hn::Set(d, sc[r][jj]);
        o0[r] = hn::MulAdd(p, v0, o0[r]);
        o1[r] = hn::MulAdd(p, v1, o1[r]);
      }
    }
    for (int r = 0; r < NR; ++r) {
      hn::StoreU(o0[r], d, acc[r] + i);
      hn::StoreU(o1[r], d, acc[r] + i + N);
    }
  }
  for (; i < Dh; i += N) {  // an odd number of vectors (e.g. D = 48 with 16 lanes)
    VF o[NR];
    for (int r = 0; r < NR; ++r) o[r] = hn::Mul(hn::LoadU(d, acc[r] + i), hn::Set(d, alpha[r]));
    for (int jj = 0; jj < nk; ++jj) {
      const VF v = hn::LoadU(d, s.v_rows[jj] + i);
      for (int r = 0; r < NR; ++r) o[r] = hn::MulAdd(hn::Set(d, sc[r][jj]), v, o[r]);
    }
    for (int r = 0; r < NR; ++r) hn::StoreU(o[r], d, acc[r] + i);
  }
}

/// Writes acc / (l + exp(sink - m)) as the output row of (token, head).
HWY_INLINE void WriteOutput(const KernelArgs& a, std::int64_t token, int head, float m, float l, float* acc,
                            int Dh) {
  const DF d;
  const int N = static_cast<int>(hn::Lanes(d));
  const float denom = l + (a.sinks ? std::exp(a.sinks[head] - m) : 0.0f);
  const VF inv = hn::Set(d, 1.0f / denom);
  for (int i = 0; i < Dh; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, acc + i), inv), d, acc + i);
  std::byte* out = a.output.at(token, head, 0);
  if (a.output.dtype == ScalarType::Float32) {
    std::memcpy(out, acc, static_cast<std::size_t>(Dh) * sizeof(float));
    return;
  }
  // Scalar rounding to nearest even (Highway 1.0's bf16 demotion truncates).
  const std::size_t esize = element_size(a.output.dtype);
  for (int i = 0; i < Dh; ++i) numeric::store_from_float(out + i * esize, a.output.dtype, acc[i]);
}

/// Runs one work item: its query rows against its key range, tile by tile;
/// writes the output (one split) or its partial (m, l, acc) rows.
void ProcessItem(const KernelArgs& a, const WorkItem& it, ThreadScratch& s, float* partials) {
  const DF d;
  const int N = static_cast<int>(hn::Lanes(d));
  const int Dh = static_cast<int>(a.sizes.head_size);
  const int group = static_cast<int>(a.sizes.num_heads / a.sizes.num_kv_heads);
  const int rows = it.num_tokens * group;
  const int seq = a.seq_lens[it.req];
  const int W = a.sliding_window;
  ItemContext ctx{&a, &it, Dh, group};
#if ATTNREG_CPU_BF16_DOT
  ctx.dot = UseBF16Dot(a);
  ctx.query_f16 = ctx.dot && a.query.dtype == ScalarType::Float16;
  ctx.dot_fp8 = a.cache.dtype == ScalarType::Float8_E4M3;
  ctx.dot_scale = a.sizes.scale * (ctx.dot_fp8 ? a.k_scale : 1.0f);
  ctx.pv_scale = ctx.dot_fp8 ? a.v_scale : 1.0f;
#endif
  const VF scale = hn::Set(d, a.sizes.scale);
  for (int row = 0; row < rows; ++row) {
    const std::int64_t token = it.token_begin + row / group;
    const int head = it.kv_head * group + row % group;
    float* q = s.q.data() + static_cast<std::ptrdiff_t>(row) * Dh;
    if (!ctx.dot) {  // fp32 query rows, scaled (the vdpbf16ps scores read a bf16 query as it is)
      ToFloat(a.query.at(token, head, 0), a.query.dtype, Dh, q, nullptr);
      for (int i = 0; i < Dh; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, q + i), scale), d, q + i);
    } else if (ctx.query_f16) {  // an fp16 query rounded to bf16, as the fp8 decode does (notes, attempt 78)
      const auto* src = reinterpret_cast<const std::uint16_t*>(a.query.at(token, head, 0));
      auto* dst = reinterpret_cast<std::uint16_t*>(q);
      for (int e = 0; e < Dh; ++e) dst[e] = Fp16ToBf16(src[e]);
    }
    std::fill_n(s.acc.data() + static_cast<std::ptrdiff_t>(row) * Dh, Dh, 0.0f);
    s.m[row] = kNegInf;
    s.l[row] = 0.0f;
    const int pos = it.first_pos + row / group;
    s.lo[row] = W > 0 ? std::max(0, pos - W + 1) : 0;
    s.hi[row] = a.sizes.causal ? pos + 1 : (W > 0 ? std::min(seq, pos + W) : seq);
  }
  const std::int32_t* table = a.block_table + it.req * a.block_table_stride;
  const int bs = static_cast<int>(a.sizes.block_size);
  const bool direct = a.cache.dtype == ScalarType::Float32;
  const int row_bytes = Dh * element_size(a.cache.dtype);
  for (int key0 = it.key_begin; key0 < it.key_end; key0 += kTileKeys) {
    const int nk = std::min(kTileKeys, it.key_end - key0);
    int num_active = 0;
    for (int row = 0; row < rows; ++row)
      if (s.lo[row] < key0 + nk && s.hi[row] > key0) s.active[num_active++] = row;
    if (num_active == 0) continue;
    for (int j = 0; j < nk; ++j) {
      const int pos = key0 + j;
      // One KV head's row is a few cache lines every Hkv rows, a stride the
      // hardware prefetchers lose at page boundaries: ask for the next
      // tile's rows while this one is converted.
      if (const int ahead = pos + kTileKeys; ahead < it.key_end) {
        const std::int32_t next = table[ahead / bs];
        Prefetch(a.cache.at(0, next, ahead % bs, it.kv_head, 0), row_bytes);
        Prefetch(a.cache.at(1, next, ahead % bs, it.kv_head, 0), row_bytes);
      }
      const std::int32_t block = table[pos / bs];
      const std::byte* k = a.cache.at(0, block, pos % bs, it.kv_head, 0);
      const std::byte* v = a.cache.at(1, block, pos % bs, it.kv_head, 0);
      if (ctx.dot) {  // scores and P.V from the bf16 rows (fp8: widened below)
        s.k_src[j] = k;
        s.v_src[j] = v;
      } else if (direct) {
        s.k_rows[j] = reinterpret_cast<const float*>(k);
        s.v_rows[j] = reinterpret_cast<const float*>(v);
      } else {
        float* kt = s.k_tile.data() + static_cast<std::ptrdiff_t>(j) * Dh;
        float* vt = s.v_tile.data() + static_cast<std::ptrdiff_t>(j) * Dh;
        ToFloat(k, a.cache.dtype, Dh, kt, a.fp8_k_lut, a.k_scale);
        ToFloat(v, a.cache.dtype, Dh, vt, a.fp8_v_lut, a.v_scale);
        s.k_rows[j] = kt;
        s.v_rows[j] = vt;
      }
    }
#if ATTNREG_CPU_BF16_DOT
    if (ctx.dot) {
      if (ctx.dot_fp8) {  // both halves of k_tile: kTileKeys bf16 rows each
        auto* widened = reinterpret_cast<std::byte*>(s.k_tile.data());
        Fp8RowsToBf16(s.k_src.data(), nk, Dh, widened);
        Fp8RowsToBf16(s.v_src.data(), nk, Dh, widened + static_cast<std::ptrdiff_t>(kTileKeys) * Dh * 2);
      }
      for (int j = nk; j < kTileKeys; ++j) s.k_src[j] = s.k_src[nk - 1];
      PackKeysBF16(s.k_src.data(), nk, Dh, reinterpret_cast<std::byte*>(s.k_pairs.data()));
      PairRowsBF16(s.v_src.data(), nk, Dh, reinterpret_cast<std::byte*>(s.v_tile.data()));
    }
#endif
    int r = 0;
    for (; r + 4 <= num_active; r += 4) ProcessRows<4>(ctx, s, s.active.data() + r, key0, nk);
    switch (num_active - r) {
      case 3:
        ProcessRows<3>(ctx, s, s.active.data() + r, key0, nk);
        break;
      case 2:
        ProcessRows<2>(ctx, s, s.active.data() + r, key0, nk);
        break;
      case 1:
        ProcessRows<1>(ctx, s, s.active.data() + r, key0, nk);
        break;
      default:
        break;
    }
  }
  for (int row = 0; row < rows; ++row) {
    float* acc = s.acc.data() + static_cast<std::ptrdiff_t>(row) * Dh;
    if (it.num_splits == 1) {
      WriteOutput(a, it.token_begin + row / group, it.kv_head * group + row % group, s.m[row], s.l[row], acc,
                  Dh);
    } else {
      float* p = partials + it.partial_offset + static_cast<std::ptrdiff_t>(row) * (Dh + 2);
      p[0] = s.m[row];
      p[1] = s.l[row];
      std::memcpy(p + 2, acc, static_cast<std::size_t>(Dh) * sizeof(float));
    }
  }
}

/// Merges the partial rows of the splits items[first .. first + num_splits)
/// with log-sum-exp weights and writes the output.
void MergeSplits(const KernelArgs& a, const WorkItem* items, float* partials) {
  const DF d;
  const int N = static_cast<int>(hn::Lanes(d));
  const WorkItem& it = items[0];
  const int Dh = static_cast<int>(a.sizes.head_size);
  const int group = static_cast<int>(a.sizes.num_heads / a.sizes.num_kv_heads);
  const bool all_heads = it.kv_head < 0;  // decode item: rows are the query heads
  const int rows = all_heads ? static_cast<int>(a.sizes.num_heads) : it.num_tokens * group;
  for (int row = 0; row < rows; ++row) {
    const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(row) * (Dh + 2);
    float m = kNegInf;
    for (int sp = 0; sp < it.num_splits; ++sp) m = std::max(m, partials[items[sp].partial_offset + off]);
    float* out = partials + it.partial_offset + off;  // merged in place into the first split
    float l = 0.0f;
    for (int sp = 0; sp < it.num_splits; ++sp) {
      const float* p = partials + items[sp].partial_offset + off;
      const float w = p[1] > 0.0f ? std::exp(p[0] - m) : 0.0f;  // a split that saw no key weighs 0
      l += w * p[1];
      const VF vw = hn::Set(d, w);
      for (int i = 0; i < Dh; i += N) {
        const VF prev = sp == 0 ? hn::Zero(d) : hn::LoadU(d, out + 2 + i);
        hn::StoreU(hn::MulAdd(vw, hn::LoadU(d, p + 2 + i), prev), d, out + 2 + i);
      }
    }
    if (all_heads)
      WriteOutput(a, it.token_begin, row, m, l, out + 2, Dh);
    else
      WriteOutput(a, it.token_begin + row / group, it.kv_head * group + row % group, m, l, out + 2, Dh);
  }
}

#include "kernels/decode_all_heads-inl.h"  // the all-heads decode path (namespace decode)

#if ATTNREG_CPU_BF16_DOT
/// Transposes a 16 x 16 block of 32-bit elements in place: r[i] lane j
/// becomes r[j] lane i (48 shuffles).
__attribute__((target(HWY_TARGET_STR ",avx512bf16"))) HWY_INLINE void Transpose16x16(__m512i (&r)[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  // u[4 i + k], 128-bit lane L: element 4 L + k of rows 4 i .. 4 i + 3.
  for (int i = 0; i < 4; ++i) {
    u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  // Element 4 L + k of all 16 rows: lane L of u[k], u[4 + k], u[8 + k], u[12 + k].
  for (int k = 0; k < 4; ++k) {
    const __m512i v0 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0x88),
                  v1 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0xDD);
    const __m512i w0 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0x88);
    const __m512i w1 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0xDD);
    r[k] = _mm512_shuffle_i32x4(v0, w0, 0x88);
    r[8 + k] = _mm512_shuffle_i32x4(v0, w0, 0xDD);
    r[4 + k] = _mm512_shuffle_i32x4(v1, w1, 0x88);
    r[12 + k] = _mm512_shuffle_i32x4(v1, w1, 0xDD);
  }
}

__attribute__((target(HWY_TARGET_STR ",avx512bf16"))) static void PackKeysBF16Impl(const std::byte* const* k,
                                                                                   int nk, int head_size,
                                                                                   std::byte* dst) {
  const int pairs = head_size / 2;
  for (int b = 0; b * 16 < nk; ++b)
    for (int p0 = 0; p0 < pairs; p0 += 16) {  // 16 element pairs (64 bytes) of each of 16 keys
      __m512i r[16];
      for (int l = 0; l < 16; ++l) r[l] = _mm512_loadu_si512(k[16 * b + l] + 4 * p0);
      Transpose16x16(r);
      for (int p = 0; p < 16; ++p)
        _mm512_store_si512(dst + (static_cast<std::ptrdiff_t>(b) * pairs + p0 + p) * 64, r[p]);
    }
}

void PackKeysBF16(const std::byte* const* k, int nk, int head_size, std::byte* dst) {
  PackKeysBF16Impl(k, nk, head_size, dst);
}

__attribute__((target(HWY_TARGET_STR ",avx512bf16"))) static void ScoresRows4BF16DotImpl(
    const std::byte* const* q, const std::byte* packed_keys, int nk, int head_size, float scale, float* sc) {
  const int pairs = head_size / 2;
  const __m512 vscale = _mm512_set1_ps(scale);
  for (int b = 0; b * 16 < nk; ++b) {
    const std::byte* kb = packed_keys + static_cast<std::ptrdiff_t>(b) * pairs * 64;
    // Two accumulators per row (even and odd element pairs): 8 chains of
    // head_size / 4 vdpbf16ps.
    __m512 acc[4][2];
    for (int r = 0; r < 4; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int p = 0; p < pairs; p += 2) {
      const __m512i k0 = _mm512_load_si512(kb + p * 64), k1 = _mm512_load_si512(kb + (p + 1) * 64);
      for (int r = 0; r < 4; ++r) {
        std::int32_t q0, q1;
        std::memcpy(&q0, q[r] + 4 * p, 4);
        std::memcpy(&q1, q[r] + 4 * p + 4, 4);
        acc[r][0] = _mm512_dpbf16_ps(acc[r][0], (__m512bh)k0, (__m512bh)_mm512_set1_epi32(q0));
        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], (__m512bh)k1, (__m512bh)_mm512_set1_epi32(q1));
      }
    }
    for (int r = 0; r < 4; ++r)
      _mm512_storeu_ps(sc + r * kTileKeys + 16 * b,
                       _mm512_mul_ps(_mm512_add_ps(acc[r][0], acc[r][1]), vscale));
  }
}

void ScoresRows4BF16Dot(const std::byte* const* q, const std::byte* packed_keys, int nk, int head_size,
                        float scale, float* sc) {
  ScoresRows4BF16DotImpl(q, packed_keys, nk, head_size, scale, sc);
}

/// vpermt2w indices: word 2 l takes element kFirst + l of the first row,
/// word 2 l + 1 the same element of the second (index 32 + kFirst + l).
template <int kFirst>
alignas(64) constexpr std::array<std::uint16_t, 32> kPairWords = [] {
  std::array<std::uint16_t, 32> t{};
  for (int l = 0; l < 16; ++l) {
    t[2 * l] = static_cast<std::uint16_t>(kFirst + l);
    t[2 * l + 1] = static_cast<std::uint16_t>(32 + kFirst + l);
  }
  return t;
}();

__attribute__((target(HWY_TARGET_STR ",avx512bf16"))) static void PairRowsBF16Impl(const std::byte* const* v,
                                                                                   int nk, int head_size,
                                                                                   std::byte* dst) {
  const __m512i lo = _mm512_load_si512(kPairWords<0>.data());
  const __m512i hi = _mm512_load_si512(kPairWords<16>.data());
  for (int j = 0; j < nk; j += 2) {
    std::byte* pair = dst + static_cast<std::ptrdiff_t>(j / 2) * head_size * 4;
    for (int c = 0; c < head_size; c += 32) {
      const __m512i a = _mm512_loadu_si512(v[j] + 2 * c);
      const __m512i b = j + 1 < nk ? _mm512_loadu_si512(v[j + 1] + 2 * c) : _mm512_setzero_si512();
      _mm512_store_si512(pair + 4 * c, _mm512_permutex2var_epi16(a, lo, b));
      _mm512_store_si512(pair + 4 * c + 64, _mm512_permutex2var_epi16(a, hi, b));
    }
  }
}

void PairRowsBF16(const std::byte* const* v, int nk, int head_size, std::byte* dst) {
  PairRowsBF16Impl(v, nk, head_size, dst);
}

__attribute__((target(HWY_TARGET_STR ",avx512bf16"))) static void PvRows4BF16DotImpl(
    const float* sc, const float* alpha, float* const* acc, const std::byte* pairs, int nk, int head_size,
    float p_scale) {
  // Each row's probabilities as bf16 in key order: 32-bit word i is pair i.
  alignas(64) std::uint32_t pp[4][kTileKeys / 2];
  const __m512 ps = _mm512_set1_ps(p_scale);
  for (int r = 0; r < 4; ++r)
    for (int k16 = 0; k16 < nk; k16 += 16)  // the softmax wrote zeros up to the next 16 keys
      _mm256_store_si256(
          reinterpret_cast<__m256i*>(&pp[r][k16 / 2]),
          (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(_mm512_loadu_ps(sc + r * kTileKeys + k16), ps)));
  const int pairs_n = (nk + 1) / 2;
  const std::ptrdiff_t pair_bytes = static_cast<std::ptrdiff_t>(head_size) * 4;
  // CH blocks of 16 elements x 4 rows of accumulators per pass over the pairs.
  auto pass = [&](auto ch_tag, int c0) {
    constexpr int CH = decltype(ch_tag)::value;
    __m512 o[CH][4];
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < CH; ++h)
        o[h][r] = _mm512_mul_ps(_mm512_loadu_ps(acc[r] + (c0 + h) * 16), _mm512_set1_ps(alpha[r]));
    for (int i = 0; i < pairs_n; ++i) {
      const std::byte* pr = pairs + i * pair_bytes + c0 * 64;
      __m512i vv[CH];
      for (int h = 0; h < CH; ++h) vv[h] = _mm512_load_si512(pr + h * 64);
      for (int r = 0; r < 4; ++r) {
        const __m512i p = _mm512_set1_epi32(static_cast<int>(pp[r][i]));
        for (int h = 0; h < CH; ++h) o[h][r] = _mm512_dpbf16_ps(o[h][r], (__m512bh)vv[h], (__m512bh)p);
      }
    }
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < CH; ++h) _mm512_storeu_ps(acc[r] + (c0 + h) * 16, o[h][r]);
  };
  const int blocks = head_size / 16;  // even: head_size is a multiple of 32
  int c = 0;
  for (; c + 4 <= blocks; c += 4) pass(std::integral_constant<int, 4>{}, c);
  if (c < blocks) pass(std::integral_constant<int, 2>{}, c);
}

void PvRows4BF16Dot(const float* sc, const float* alpha, float* const* acc, const std::byte* pairs, int nk,
                    int head_size, float p_scale) {
  PvRows4BF16DotImpl(sc, alpha, acc, pairs, nk, head_size, p_scale);
}

bool UseBF16Dot(const KernelArgs& a) {
  if (a.query.strides[2] != 1 || a.cache.strides[4] != 1) return false;
  const bool bf16_query = a.query.dtype == ScalarType::BFloat16;
  if (a.cache.dtype == ScalarType::Float8_E4M3)
    return (bf16_query || a.query.dtype == ScalarType::Float16) && a.sizes.head_size % 64 == 0 &&
           decode::HasFP8Dot();
  return bf16_query && a.cache.dtype == ScalarType::BFloat16 && a.sizes.head_size % 32 == 0 &&
         decode::HasBF16Dot();
}

/// Input byte order for which Fp8ToBf16's in-lane word interleave comes out
/// in natural order: lane l takes elements 8 l .. 8 l + 7, then 32 + 8 l ..
/// 32 + 8 l + 7, so the low words are elements 0-31 and the high words 32-63.
alignas(64) constexpr std::uint8_t kFp8NaturalOrder[64] = {
    0,  1,  2,  3,  4,  5,  6,  7,  32, 33, 34, 35, 36, 37, 38, 39, 8,  9,  10, 11, 12, 13,
    14, 15, 40, 41, 42, 43, 44, 45, 46, 47, 16, 17, 18, 19, 20, 21, 22, 23, 48, 49, 50, 51,
    52, 53, 54, 55, 24, 25, 26, 27, 28, 29, 30, 31, 56, 57, 58, 59, 60, 61, 62, 63};

__attribute__((target(HWY_TARGET_STR ",avx512bf16,avx512vbmi"))) static void Fp8RowsToBf16Impl(
    const std::byte** k, int nk, int head_size, std::byte* dst) {
  const decode::Fp8ToBf16 widen;
  const __m512i order = _mm512_load_si512(kFp8NaturalOrder);
  for (int j = 0; j < nk; ++j) {
    std::byte* row = dst + static_cast<std::ptrdiff_t>(j) * head_size * 2;
    for (int c = 0; c < head_size; c += 64) {
      __m512i w0, w1;
      widen(_mm512_permutexvar_epi8(order, _mm512_loadu_si512(k[j] + c)), w0, w1);
      _mm512_storeu_si512(row + 2 * c, w0);
      _mm512_storeu_si512(row + 2 * c + 64, w1);
    }
    k[j] = row;
  }
}

void Fp8RowsToBf16(const std::byte** k, int nk, int head_size, std::byte* dst) {
  Fp8RowsToBf16Impl(k, nk, head_size, dst);
}
#endif

/// Runs a decode item (kv_head = -1): the fast path where this target and the
/// cache type allow it, else the general kernel once per KV head.
void ProcessDecodeItem(const KernelArgs& a, const WorkItem& it, ThreadScratch& s, float* partials) {
#if ATTNREG_CPU_DECODE_FAST
  const int Dh = static_cast<int>(a.sizes.head_size);
  if (Dh % (2 * decode::kLanes) == 0 && a.cache.strides[4] == 1) {
    switch (a.cache.dtype) {
      case ScalarType::BFloat16:
#if ATTNREG_CPU_BF16_DOT
        if (UseBF16Dot(a)) return decode::ItemBF16Dot(a, it, s, partials);
#endif
        return decode::Item<decode::LoadBF16>(a, it, s, partials);
      case ScalarType::Float16:
        return decode::Item<decode::LoadF16>(a, it, s, partials);
      case ScalarType::Float32:
        return decode::Item<decode::LoadF32>(a, it, s, partials);
      case ScalarType::Float8_E4M3:
#if ATTNREG_CPU_BF16_DOT
        if (UseBF16Dot(a)) return decode::ItemFP8Dot(a, it, s, partials);
#endif
        return decode::Item<decode::LoadFP8>(a, it, s, partials);
      default:
        break;
    }
  }
#endif
  const int group = static_cast<int>(a.sizes.num_heads / a.sizes.num_kv_heads);
  const int Dh2 = static_cast<int>(a.sizes.head_size) + 2;
  for (int g = 0; g < a.sizes.num_kv_heads; ++g) {
    WorkItem sub = it;
    sub.kv_head = g;
    if (it.num_splits > 1)
      sub.partial_offset = it.partial_offset + static_cast<std::int64_t>(g) * group * Dh2;
    ProcessItem(a, sub, s, partials);
  }
}

/// Whether this target's decode fast path (decode::Item) takes head size
/// Dh: whole chunks of 2 vectors, 32 elements on AVX-512 and 16 on AVX2.
bool DecodeFastPathTakes(std::int64_t Dh) {
#if ATTNREG_CPU_DECODE_FAST
  return Dh % (2 * decode::kLanes) == 0;
#else
  (void)Dh;
  return false;
#endif
}

/// This target's Highway bit.
std::int64_t TargetBit() { return HWY_TARGET; }

}  // namespace attnreg::cpu_attn::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <hwy/targets.h>
#include <omp.h>

namespace attnreg::cpu_attn {
HWY_EXPORT(ProcessItem);
HWY_EXPORT(ProcessDecodeItem);
HWY_EXPORT(MergeSplits);
HWY_EXPORT(TargetBit);
HWY_EXPORT(DecodeFastPathTakes);

namespace {

/// Resolves Highway's chosen target once, before any parallel region, so
/// worker threads only read the dispatch tables.
void init_dispatch() {
  static const bool done = [] {
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
    return true;
  }();
  (void)done;
}

using DecodeItemFn = void (*)(const KernelArgs&, const WorkItem&, ThreadScratch&, float*);

/// The decode items' entry: the dispatched target's, unless its fast path
/// does not take the head size and AVX2's does (AVX-512 needs multiples of
/// 32, AVX2 of 16: head sizes 48, 80, 112, ...), where AVX2's fast path is
/// several times faster than AVX-512's general kernel (notes, attempt 67).
DecodeItemFn decode_item_entry(std::int64_t head_size) {
#if HWY_TARGETS & HWY_AVX2
  if (!HWY_DYNAMIC_DISPATCH(DecodeFastPathTakes)(head_size) && (hwy::SupportedTargets() & HWY_AVX2) &&
      N_AVX2::DecodeFastPathTakes(head_size))
    return &N_AVX2::ProcessDecodeItem;
#endif
  return &HWY_DYNAMIC_DISPATCH(ProcessDecodeItem);
}

/// Query tokens per work item for a KV group of `group` heads.
int tokens_per_item(int group) { return std::max(1, kMaxItemRows / group); }

/// Fills workspace.items / merge_groups and sizes the partial buffer.
/// Requests with one query token get decode items (all KV heads of a key
/// range, kv_head = -1), split until there are about kDecodeItemsPerThread
/// items per thread; the others get one item per (KV head, query block),
/// split when the batch gives fewer than 4 items per thread.
void plan(const KernelArgs& a, Workspace& ws, int threads) {
  const auto& z = a.sizes;
  const int group = static_cast<int>(z.num_heads / z.num_kv_heads);
  const int qb = tokens_per_item(group);
  const int Dh = static_cast<int>(z.head_size);
  const int W = a.sliding_window;
  std::int64_t base = 0, units = 0;
  for (std::int64_t r = 0; r < z.num_reqs; ++r) {
    const int qlen = a.query_start_loc[r + 1] - a.query_start_loc[r];
    base += z.num_kv_heads * ((qlen + qb - 1) / qb);
    units += qlen == 1 ? 1 : z.num_kv_heads * ((qlen + qb - 1) / qb);
  }
  ws.items.clear();
  ws.merge_groups.clear();
  std::int64_t partial_floats = 0;
  // Items for keys [klo, khi) cut into `splits` tile-aligned ranges.
  auto add = [&](WorkItem proto, int klo, int khi, int splits, int rows) {
    const int chunk =
        std::max(kTileKeys, ((khi - klo + splits - 1) / splits + kTileKeys - 1) / kTileKeys * kTileKeys);
    if (splits > 1) ws.merge_groups.push_back(static_cast<std::int32_t>(ws.items.size()));
    const int first_item = static_cast<int>(ws.items.size());
    int k0 = klo;
    do {
      WorkItem it = proto;
      it.key_begin = k0;
      it.key_end = std::min(khi, k0 + chunk);
      if (splits > 1) {
        it.partial_offset = partial_floats;
        partial_floats += static_cast<std::int64_t>(rows) * (Dh + 2);
      }
      ws.items.push_back(it);
      k0 += chunk;
    } while (k0 < khi);
    // Rounding the chunk to whole tiles can leave fewer splits than asked.
    const int made = static_cast<int>(ws.items.size()) - first_item;
    for (int i = first_item; i < first_item + made; ++i) ws.items[i].num_splits = made;
    if (splits > 1 && made == 1) {
      ws.merge_groups.pop_back();
      ws.items.back().partial_offset = -1;
      partial_floats -= static_cast<std::int64_t>(rows) * (Dh + 2);
    }
  };
  for (std::int64_t r = 0; r < z.num_reqs; ++r) {
    const int begin = a.query_start_loc[r];
    const int qlen = a.query_start_loc[r + 1] - begin;
    const int seq = a.seq_lens[r];
    if (qlen == 1) {
      const int pos = seq - 1;
      const int klo = W > 0 ? std::max(0, pos - W + 1) : 0;
      const int khi = z.causal ? pos + 1 : (W > 0 ? std::min(seq, pos + W) : seq);
      const auto want = static_cast<int>((kDecodeItemsPerThread * threads + units - 1) / units);
      const int splits = std::max(1, std::min(want, (khi - klo) / kMinDecodeSplitKeys));
      WorkItem it;
      it.req = static_cast<std::int32_t>(r);
      it.kv_head = -1;
      it.token_begin = begin;
      it.num_tokens = 1;
      it.first_pos = pos;
      add(it, klo, std::max(klo, khi), splits, static_cast<int>(z.num_heads));
      continue;
    }
    for (int g = 0; g < z.num_kv_heads; ++g) {
      for (int tb = 0; tb < qlen; tb += qb) {
        const int n = std::min(qb, qlen - tb);
        const int first = seq - qlen + tb, last = first + n - 1;
        const int klo = W > 0 ? std::max(0, first - W + 1) : 0;
        const int khi = z.causal ? last + 1 : (W > 0 ? std::min(seq, last + W) : seq);
        int splits = 1;
        if (base < 4 * threads) {
          const auto want = static_cast<int>((4 * threads + base - 1) / base);
          splits = std::max(1, std::min(want, (khi - klo) / kMinSplitKeys));
        }
        if (n * group <= 8) splits = std::max(splits, (khi - klo) / kLocalityChunkKeys);
        WorkItem it;
        it.req = static_cast<std::int32_t>(r);
        it.kv_head = g;
        it.token_begin = begin + tb;
        it.num_tokens = n;
        it.first_pos = first;
        add(it, klo, khi, splits, n * group);
      }
    }
  }
  ws.order.resize(ws.items.size());
  for (std::size_t i = 0; i < ws.order.size(); ++i) ws.order[i] = static_cast<std::int32_t>(i);
  std::sort(ws.order.begin(), ws.order.end(), [&](std::int32_t x, std::int32_t y) {
    const WorkItem &a_ = ws.items[x], &b_ = ws.items[y];
    if (a_.req != b_.req) return a_.req < b_.req;
    if (a_.key_begin != b_.key_begin) return a_.key_begin < b_.key_begin;
    return x < y;  // same range: KV heads (and query blocks) in creation order
  });
  if (static_cast<std::int64_t>(ws.partials.size()) < partial_floats)
    ws.partials.resize(static_cast<std::size_t>(partial_floats));
}

/// Grows each thread's scratch to the sizes of this call.
void size_scratch(const KernelArgs& a, Workspace& ws, int threads) {
  const int group = static_cast<int>(a.sizes.num_heads / a.sizes.num_kv_heads);
  const auto rows = static_cast<std::size_t>(
      std::max<std::int64_t>(tokens_per_item(group) * group, a.sizes.num_heads));  // decode items: all heads
  const auto Dh = static_cast<std::size_t>(a.sizes.head_size);
  if (ws.threads.size() < static_cast<std::size_t>(threads))
    ws.threads.resize(static_cast<std::size_t>(threads));
  auto grow = [](auto& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
  };
  for (auto& s : ws.threads) {
    grow(s.q, rows * Dh);
    grow(s.acc, rows * Dh);
    grow(s.m, rows);
    grow(s.l, rows);
    grow(s.lo, rows);
    grow(s.hi, rows);
    grow(s.active, rows);
    grow(s.scores, 4 * kTileKeys + 16);
    grow(s.k_tile, kTileKeys * Dh);
    grow(s.v_tile, kTileKeys * Dh);
    grow(s.pv_sink, Dh);
    grow(s.k_pairs, kTileKeys * Dh / 2);
    grow(s.k_rows, kTileKeys);
    grow(s.v_rows, kTileKeys);
    grow(s.k_src, 2 * (kTileKeys + 16));
    grow(s.v_src, 2 * (kTileKeys + 16));
  }
}

}  // namespace

void run_attention(const KernelArgs& args, Workspace& ws) {
  init_dispatch();
  const int threads = omp_get_max_threads();
  plan(args, ws, threads);
  size_scratch(args, ws, threads);
  auto* process = &HWY_DYNAMIC_DISPATCH(ProcessItem);
  const DecodeItemFn process_decode = decode_item_entry(args.sizes.head_size);
  auto* merge = &HWY_DYNAMIC_DISPATCH(MergeSplits);
  const auto num_items = static_cast<std::int64_t>(ws.items.size());
  const auto num_groups = static_cast<std::int64_t>(ws.merge_groups.size());
#pragma omp parallel num_threads(threads)
  {
    ThreadScratch& scratch = ws.threads[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t i = 0; i < num_items; ++i) {
      const WorkItem& it = ws.items[ws.order[i]];
      (it.kv_head < 0 ? process_decode : process)(args, it, scratch, ws.partials.data());
    }
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t g = 0; g < num_groups; ++g)
      merge(args, ws.items.data() + ws.merge_groups[g], ws.partials.data());
  }
}

const char* dispatched_target() {
  init_dispatch();
  return hwy::TargetName(HWY_DYNAMIC_DISPATCH(TargetBit)());
}

}  // namespace attnreg::cpu_attn
#endif  // HWY_ONCE
