// The all-heads decode path of CPU_ATTN (see the block comment below), per
// Highway target. Part of attention_kernel.cpp: that file includes this one
// inside its per-target namespace, once for each target foreach_target.h
// compiles, after the helpers it uses (ToFloat, Prefetch, ItemContext,
// WriteOutput, ...). No include guard, by design: each target pass needs it.

// ---------------------------------------------------------------------------
// Decode items (kv_head = -1): one query token against every KV head of a key
// range. Per tile of keys and per KV head, the group's query rows (in
// registers-sized passes of 4, 2 or 1 rows) compute their scores straight
// from the cache (16-bit or fp8, widened in registers, no scratch copy), several
// keys' accumulators are reduced together into one vector of scores, the
// softmax runs on those vectors, and P.V reads each V row once per pass.
// The cache rows of a tile (all heads of a slot, contiguous) are prefetched
// one tile ahead, so memory is read in whole rows.
// ---------------------------------------------------------------------------
#undef ATTNREG_CPU_DECODE_FAST
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
#define ATTNREG_CPU_DECODE_FAST 1
#else
#define ATTNREG_CPU_DECODE_FAST 0
#endif

#if ATTNREG_CPU_DECODE_FAST
namespace decode {

#if HWY_TARGET <= HWY_AVX3
using Raw = __m512;
/// Per 128-bit block: [a0+a1, a2+a3, b0+b1, b2+b3].
HWY_INLINE Raw PairSum(Raw a, Raw b) {
  return _mm512_add_ps(_mm512_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
}
/// Lane i of the result = sum of the lanes of v[i] (16 vectors).
HWY_INLINE Raw ReduceAll(const Raw* v) {
  Raw t[8], u[4];
  for (int i = 0; i < 8; ++i) t[i] = PairSum(v[2 * i], v[2 * i + 1]);
  for (int i = 0; i < 4; ++i) u[i] = PairSum(t[2 * i], t[2 * i + 1]);
  // u[i]: block b holds the block-b partial sums of v[4i .. 4i+3].
  const Raw x0 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const Raw x1 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_add_ps(_mm512_shuffle_f32x4(x0, x1, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(x0, x1, _MM_SHUFFLE(3, 1, 3, 1)));
}
/// Combines (with op) the lanes l, l' with l % NR == l' % NR; every lane gets its class's result.
template <int NR, class Op>
HWY_INLINE Raw Fold(Raw v, Op op) {
  v = op(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  if constexpr (NR <= 4) v = op(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  if constexpr (NR <= 2) v = op(v, _mm512_permute_ps(v, 0x4E));
  if constexpr (NR <= 1) v = op(v, _mm512_permute_ps(v, 0xB1));
  return v;
}
/// p[l % NR] in every lane l.
template <int NR>
HWY_INLINE Raw Pattern(const float* p) {
  if constexpr (NR == 4) {
    return _mm512_broadcast_f32x4(_mm_loadu_ps(p));
  } else if constexpr (NR == 2) {
    double pair;
    std::memcpy(&pair, p, sizeof(pair));
    return _mm512_castpd_ps(_mm512_set1_pd(pair));
  } else {
    return _mm512_set1_ps(*p);
  }
}
#else  // AVX2
using Raw = __m256;
/// Lane i of the result = sum of the lanes of v[i] (8 vectors).
HWY_INLINE Raw ReduceAll(const Raw* v) {
  const Raw t0 = _mm256_hadd_ps(v[0], v[1]), t1 = _mm256_hadd_ps(v[2], v[3]);
  const Raw t2 = _mm256_hadd_ps(v[4], v[5]), t3 = _mm256_hadd_ps(v[6], v[7]);
  const Raw u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x21), _mm256_blend_ps(u0, u1, 0xF0));
}
template <int NR, class Op>
HWY_INLINE Raw Fold(Raw v, Op op) {
  v = op(v, _mm256_permute2f128_ps(v, v, 1));
  if constexpr (NR <= 2) v = op(v, _mm256_permute_ps(v, 0x4E));
  if constexpr (NR <= 1) v = op(v, _mm256_permute_ps(v, 0xB1));
  return v;
}
template <int NR>
HWY_INLINE Raw Pattern(const float* p) {
  if constexpr (NR == 4) {
    return _mm256_broadcast_ps(reinterpret_cast<const __m128*>(p));
  } else if constexpr (NR == 2) {
    double pair;
    std::memcpy(&pair, p, sizeof(pair));
    return _mm256_castpd_ps(_mm256_set1_pd(pair));
  } else {
    return _mm256_set1_ps(*p);
  }
}
#endif

constexpr int kLanes = static_cast<int>(sizeof(Raw) / sizeof(float));
HWY_INLINE VF Wrap(Raw r) { return VF{r}; }

/// A chunk is 2 * kLanes cache elements, loaded as two fp32 vectors (a, b).
/// bf16: the even elements in a, the odd ones in b (shift / mask of 32-bit
/// words); query rows and accumulators use the same order within a chunk.
struct LoadBF16 {
  static constexpr int kChunkBytes = 4 * kLanes;
  static constexpr bool kInterleaved = true;
  static HWY_INLINE void Load(const std::byte* p, VF& a, VF& b) {
    const DF d;
    const hn::RebindToUnsigned<DF> du;
    const auto x = hn::LoadU(du, reinterpret_cast<const std::uint32_t*>(p));
    a = hn::BitCast(d, hn::ShiftLeft<16>(x));
    b = hn::BitCast(d, hn::And(x, hn::Set(du, 0xFFFF0000u)));
  }
};
struct LoadF16 {
  static constexpr int kChunkBytes = 4 * kLanes;
  static constexpr bool kInterleaved = false;
  static HWY_INLINE void Load(const std::byte* p, VF& a, VF& b) {
    const DF d;
    const hn::Rebind<hwy::float16_t, DF> dh;
    const auto* h = reinterpret_cast<const hwy::float16_t*>(p);
    a = hn::PromoteTo(d, hn::LoadU(dh, h));
    b = hn::PromoteTo(d, hn::LoadU(dh, h + kLanes));
  }
};
struct LoadF32 {
  static constexpr int kChunkBytes = 8 * kLanes;
  static constexpr bool kInterleaved = false;
  static HWY_INLINE void Load(const std::byte* p, VF& a, VF& b) {
    const DF d;
    const auto* f = reinterpret_cast<const float*>(p);
    a = hn::LoadU(d, f);
    b = hn::LoadU(d, f + kLanes);
  }
};

/// float8_e4m3fn bytes, widened in registers by WidenFp8 (its values / 2^8).
/// The 2^8 and the cache's scale are folded into the query rows (K) and the
/// output (V) by Item, so the loader costs no multiply.
struct LoadFP8 {
  static constexpr int kChunkBytes = 2 * kLanes;
  static constexpr bool kInterleaved = false;
  static constexpr float kUnscale = kFp8Unscale;  ///< widened value * kUnscale = the byte's e4m3 value
  static HWY_INLINE void Load(const std::byte* p, VF& a, VF& b) { WidenFp8(p, a, b); }
};

/// Position of element e of a 64-element block in the order the AVX-512
/// VBMI path widens fp8 keys to bf16 (Fp8ToBf16, below): elements 16 l + i
/// of 128-bit lane l (i < 8) first, then elements 16 l + 8 + i.
inline int Fp8Bf16Slot(int e) { return (e & 8) * 4 + (e >> 4) * 8 + (e & 7); }

/// Position in a chunk's (a, b) order of natural element e of the chunk.
template <class L>
HWY_INLINE int ChunkSlot(int e) {
  if constexpr (L::kInterleaved) return (e & 1) ? kLanes + (e >> 1) : (e >> 1);
  return e;
}

/// A row of Dh accumulators (Dh a multiple of 2 * kLanes) from the loader's
/// chunk order back to natural order, a chunk at a time in registers.
template <class L>
HWY_INLINE void ToNatural(const float* HWY_RESTRICT acc, float* HWY_RESTRICT nat, int Dh) {
  if constexpr (!L::kInterleaved) {
    std::memcpy(nat, acc, static_cast<std::size_t>(Dh) * sizeof(float));
  } else {
#if HWY_TARGET <= HWY_AVX3
    // a = elements 0, 2, ..., 30 of the chunk; b = 1, 3, ..., 31.
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    for (int c = 0; c < Dh; c += 2 * kLanes) {
      const Raw a = _mm512_loadu_ps(acc + c), b = _mm512_loadu_ps(acc + c + kLanes);
      _mm512_storeu_ps(nat + c, _mm512_permutex2var_ps(a, lo, b));
      _mm512_storeu_ps(nat + c + kLanes, _mm512_permutex2var_ps(a, hi, b));
    }
#else
    for (int c = 0; c < Dh; c += 2 * kLanes) {
      const Raw a = _mm256_loadu_ps(acc + c), b = _mm256_loadu_ps(acc + c + kLanes);
      const Raw l = _mm256_unpacklo_ps(a, b);  // a0 b0 a1 b1 | a4 b4 a5 b5
      const Raw h = _mm256_unpackhi_ps(a, b);  // a2 b2 a3 b3 | a6 b6 a7 b7
      _mm256_storeu_ps(nat + c, _mm256_permute2f128_ps(l, h, 0x20));
      _mm256_storeu_ps(nat + c + kLanes, _mm256_permute2f128_ps(l, h, 0x31));
    }
#endif
  }
}

/// Keys per tile of a decode item: 32 keys x 2 KiB rows (GQA 32/8, head 128,
/// bf16) = 64 KiB of K and of V, in L2. Smaller tiles cost softmax and
/// accumulator passes (16: 8% slower from cache, the same from DRAM; notes,
/// attempts 7 and 11).
constexpr int kDecodeTileKeys = 32;

/// What a pass of query rows needs to know about the current tile.
/// Lines of whole cache rows to prefetch, a few at a time between compute steps.
struct PfCursor {
  const std::byte* rows[2 * 32];  ///< K and V rows of at most a tile (kDecodeTileKeys <= 32)
  int nrows = 0, bytes = 0, row = 0, off = 0;
  int per_pair = 0;  ///< lines per two P.V key steps (per_pair / 2 on even keys, the rest on odd ones)
  int per_qk = 0;    ///< lines per QK step (several keys)
  HWY_INLINE void Step(int lines) {
    for (int i = 0; i < lines && row < nrows; ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(rows[row] + off), _MM_HINT_T0);
      off += 64;
      if (off >= bytes) {
        off = 0;
        ++row;
      }
    }
  }
};

struct Tile {
  PfCursor* pf = nullptr;
  const std::byte* const* k;  ///< per key (padded to whole score vectors): cache row of all KV heads
  const std::byte* const* v;
  std::ptrdiff_t head_offset;  ///< bytes from a cache row to this KV head
  int key0, nk, chunks, row_floats;
  bool full;                 ///< every key of the tile is visible (no mask)
  float lo, hi;              ///< visible keys [lo, hi) within the tile
  float pos;                 ///< position of the query token (ALiBi)
  float cap;                 ///< soft-cap (0 = off)
  float score_scale = 1.0f;  ///< applied to the scores (when the query rows are not pre-scaled)
};

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

/// Scores, online softmax and P.V of NR query rows (NR | kLanes) against one
/// tile. q, acc: NR rows of row_floats; m, l: NR entries; slopes: NR ALiBi
/// slopes or null; sc: scratch of kTileKeys * NR + kLanes floats.
template <int NR, class L, bool DP = false>
HWY_INLINE void Rows(const Tile& t, const float* HWY_RESTRICT q, float* HWY_RESTRICT acc, float* m, float* l,
                     const float* slopes, float* HWY_RESTRICT sc) {
  const DF d;
  constexpr int KP = kLanes / NR;  // keys per score vector
  const int RF = t.row_floats;
  const int nkp = (t.nk + KP - 1) / KP * KP;
  // ---- S = Q K^T: KP keys x NR rows per step, reduced together ----
#if HWY_TARGET <= HWY_AVX3
  if constexpr (DP && std::is_same_v<L, LoadFP8>) ScoresFP8Dot<NR>(t, q, sc);
  if constexpr (DP && !std::is_same_v<L, LoadFP8>) ScoresBF16Dot<NR>(t, q, sc);
#endif
  for (int j = 0; j < (DP ? 0 : nkp); j += KP) {
    if (t.pf) t.pf->Step(t.pf->per_qk);
    VF s[KP * NR];
    for (int i = 0; i < KP * NR; ++i) s[i] = hn::Zero(d);
    const std::byte* kp[KP];
    for (int k = 0; k < KP; ++k) kp[k] = t.k[j + k] + t.head_offset;
    for (int c = 0; c < (DP ? 0 : t.chunks); ++c) {
      const float* qc = q + c * 2 * kLanes;
      if constexpr (NR >= 4) {
        VF ka[KP], kb[KP];
        for (int k = 0; k < KP; ++k) L::Load(kp[k] + c * L::kChunkBytes, ka[k], kb[k]);
        for (int r = 0; r < NR; ++r) {
          const VF qa = hn::LoadU(d, qc + r * RF), qb = hn::LoadU(d, qc + r * RF + kLanes);
          for (int k = 0; k < KP; ++k) {
            s[k * NR + r] = hn::MulAdd(qa, ka[k], s[k * NR + r]);
            s[k * NR + r] = hn::MulAdd(qb, kb[k], s[k * NR + r]);
          }
        }
      } else {
        VF qa[NR], qb[NR];
        for (int r = 0; r < NR; ++r) {
          qa[r] = hn::LoadU(d, qc + r * RF);
          qb[r] = hn::LoadU(d, qc + r * RF + kLanes);
        }
        for (int k = 0; k < KP; ++k) {
          VF ka, kb;
          L::Load(kp[k] + c * L::kChunkBytes, ka, kb);
          for (int r = 0; r < NR; ++r) {
            s[k * NR + r] = hn::MulAdd(qa[r], ka, s[k * NR + r]);
            s[k * NR + r] = hn::MulAdd(qb[r], kb, s[k * NR + r]);
          }
        }
      }
    }
    Raw raw[KP * NR];
    for (int i = 0; i < KP * NR; ++i) raw[i] = s[i].raw;
    hn::StoreU(Wrap(ReduceAll(raw)), d, sc + j * NR);  // lane k * NR + r: key j + k, row r
  }
  // ---- soft-cap, ALiBi, mask; online softmax on vectors of KP keys x NR rows ----
  const int nv = nkp / KP;
  alignas(64) static constexpr float kKeyOfLane[16] = {0 / NR,  1 / NR,  2 / NR,  3 / NR, 4 / NR,  5 / NR,
                                                       6 / NR,  7 / NR,  8 / NR,  9 / NR, 10 / NR, 11 / NR,
                                                       12 / NR, 13 / NR, 14 / NR, 15 / NR};
  const VF key_of_lane = hn::Load(d, kKeyOfLane);
  const VF neg_inf = hn::Set(d, kNegInf);
  VF vmax = neg_inf;
  const bool full = t.full && nkp == t.nk;
  if (t.cap > 0.0f || slopes || !full || t.score_scale != 1.0f) {
    const VF slope = slopes ? Wrap(Pattern<NR>(slopes)) : hn::Zero(d);
    for (int v = 0; v < nv; ++v) {
      VF x = hn::LoadU(d, sc + v * kLanes);
      if (t.score_scale != 1.0f) x = hn::Mul(x, hn::Set(d, t.score_scale));
      if (t.cap > 0.0f) x = hn::Mul(hn::Set(d, t.cap), hn::Tanh(d, hn::Mul(x, hn::Set(d, 1.0f / t.cap))));
      const VF kpos = hn::Add(hn::Set(d, static_cast<float>(t.key0 + v * KP)), key_of_lane);
      if (slopes) x = hn::MulAdd(slope, hn::Sub(kpos, hn::Set(d, t.pos)), x);
      if (!full)
        x = hn::IfThenElse(hn::And(hn::Ge(kpos, hn::Set(d, t.lo)), hn::Lt(kpos, hn::Set(d, t.hi))), x,
                           neg_inf);
      hn::StoreU(x, d, sc + v * kLanes);
      vmax = hn::Max(vmax, x);
    }
  } else {
    for (int v = 0; v < nv; ++v) vmax = hn::Max(vmax, hn::LoadU(d, sc + v * kLanes));
  }
  auto vmaxop = [](Raw a, Raw b) { return hn::Max(Wrap(a), Wrap(b)).raw; };
  auto vaddop = [](Raw a, Raw b) { return hn::Add(Wrap(a), Wrap(b)).raw; };
  const VF m_old = Wrap(Pattern<NR>(m));
  const VF m_new = hn::Max(m_old, Wrap(Fold<NR>(vmax.raw, vmaxop)));
  const VF lowest = hn::Set(d, -87.0f);
  // alpha = exp(m_old - m_new); 0 while no key was seen (m_old = -inf).
  const VF alpha =
      hn::IfThenElseZero(hn::Gt(m_old, neg_inf), SoftmaxExp(d, hn::Max(hn::Sub(m_old, m_new), lowest)));
  VF vsum = hn::Zero(d);
  for (int v = 0; v < nv; ++v) {
    const VF x = hn::LoadU(d, sc + v * kLanes);
    const VF p = SoftmaxWeight(d, x, m_new);
    hn::StoreU(p, d, sc + v * kLanes);
    vsum = hn::Add(vsum, p);
  }
  const VF l_new = hn::MulAdd(Wrap(Pattern<NR>(l)), alpha, Wrap(Fold<NR>(vsum.raw, vaddop)));
  alignas(64) float tmp[3][kLanes];
  hn::Store(m_new, d, tmp[0]);
  hn::Store(l_new, d, tmp[1]);
  hn::Store(alpha, d, tmp[2]);
  for (int r = 0; r < NR; ++r) {
    m[r] = tmp[0][r];
    l[r] = tmp[1][r];
  }
  // ---- O = alpha O + P V: CH chunks x NR rows of accumulators per pass ----
#if HWY_TARGET <= HWY_AVX3
  if constexpr (DP && std::is_same_v<L, LoadFP8>) return PvFP8Dot<NR>(t, sc, acc, tmp[2]);
#endif
  auto pass = [&](auto ch_tag, int c) {
    constexpr int CH = decltype(ch_tag)::value;
    VF o[CH][NR][2];
    for (int h = 0; h < CH; ++h)
      for (int r = 0; r < NR; ++r) {
        const VF al = hn::Set(d, tmp[2][r]);
        const float* a = acc + r * RF + (c + h) * 2 * kLanes;
        o[h][r][0] = hn::Mul(hn::LoadU(d, a), al);
        o[h][r][1] = hn::Mul(hn::LoadU(d, a + kLanes), al);
      }
    for (int j = 0; j < t.nk; ++j) {
      if (t.pf) t.pf->Step(j & 1 ? t.pf->per_pair - t.pf->per_pair / 2 : t.pf->per_pair / 2);
      const std::byte* vp = t.v[j] + t.head_offset + c * L::kChunkBytes;
      VF p[NR];
      for (int r = 0; r < NR; ++r) p[r] = hn::Set(d, sc[j * NR + r]);
      for (int h = 0; h < CH; ++h) {
        VF va, vb;
        L::Load(vp + h * L::kChunkBytes, va, vb);
        for (int r = 0; r < NR; ++r) {
          o[h][r][0] = hn::MulAdd(p[r], va, o[h][r][0]);
          o[h][r][1] = hn::MulAdd(p[r], vb, o[h][r][1]);
        }
      }
    }
    for (int h = 0; h < CH; ++h)
      for (int r = 0; r < NR; ++r) {
        float* a = acc + r * RF + (c + h) * 2 * kLanes;
        hn::StoreU(o[h][r][0], d, a);
        hn::StoreU(o[h][r][1], d, a + kLanes);
      }
  };
  constexpr int kMaxCH = (kLanes == 16 ? 8 : 4) / NR;  // 16 (AVX-512) or 8 (AVX2) accumulators
  int c = 0;
  if constexpr (kMaxCH >= 8)
    for (; c + 8 <= t.chunks; c += 8) pass(std::integral_constant<int, 8>{}, c);
  if constexpr (kMaxCH >= 4)
    for (; c + 4 <= t.chunks; c += 4) pass(std::integral_constant<int, 4>{}, c);
  if constexpr (kMaxCH >= 2)
    for (; c + 2 <= t.chunks; c += 2) pass(std::integral_constant<int, 2>{}, c);
  for (; c < t.chunks; ++c) pass(std::integral_constant<int, 1>{}, c);
}

/// P.V passes over the keys for NR rows and `chunks` chunks (mirrors Rows).
HWY_INLINE int PvPasses(int NR, int chunks) {
  const int max_ch = (kLanes == 16 ? 8 : 4) / NR;
  int passes = 0, c = 0;
  for (int ch = 8; ch >= 1; ch /= 2)
    if (ch <= max_ch)
      for (; c + ch <= chunks; c += ch) ++passes;
  return passes;
}

/// A decode item with the chunk loader L (the cache element type).
template <class L, bool DP = false>
HWY_INLINE void Item(const KernelArgs& a, const WorkItem& it, ThreadScratch& s, float* partials) {
  constexpr int TK = kDecodeTileKeys;
  const DF d;
  const int Dh = static_cast<int>(a.sizes.head_size);
  const int Hkv = static_cast<int>(a.sizes.num_kv_heads);
  const int G = static_cast<int>(a.sizes.num_heads) / Hkv;
  const int H = G * Hkv;
  const int RF = Dh;  // the fast path runs only for Dh % (2 * kLanes) == 0
  const int seq = a.seq_lens[it.req];
  const int W = a.sliding_window;
  const int pos = it.first_pos;
  const int lo = W > 0 ? std::max(0, pos - W + 1) : 0;
  const int hi = a.sizes.causal ? pos + 1 : (W > 0 ? std::min(seq, pos + W) : seq);
  const std::int64_t token = it.token_begin;
  // Query rows: fp32, scaled, in the loader's chunk order. An fp8 cache's
  // widened keys and values are their e4m3 values / kUnscale (LoadFP8): its
  // scales and kUnscale go onto the query rows and the output.
  constexpr bool kFp8 = std::is_same_v<L, LoadFP8>;
  const float q_scale = kFp8 ? a.sizes.scale * (a.k_scale * LoadFP8::kUnscale) : a.sizes.scale;
  const float out_scale = kFp8 ? a.v_scale * (DP ? 1.0f : LoadFP8::kUnscale) : 1.0f;  // PvFP8Dot's are exact
  float* nat = s.k_tile.data();
  for (int h = 0; h < H; ++h) {
    float* q = s.q.data() + static_cast<std::ptrdiff_t>(h) * RF;
    if constexpr (DP && kFp8) {  // the query as bf16 in Fp8ToBf16's order; the scales go onto the scores
      const auto* src = reinterpret_cast<const std::uint16_t*>(a.query.at(token, h, 0));
      auto* dst = reinterpret_cast<std::uint16_t*>(q);
      const bool f16 = a.query.dtype == ScalarType::Float16;  // rounded to bf16, as P is (ItemFP8Dot)
      for (int e = 0; e < Dh; ++e) dst[e / 64 * 64 + Fp8Bf16Slot(e % 64)] = f16 ? Fp16ToBf16(src[e]) : src[e];
    } else if constexpr (DP) {  // the bf16 query as is; the scale goes onto the scores
      const int i = h % G;      // row within its KV group
      if (i < G / 4 * 4) {      // a pass of 4 rows: row pairs, see ScoresBF16DotPairs
        const int pair = i % 4 / 2;
        auto* dst =
            reinterpret_cast<std::byte*>(s.q.data() + static_cast<std::ptrdiff_t>(h - i % 4 + pair) * RF) +
            i % 2 * 32;
        const std::byte* src = a.query.at(token, h, 0);
        for (int e = 0; e < Dh / 16; ++e) std::memcpy(dst + e * 64, src + e * 32, 32);
      } else {
        std::memcpy(q, a.query.at(token, h, 0), static_cast<std::size_t>(Dh) * 2);
      }
    } else {
      ToFloat(a.query.at(token, h, 0), a.query.dtype, Dh, nat, nullptr);
      for (int e = 0; e < Dh; ++e)
        q[(e / (2 * kLanes)) * 2 * kLanes + ChunkSlot<L>(e % (2 * kLanes))] = nat[e] * q_scale;
    }
    std::fill_n(s.acc.data() + static_cast<std::ptrdiff_t>(h) * RF, RF, 0.0f);
    s.m[h] = kNegInf;
    s.l[h] = 0.0f;
  }
  const std::int32_t* table = a.block_table + it.req * a.block_table_stride;
  const int bs = static_cast<int>(a.sizes.block_size);
  const std::ptrdiff_t head_stride = a.cache.strides[3] * a.cache.element_bytes;
  const int head_bytes = Dh * a.cache.element_bytes;
  const int row_bytes = static_cast<int>(head_stride * (Hkv - 1)) + head_bytes;
  const std::byte** cur_k = s.k_src.data();
  const std::byte** cur_v = s.v_src.data();
  const std::byte** nxt_k = s.k_src.data() + TK + kLanes;
  const std::byte** nxt_v = s.v_src.data() + TK + kLanes;
  // Row addresses of the tile at key0 (nk keys), padded with the last key to whole score vectors.
  auto gather = [&](int key0, int nk, const std::byte** kr, const std::byte** vr) {
    for (int j = 0; j < nk; ++j) {
      const int p = key0 + j;
      const std::int32_t block = table[p / bs];
      kr[j] = a.cache.at(0, block, p % bs, 0, 0);
      vr[j] = a.cache.at(1, block, p % bs, 0, 0);
    }
    for (int j = nk; j < TK + kLanes; ++j) {
      kr[j] = kr[nk - 1];
      vr[j] = vr[nk - 1];
    }
  };
  const int kb = it.key_begin, ke = it.key_end;
  if (kb < ke) {
    gather(kb, std::min(TK, ke - kb), cur_k, cur_v);
    for (int j = 0; j < std::min(TK, ke - kb); ++j) {
      Prefetch(cur_k[j], row_bytes);
      Prefetch(cur_v[j], row_bytes);
    }
  }
  const float* slopes_all = a.alibi_slopes;
  // Prefetch pacing: the next tile's rows are split among the KV heads; a
  // head's share (whole rows, address order) is issued a few lines per QK
  // step and per P.V key step, so the loads of the compute never queue
  // behind a burst of misses (notes, attempt 7).
  // With two or more KV heads, the first half of the heads take the next
  // tile's K rows and the second half its V rows, so memory is read as one
  // contiguous run of K, then one of V, instead of alternating between the
  // K and V caches every row (notes, attempt 29); one KV head keeps K, V, K, ...
  const int nr0 = G >= 4 ? 4 : (G >= 2 ? 2 : 1);
  const int k_heads = Hkv >= 2 ? Hkv / 2 : 1;
  const int v_heads = Hkv - k_heads;
  const int k_share = (TK + k_heads - 1) / k_heads;
  const int v_share = v_heads > 0 ? (TK + v_heads - 1) / v_heads : 0;
  const int share_rows = Hkv >= 2 ? std::max(k_share, v_share) : 2 * TK;
  const int share_lines = share_rows * ((row_bytes + 63) / 64);
  const int pv_per_key = std::max(1, PvPasses(nr0, Dh / (2 * kLanes)));
  const int row_passes = (G + 3) / 4;
  // The share's part in the score steps: a quarter for 16-bit caches, whose
  // P.V steps take the rest later than their part of the work (1-4% faster
  // from DRAM than half and half on the Zen 4), half for the others (fp8: 4%
  // slower with a quarter); issuing earlier is slower (lines in the softmax;
  // notes, 83-84).
  constexpr bool k16Bit = std::is_same_v<L, LoadBF16> || std::is_same_v<L, LoadF16>;
  constexpr int kQkParts = k16Bit ? 4 : 2;
  const int qk_steps = row_passes * (TK / (kLanes / nr0));
  const int pv_steps = row_passes * pv_per_key * TK;
  const int per_qk = ((share_lines + kQkParts - 1) / kQkParts + qk_steps - 1) / qk_steps;
  const int per_pair = (2 * std::max(0, share_lines - per_qk * qk_steps) + pv_steps - 1) / pv_steps;
  float* sc = s.scores.data();
  for (int key0 = kb; key0 < ke; key0 += TK) {
    const int nk = std::min(TK, ke - key0);
    const int next0 = key0 + TK;
    const int nk_next = std::min(TK, ke - next0);
    if (nk_next > 0) gather(next0, nk_next, nxt_k, nxt_v);
    Tile t;
    t.k = cur_k;
    t.v = cur_v;
    t.key0 = key0;
    t.nk = nk;
    t.chunks = Dh / (2 * kLanes);
    t.row_floats = RF;
    t.lo = static_cast<float>(std::max(lo, key0));
    t.hi = static_cast<float>(std::min(hi, key0 + nk));
    t.full = nk == TK && lo <= key0 && hi >= key0 + nk;
    t.pos = static_cast<float>(pos);
    t.cap = a.logits_soft_cap;
    t.score_scale = DP ? a.sizes.scale * (kFp8 ? a.k_scale : 1.0f) : 1.0f;
    for (int g = 0; g < Hkv; ++g) {
      // This head's share of the next tile's rows, paced by Rows.
      PfCursor cursor;
      cursor.bytes = row_bytes;
      if (Hkv == 1) {
        for (int j = 0; j < nk_next; ++j) {
          cursor.rows[cursor.nrows++] = nxt_k[j];
          cursor.rows[cursor.nrows++] = nxt_v[j];
        }
      } else if (g < k_heads) {
        for (int j = g * k_share; j < std::min(nk_next, (g + 1) * k_share); ++j)
          cursor.rows[cursor.nrows++] = nxt_k[j];
      } else {
        const int gv = g - k_heads;
        for (int j = gv * v_share; j < std::min(nk_next, (gv + 1) * v_share); ++j)
          cursor.rows[cursor.nrows++] = nxt_v[j];
      }
      cursor.per_qk = per_qk;
      cursor.per_pair = per_pair;
      t.pf = cursor.nrows > 0 ? &cursor : nullptr;
      t.head_offset = g * head_stride;
      int r = g * G;
      const int end = r + G;
      for (; r + 4 <= end; r += 4)
        Rows<4, L, DP>(t, s.q.data() + static_cast<std::ptrdiff_t>(r) * RF,
                       s.acc.data() + static_cast<std::ptrdiff_t>(r) * RF, s.m.data() + r, s.l.data() + r,
                       slopes_all ? slopes_all + r : nullptr, sc);
      if (r + 2 <= end) {
        Rows<2, L, DP>(t, s.q.data() + static_cast<std::ptrdiff_t>(r) * RF,
                       s.acc.data() + static_cast<std::ptrdiff_t>(r) * RF, s.m.data() + r, s.l.data() + r,
                       slopes_all ? slopes_all + r : nullptr, sc);
        r += 2;
      }
      if (r < end)
        Rows<1, L, DP>(t, s.q.data() + static_cast<std::ptrdiff_t>(r) * RF,
                       s.acc.data() + static_cast<std::ptrdiff_t>(r) * RF, s.m.data() + r, s.l.data() + r,
                       slopes_all ? slopes_all + r : nullptr, sc);
      if (t.pf) t.pf->Step(1 << 30);
    }
    std::swap(cur_k, nxt_k);
    std::swap(cur_v, nxt_v);
  }
  (void)d;
  // Rows back to natural order, then the output or this split's partial.
  for (int h = 0; h < H; ++h) {
    if constexpr (DP && kFp8)
      FromFp8PairOrder(s.acc.data() + static_cast<std::ptrdiff_t>(h) * RF, nat, Dh);
    else
      ToNatural<L>(s.acc.data() + static_cast<std::ptrdiff_t>(h) * RF, nat, Dh);
    if constexpr (kFp8)
      for (int e = 0; e < Dh; e += kLanes)
        hn::StoreU(hn::Mul(hn::LoadU(d, nat + e), hn::Set(d, out_scale)), d, nat + e);
    if (it.num_splits == 1) {
      WriteOutput(a, token, h, s.m[h], s.l[h], nat, Dh);
    } else {
      float* p = partials + it.partial_offset + static_cast<std::ptrdiff_t>(h) * (Dh + 2);
      p[0] = s.m[h];
      p[1] = s.l[h];
      std::memcpy(p + 2, nat, static_cast<std::size_t>(Dh) * sizeof(float));
    }
  }
}

#if HWY_TARGET <= HWY_AVX3
/// bf16 cache and query on a CPU with AVX512_BF16 (vdpbf16ps), which
/// Highway 1.0.3 has no target for: the scores use the instruction directly.
__attribute__((target(HWY_TARGET_STR ",avx512bf16"))) void ItemBF16Dot(const KernelArgs& a,
                                                                       const WorkItem& it, ThreadScratch& s,
                                                                       float* partials) {
  Item<LoadBF16, true>(a, it, s, partials);
}
inline bool HasBF16Dot() {
  static const bool has = __builtin_cpu_supports("avx512bf16");
  return has;
}
/// fp8 cache and bf16 query on a CPU that also has AVX512_VBMI (vpermi2b):
/// fp8 widened to bf16 in registers, the scores (ScoresFP8Dot) and P.V
/// (PvFP8Dot) in vdpbf16ps. An fp16 query is rounded to bf16 for the
/// scores, as P is for P.V: the two roundings add errors of the same size
/// (2^-9 relative), 0.0004 in `attnreg run --check` against 0.00006 with the
/// fp32 FMAs of LoadFP8, far inside what the fp8 cache's 2^-4 steps allow,
/// for 1.3x the speed (notes, attempt 70).
__attribute__((target(HWY_TARGET_STR ",avx512bf16,avx512vbmi"))) void ItemFP8Dot(const KernelArgs& a,
                                                                                 const WorkItem& it,
                                                                                 ThreadScratch& s,
                                                                                 float* partials) {
  Item<LoadFP8, true>(a, it, s, partials);
}
inline bool HasFP8Dot() {
  static const bool has = HasBF16Dot() && __builtin_cpu_supports("avx512vbmi");
  return has;
}
#endif

}  // namespace decode
#endif  // ATTNREG_CPU_DECODE_FAST
