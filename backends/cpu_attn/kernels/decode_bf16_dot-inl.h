// The decode items' vdpbf16ps (AVX512_BF16) kernels: bf16 and fp8 scores,
// fp8 values widened to bf16 in registers (AVX512_VBMI) for P.V, and the
// run-time checks for the two instructions.
// Part of attention_kernel.cpp, which includes it inside its per-target
// namespace once for each target foreach_target.h compiles, after the files
// it builds on (see the include list there). No include guard, by design:
// each target pass needs it.

#if ATTNREG_CPU_DECODE_FAST
namespace decode {

#if HWY_TARGET <= HWY_AVX3
/// Scores of NR bf16 query rows (unscaled, natural order) against a tile of
/// bf16 keys with vdpbf16ps (AVX512_BF16: pairs of products summed in fp32,
/// 32 elements per instruction, no widening). Highway 1.0.3 has no target
/// with this instruction, hence the function's own target attribute.
/// CC: chunks per row known at compile time (0: t.chunks), so the chunk loop
/// of the common head size unrolls (notes, attempt 19).
template <int NR, int CC>
__attribute__((target(HWY_TARGET_STR ",avx512bf16"))) HWY_INLINE void ScoresBF16DotN(const Tile& t,
                                                                                     const float* q,
                                                                                     float* HWY_RESTRICT sc) {
  constexpr int KP = kLanes / NR;
  const int chunks = CC > 0 ? CC : t.chunks;
  const int nkp = (t.nk + KP - 1) / KP * KP;
  const std::byte* qb = reinterpret_cast<const std::byte*>(q);
  const std::ptrdiff_t qstride = static_cast<std::ptrdiff_t>(t.row_floats) * sizeof(float);
  for (int j = 0; j < nkp; j += KP) {
    Raw s[KP * NR];
    for (int i = 0; i < KP * NR; ++i) s[i] = _mm512_setzero_ps();
    const std::byte* kp[KP];
    for (int k = 0; k < KP; ++k) kp[k] = t.k[j + k] + t.head_offset;
    if (t.pf) t.pf->Step(t.pf->per_qk);
    for (int c = 0; c < chunks; ++c) {
      __m512i kr[KP];
      for (int k = 0; k < KP; ++k) kr[k] = _mm512_loadu_si512(kp[k] + c * 64);
      for (int r = 0; r < NR; ++r) {
        const __m512i qv = _mm512_loadu_si512(qb + r * qstride + c * 64);
        for (int k = 0; k < KP; ++k)
          s[k * NR + r] = _mm512_dpbf16_ps(s[k * NR + r], (__m512bh)qv, (__m512bh)kr[k]);
      }
    }
    _mm512_storeu_ps(sc + j * NR, ReduceAll(s));
  }
}
/// ScoresBF16DotN for 4 query rows stored as row pairs (Item's layout for
/// passes of 4 rows: per half chunk of 16 elements, 32 bytes of row 2p, then
/// 32 bytes of row 2p + 1; pair p at row slot p of the pass). An accumulator
/// holds one key against one row pair (lanes 0-7 row 2p, lanes 8-15 row
/// 2p + 1; the key's half chunk broadcast to both 256-bit halves), so its
/// lanes hold 8 partial sums per score instead of 16. Even and odd half
/// chunks go to separate accumulators (16, chains of 4 as in ScoresBF16DotN;
/// chains of 8 were slower); after 8 adds, the reduction of 4 keys is 7
/// shuffle/add steps (21 instructions) instead of 15 (45) for the same 64
/// vdpbf16ps (notes, attempt 60).
template <int CC>
__attribute__((target(HWY_TARGET_STR ",avx512bf16"))) HWY_INLINE void ScoresBF16DotPairs(
    const Tile& t, const float* q, float* HWY_RESTRICT sc) {
  const int halves = 2 * (CC > 0 ? CC : t.chunks);
  const int nkp = (t.nk + 3) / 4 * 4;
  const std::byte* qb = reinterpret_cast<const std::byte*>(q);
  const std::ptrdiff_t pstride =
      static_cast<std::ptrdiff_t>(CC > 0 ? CC * 2 * kLanes : t.row_floats) * sizeof(float);
  // x0, x1 below: lane 8s + 4e + 2b + a holds half e of the block sums of
  // key 2x + b, pair a, row 2a + s; out lane 4k + r takes both halves.
  const __m512i lo = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 16, 24, 17, 25, 18, 26, 19, 27);
  const __m512i hi = _mm512_setr_epi32(4, 12, 5, 13, 6, 14, 7, 15, 20, 28, 21, 29, 22, 30, 23, 31);
  for (int j = 0; j < nkp; j += 4) {
    Raw s[2][8];  // s[h % 2][2 * k + p]: half chunks h of key j + k against rows 2p and 2p + 1
    for (int i = 0; i < 8; ++i) s[0][i] = s[1][i] = _mm512_setzero_ps();
    const std::byte* kp[4];
    for (int k = 0; k < 4; ++k) {
      kp[k] = t.k[j + k] + t.head_offset;
      // One register per key: otherwise GCC hoists head_offset + 32 h out of
      // the key loop, one register per half chunk, and spills them.
      asm("" : "+r"(kp[k]));
    }
    if (t.pf) t.pf->Step(t.pf->per_qk);
    for (int h2 = 0; h2 < halves; h2 += 2) {
      for (int u = 0; u < 2; ++u) {
        const int h = h2 + u;
        const __m512i q0 = _mm512_loadu_si512(qb + h * 64);
        const __m512i q1 = _mm512_loadu_si512(qb + pstride + h * 64);
        for (int k = 0; k < 4; ++k) {
          const __m512i kv =
              _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(kp[k] + h * 32)));
          s[u][2 * k] = _mm512_dpbf16_ps(s[u][2 * k], (__m512bh)q0, (__m512bh)kv);
          s[u][2 * k + 1] = _mm512_dpbf16_ps(s[u][2 * k + 1], (__m512bh)q1, (__m512bh)kv);
        }
      }
    }
    Raw v[8];
    for (int i = 0; i < 8; ++i) v[i] = _mm512_add_ps(s[0][i], s[1][i]);
    const Raw x0 = PairSum(PairSum(v[0], v[1]), PairSum(v[2], v[3]));
    const Raw x1 = PairSum(PairSum(v[4], v[5]), PairSum(v[6], v[7]));
    _mm512_storeu_ps(sc + j * 4,
                     _mm512_add_ps(_mm512_permutex2var_ps(x0, lo, x1), _mm512_permutex2var_ps(x0, hi, x1)));
  }
}
template <int NR>
__attribute__((target(HWY_TARGET_STR ",avx512bf16"))) void ScoresBF16Dot(const Tile& t, const float* q,
                                                                         float* HWY_RESTRICT sc) {
  if constexpr (NR == 4) {
    if (t.chunks == 4) return ScoresBF16DotPairs<4>(t, q, sc);  // head size 128: fully unrolled
    return ScoresBF16DotPairs<0>(t, q, sc);
  } else {
    if (t.chunks == 4) return ScoresBF16DotN<NR, 4>(t, q, sc);
    ScoresBF16DotN<NR, 0>(t, q, sc);
  }
}

