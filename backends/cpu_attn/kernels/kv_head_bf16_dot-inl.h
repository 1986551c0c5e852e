// The vdpbf16ps (AVX512_BF16) helpers of the one-KV-head items
// (kv_head_item-inl.h): key tiles packed and value rows paired for the
// instruction, their products, and the check that a call may use them.
// Part of attention_kernel.cpp, which includes it inside its per-target
// namespace once for each target foreach_target.h compiles, after the files
// it builds on (see the include list there). No include guard, by design:
// each target pass needs it.

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

#if ATTNREG_CPU_BF16_DOT
/// Transposes a 16 x 16 block of 32-bit elements in place: r[i] lane j
/// becomes r[j] lane i (48 shuffles).
__attribute__((target(HWY_TARGET_STR))) HWY_INLINE void Transpose16x16(__m512i (&r)[16]) {
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
