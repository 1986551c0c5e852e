// The decode items' tile (the rows' addresses, the prefetch cursor) and the
// vector primitives their kernels share: lane reductions and the chunk
// loaders that widen bf16, fp16, fp32 and fp8 cache rows in registers. See
// decode_all_heads-inl.h for the path as a whole.
// Part of attention_kernel.cpp, which includes it inside its per-target
// namespace once for each target foreach_target.h compiles, after the files
// it builds on (see the include list there). No include guard, by design:
// each target pass needs it.

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

}  // namespace decode
#endif  // ATTNREG_CPU_DECODE_FAST