/// The bf16 bit patterns of the e4m3 magnitudes 0..127 (exact: e4m3's 3
/// mantissa bits fit bf16's 7, its subnormals are bf16 normals; 127 is NaN),
/// as high and low bytes, each table two vectors for vpermi2b.
struct Fp8Bf16Bytes {
  alignas(64) std::uint8_t hi[128];
  alignas(64) std::uint8_t lo[128];
};
inline constexpr Fp8Bf16Bytes kFp8Bf16Bytes = [] {
  Fp8Bf16Bytes t{};
  for (int m = 0; m < 128; ++m) {
    const std::uint32_t bits =
        std::bit_cast<std::uint32_t>(numeric::fp8_e4m3_to_float(static_cast<std::uint8_t>(m))) >> 16;
    t.hi[m] = static_cast<std::uint8_t>(bits >> 8);
    t.lo[m] = static_cast<std::uint8_t>(bits & 0xFF);
  }
  return t;
}();

/// 64 fp8 bytes as 64 bf16 values, 5 instructions (AVX512_VBMI): two byte
/// lookups of the magnitude (vpermi2b reads the low 7 bits of each index),
/// the sign or-ed into the high byte, and the bytes interleaved into words.
/// w0 gets elements 16 l + i and w1 elements 16 l + 8 + i (i < 8) at word
/// 8 l + i of 128-bit lane l; the query rows use the same order.
struct Fp8ToBf16 {
  __m512i hi0, hi1, lo0, lo1;
  __attribute__((target(HWY_TARGET_STR ",avx512bf16,avx512vbmi"))) HWY_INLINE Fp8ToBf16()
      : hi0(_mm512_load_si512(kFp8Bf16Bytes.hi)),
        hi1(_mm512_load_si512(kFp8Bf16Bytes.hi + 64)),
        lo0(_mm512_load_si512(kFp8Bf16Bytes.lo)),
        lo1(_mm512_load_si512(kFp8Bf16Bytes.lo + 64)) {}
  __attribute__((target(HWY_TARGET_STR ",avx512bf16,avx512vbmi"))) HWY_INLINE void operator()(
      const std::byte* p, __m512i& w0, __m512i& w1) const {
    (*this)(_mm512_loadu_si512(p), w0, w1);
  }
  /// The same for 64 bytes in a register.
  __attribute__((target(HWY_TARGET_STR ",avx512bf16,avx512vbmi"))) HWY_INLINE void operator()(
      __m512i x, __m512i& w0, __m512i& w1) const {
    const __m512i sign = _mm512_set1_epi8(static_cast<char>(0x80));
    const __m512i hi =
        _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(hi0, x, hi1), x, sign, 0xF8);  // a | b & c
    const __m512i lo = _mm512_permutex2var_epi8(lo0, x, lo1);
    w0 = _mm512_unpacklo_epi8(lo, hi);
    w1 = _mm512_unpackhi_epi8(lo, hi);
  }
};

