// Element conversions (fp8 and 16-bit floats to fp32), cache prefetch and
// the softmax's exp for CPU_ATTN, per Highway target.
// Part of attention_kernel.cpp, which includes it inside its per-target
// namespace once for each target foreach_target.h compiles, after the files
// it builds on (see the include list there). No include guard, by design:
// each target pass needs it.

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
