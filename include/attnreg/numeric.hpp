// attnreg/numeric.hpp: exact scalar conversions between float and the narrow
// storage types of attention tensors (bfloat16, float16, float8_e4m3fn), plus
// loads and stores of one element of any ScalarType.
//
// Everything here is header-only, constexpr-friendly bit manipulation, so CPU
// kernels can inline it and tests can check it exhaustively (every 2^8 / 2^16
// code). Rounding is round-to-nearest-even everywhere, as the hardware
// conversions (and PyTorch's) do.
//
// Thread safety: pure functions, callable from any thread.
#pragma once

#include <attnreg/dtype.hpp>
#include <bit>
#include <cstdint>
#include <cstring>

namespace attnreg::numeric {

/// Largest finite float8_e4m3fn value; quantisation saturates to +-this.
inline constexpr float kFp8E4M3Max = 448.0f;
/// The float8_e4m3fn code this library writes for NaN (as CUDA's
/// __nv_cvt_float_to_fp8 with __NV_SATFINITE does; 0xFF also decodes as NaN).
inline constexpr std::uint8_t kFp8E4M3NaN = 0x7F;

/// bfloat16 bits -> float (exact: bfloat16 is the top half of a float).
constexpr float bf16_to_float(std::uint16_t bits) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

/// float -> bfloat16 bits, round-to-nearest-even. NaN stays NaN (quietened,
/// sign kept); overflow rounds to infinity as IEEE rounding does.
constexpr std::uint16_t float_to_bf16(float value) noexcept {
  std::uint32_t u = std::bit_cast<std::uint32_t>(value);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  // Adding 0x7FFF plus the lowest kept bit rounds half to even: a tie carries
  // into the kept part only when that bit is odd.
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

/// IEEE binary16 bits -> float (exact, subnormals included).
constexpr float fp16_to_float(std::uint16_t bits) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exp = (bits >> 10) & 0x1Fu;
  const std::uint32_t mant = bits & 0x3FFu;
  if (exp == 0) {
    // Subnormal: mant * 2^-24, exact in float; 2^-24 is a normal float.
    const float magnitude = static_cast<float>(mant) * 5.9604644775390625e-08f;
    return std::bit_cast<float>(std::bit_cast<std::uint32_t>(magnitude) | sign);
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7F800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

/// float -> IEEE binary16 bits, round-to-nearest-even. Values of magnitude
/// >= 65520 become infinity; NaN stays NaN (quietened, sign kept).
constexpr std::uint16_t float_to_fp16(float value) noexcept {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  std::uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));
  if (ax >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // >= 65520: rounds to inf
  if (ax < 0x38800000u) {
    // Below 2^-14 the result is subnormal, a multiple of 2^-24. Adding 0.5
    // (whose ulp is 2^-24) lets the FPU round to that grid, half to even.
    const float sum = std::bit_cast<float>(ax) + 0.5f;
    return static_cast<std::uint16_t>(sign | (std::bit_cast<std::uint32_t>(sum) - 0x3F000000u));
  }
  const std::uint32_t odd = (ax >> 13) & 1u;
  ax += 0xC8000FFFu + odd;  // rebias exponent 127 -> 15 (wrapping) and round half to even
  return static_cast<std::uint16_t>(sign | (ax >> 13));
}

/// float8_e4m3fn bits -> float (exact). 0x7F and 0xFF are NaN; there is no
/// infinity.
constexpr float fp8_e4m3_to_float(std::uint8_t bits) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x80u) << 24;
  const std::uint32_t exp = (bits >> 3) & 0xFu;
  const std::uint32_t mant = bits & 0x7u;
  if (exp == 15 && mant == 7) return std::bit_cast<float>(sign | 0x7FC00000u);
  if (exp == 0) {
    const float magnitude = static_cast<float>(mant) * 0.001953125f;  // mant * 2^-9
    return std::bit_cast<float>(std::bit_cast<std::uint32_t>(magnitude) | sign);
  }
  return std::bit_cast<float>(sign | ((exp + 120u) << 23) | (mant << 20));
}

/// float -> float8_e4m3fn bits, round-to-nearest-even, saturating: finite
/// values beyond +-448 and infinities become +-448 (vLLM quantises this way);
/// NaN becomes kFp8E4M3NaN.
constexpr std::uint8_t float_to_fp8_e4m3(float value) noexcept {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint8_t>((x >> 24) & 0x80u);
  std::uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return kFp8E4M3NaN;
  if (ax >= 0x43E00000u) return static_cast<std::uint8_t>(sign | 0x7Eu);  // >= 448
  if (ax < 0x3C800000u) {
    // Below 2^-6 the result is subnormal, a multiple of 2^-9; 16384 has that ulp.
    const float sum = std::bit_cast<float>(ax) + 16384.0f;
    return static_cast<std::uint8_t>(sign | (std::bit_cast<std::uint32_t>(sum) - 0x46800000u));
  }
  const std::uint32_t odd = (ax >> 20) & 1u;
  ax += 0xC407FFFFu + odd;  // rebias exponent 127 -> 7 (wrapping) and round half to even
  return static_cast<std::uint8_t>(sign | (ax >> 20));
}

/// Reads one element of type `type` at p as double. Float8_E4M3 decodes the
/// byte as float8_e4m3fn; UInt8 reads it as an integer. Unaligned p is fine.
inline double load_as_double(const void* p, ScalarType type) noexcept {
  switch (type) {
    case ScalarType::Float32: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case ScalarType::Float16: {
      std::uint16_t v;
      std::memcpy(&v, p, 2);
      return fp16_to_float(v);
    }
    case ScalarType::BFloat16: {
      std::uint16_t v;
      std::memcpy(&v, p, 2);
      return bf16_to_float(v);
    }
    case ScalarType::Float8_E4M3:
      return fp8_e4m3_to_float(*static_cast<const std::uint8_t*>(p));
    case ScalarType::Float64: {
      double v;
      std::memcpy(&v, p, 8);
      return v;
    }
    case ScalarType::UInt8:
      return *static_cast<const std::uint8_t*>(p);
    case ScalarType::Int32: {
      std::int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case ScalarType::Int64: {
      std::int64_t v;
      std::memcpy(&v, p, 8);
      return static_cast<double>(v);
    }
  }
  return 0.0;
}

/// Writes value at p as one element of a floating type (Float32, Float16,
/// BFloat16, Float8_E4M3 saturating, Float64), rounding to nearest even.
/// Integer types are not written (the function is for attention data only).
inline void store_from_float(void* p, ScalarType type, float value) noexcept {
  switch (type) {
    case ScalarType::Float32:
      std::memcpy(p, &value, 4);
      return;
    case ScalarType::Float16: {
      const std::uint16_t v = float_to_fp16(value);
      std::memcpy(p, &v, 2);
      return;
    }
    case ScalarType::BFloat16: {
      const std::uint16_t v = float_to_bf16(value);
      std::memcpy(p, &v, 2);
      return;
    }
    case ScalarType::Float8_E4M3:
      *static_cast<std::uint8_t*>(p) = float_to_fp8_e4m3(value);
      return;
    case ScalarType::Float64: {
      const double v = value;
      std::memcpy(p, &v, 8);
      return;
    }
    case ScalarType::UInt8:
    case ScalarType::Int32:
    case ScalarType::Int64:
      return;
  }
}

}  // namespace attnreg::numeric