/// Scores of NR bf16 query rows (unscaled, in Fp8ToBf16's order) against a
/// tile of fp8 keys: each key's 64-byte blocks become bf16 in registers and
/// go through vdpbf16ps (the products exact, summed in fp32), instead of the
/// fp16 widening and fp32 FMAs of LoadFP8 (notes, attempt 66). The scores
/// lack k_scale, which Item puts into the tile's score_scale.
template <int NR, int CB>
__attribute__((target(HWY_TARGET_STR ",avx512bf16,avx512vbmi"))) HWY_INLINE void ScoresFP8DotN(
    const Tile& t, const float* q, float* HWY_RESTRICT sc) {
  constexpr int KP = kLanes / NR;
  const int blocks = CB > 0 ? CB : t.chunks / 2;
  const int nkp = (t.nk + KP - 1) / KP * KP;
  const std::byte* qb = reinterpret_cast<const std::byte*>(q);
  const std::ptrdiff_t qstride = static_cast<std::ptrdiff_t>(t.row_floats) * sizeof(float);
  const Fp8ToBf16 widen;
  for (int j = 0; j < nkp; j += KP) {
    Raw s[KP * NR];
    for (int i = 0; i < KP * NR; ++i) s[i] = _mm512_setzero_ps();
    const std::byte* kp[KP];
    for (int k = 0; k < KP; ++k) kp[k] = t.k[j + k] + t.head_offset;
    if (t.pf) t.pf->Step(t.pf->per_qk);
    for (int c = 0; c < blocks; ++c) {
      for (int k = 0; k < KP; ++k) {
        __m512i w0, w1;
        widen(kp[k] + c * 64, w0, w1);
        for (int r = 0; r < NR; ++r) {
          const std::byte* qr = qb + r * qstride + c * 128;
          s[k * NR + r] = _mm512_dpbf16_ps(s[k * NR + r], (__m512bh)_mm512_loadu_si512(qr), (__m512bh)w0);
          s[k * NR + r] =
              _mm512_dpbf16_ps(s[k * NR + r], (__m512bh)_mm512_loadu_si512(qr + 64), (__m512bh)w1);
        }
      }
    }
    _mm512_storeu_ps(sc + j * NR, ReduceAll(s));
  }
}
template <int NR>
__attribute__((target(HWY_TARGET_STR ",avx512bf16,avx512vbmi"))) void ScoresFP8Dot(const Tile& t,
                                                                                   const float* q,
                                                                                   float* HWY_RESTRICT sc) {
  if (t.chunks == 4) return ScoresFP8DotN<NR, 2>(t, q, sc);  // head size 128: fully unrolled
  ScoresFP8DotN<NR, 0>(t, q, sc);
}

/// O = alpha O + P V for NR rows against a tile of fp8 values, two keys per
/// vdpbf16ps: each pair's value rows widened to bf16 (Fp8ToBf16) and
/// interleaved by words, so that a 32-bit lane holds one element of both
/// keys, against the pair's probabilities rounded to bf16 (as the tensor-core
/// kernels round P). Per 64 elements and key pair that is 14 widening and
/// interleaving instructions and 4 NR vdpbf16ps, against about 40 and 8 NR
/// FMAs with LoadFP8's fp16 widening (notes, attempt 66). Accumulator
/// vector v of a 64-element block holds element 16 l + 4 v + i in lane
/// 4 l + i (FromFp8PairOrder undoes it). The values lack v_scale, which Item
/// applies to the output. sc: the probabilities, key j row r at j NR + r,
/// zero for the padding key past an odd t.nk; alpha: NR rescaling factors.
template <int NR>
__attribute__((target(HWY_TARGET_STR ",avx512bf16,avx512vbmi"))) void PvFP8Dot(const Tile& t,
                                                                               const float* HWY_RESTRICT sc,
                                                                               float* HWY_RESTRICT acc,
                                                                               const float* alpha) {
  const int RF = t.row_floats;
  const int blocks = t.chunks / 2;
  const int pairs = (t.nk + 1) / 2;
  // Each pair's probabilities as one 32-bit (key j, key j + 1) bf16 pair per row.
  alignas(16) std::uint32_t pp[kDecodeTileKeys / 2][4];
  for (int i = 0; i < pairs; ++i) {
    const float* p = sc + 2 * i * NR;  // key 2i rows 0..NR-1, then key 2i + 1
    __m128i x;
    if constexpr (NR == 4)
      x = (__m128i)_mm256_cvtneps_pbh(_mm256_loadu_ps(p));
    else
      x = (__m128i)_mm_cvtneps_pbh(_mm_loadu_ps(p));
    _mm_store_si128(reinterpret_cast<__m128i*>(pp[i]), _mm_unpacklo_epi16(x, _mm_srli_si128(x, 2 * NR)));
  }
  const Fp8ToBf16 widen;
  auto pass = [&](auto nb_tag, int b0) {
    constexpr int NB = decltype(nb_tag)::value;
    Raw o[NB][NR][4];
    for (int b = 0; b < NB; ++b)
      for (int r = 0; r < NR; ++r)
        for (int v = 0; v < 4; ++v)
          o[b][r][v] =
              _mm512_mul_ps(_mm512_loadu_ps(acc + r * RF + (b0 + b) * 64 + v * 16), _mm512_set1_ps(alpha[r]));
    for (int i = 0; i < pairs; ++i) {
      if (t.pf) t.pf->Step(t.pf->per_pair);
      __m512i pr[NR];
      for (int r = 0; r < NR; ++r) pr[r] = _mm512_set1_epi32(static_cast<int>(pp[i][r]));
      const std::byte* v0 = t.v[2 * i] + t.head_offset;
      const std::byte* v1 = t.v[2 * i + 1] + t.head_offset;
      for (int b = 0; b < NB; ++b) {
        __m512i a0, a1, b0w, b1w;
        widen(v0 + (b0 + b) * 64, a0, a1);
        widen(v1 + (b0 + b) * 64, b0w, b1w);
        const __m512i d[4] = {_mm512_unpacklo_epi16(a0, b0w), _mm512_unpackhi_epi16(a0, b0w),
                              _mm512_unpacklo_epi16(a1, b1w), _mm512_unpackhi_epi16(a1, b1w)};
        for (int r = 0; r < NR; ++r)
          for (int v = 0; v < 4; ++v)
            o[b][r][v] = _mm512_dpbf16_ps(o[b][r][v], (__m512bh)d[v], (__m512bh)pr[r]);
      }
    }
    for (int b = 0; b < NB; ++b)
      for (int r = 0; r < NR; ++r)
        for (int v = 0; v < 4; ++v) _mm512_storeu_ps(acc + r * RF + (b0 + b) * 64 + v * 16, o[b][r][v]);
  };
  constexpr int kMaxNB = 4 / NR;  // 16 accumulators
  int b = 0;
  if constexpr (kMaxNB >= 4)
    for (; b + 4 <= blocks; b += 4) pass(std::integral_constant<int, 4>{}, b);
  if constexpr (kMaxNB >= 2)
    for (; b + 2 <= blocks; b += 2) pass(std::integral_constant<int, 2>{}, b);
  for (; b < blocks; ++b) pass(std::integral_constant<int, 1>{}, b);
}
#endif

/// An accumulator row of PvFP8Dot's order (Dh a multiple of 64) in natural order.
HWY_INLINE void FromFp8PairOrder(const float* HWY_RESTRICT acc, float* HWY_RESTRICT nat, int Dh) {
  for (int b = 0; b < Dh; b += 64)
    for (int e = 0; e < 64; ++e) nat[b + e] = acc[b + (e >> 2 & 3) * 16 + (e >> 4) * 4 + (e & 3)];
}

#if HWY_TARGET <= HWY_AVX3
/// Whether this CPU has AVX512_BF16 (vdpbf16ps).
inline bool HasBF16Dot() {
  static const bool has = __builtin_cpu_supports("avx512bf16");
  return has;
}
/// Whether it also has AVX512_VBMI (vpermi2b), which widens fp8 to bf16.
inline bool HasFP8Dot() {
  static const bool has = HasBF16Dot() && __builtin_cpu_supports("avx512vbmi");
  return has;
}
#endif

}  // namespace decode
#endif  // ATTNREG_CPU_DECODE_FAST
