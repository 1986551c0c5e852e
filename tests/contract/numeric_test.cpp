// Exhaustive tests of the scalar conversions of attnreg/numeric.hpp against a
// deliberately plain reference codec: decoding by the textbook formula with
// ldexp, encoding by searching the sorted table of every finite code for the
// nearest value (ties to the even code).
#include <gtest/gtest.h>

#include <algorithm>
#include <attnreg/numeric.hpp>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <utility>
#include <vector>

namespace attnreg::numeric {
namespace {

struct Format {
  int exp_bits, mant_bits, bias;
  bool ieee_specials;  // all-ones exponent = inf/NaN (false: e4m3fn, NaN only at S.1111.111)
  bool saturating;     // overflow gives the largest finite value instead of inf
  int total_bits() const { return 1 + exp_bits + mant_bits; }
};
constexpr Format kBf16{8, 7, 127, true, false};
constexpr Format kFp16{5, 10, 15, true, false};
constexpr Format kFp8{4, 3, 7, false, true};

double ref_decode(const Format& f, std::uint32_t code) {
  const bool negative = (code >> (f.exp_bits + f.mant_bits)) & 1u;
  const std::uint32_t exp = (code >> f.mant_bits) & ((1u << f.exp_bits) - 1);
  const std::uint32_t mant = code & ((1u << f.mant_bits) - 1);
  const std::uint32_t max_exp = (1u << f.exp_bits) - 1;
  double v;
  if (f.ieee_specials && exp == max_exp) {
    v = mant == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  } else if (!f.ieee_specials && exp == max_exp && mant == (1u << f.mant_bits) - 1) {
    v = std::numeric_limits<double>::quiet_NaN();
  } else if (exp == 0) {
    v = std::ldexp(static_cast<double>(mant), 1 - f.bias - f.mant_bits);
  } else {
    v = std::ldexp(static_cast<double>(mant + (1u << f.mant_bits)),
                   static_cast<int>(exp) - f.bias - f.mant_bits);
  }
  return negative ? -v : v;
}

// Every non-negative finite value with its code, ascending.
std::vector<std::pair<double, std::uint32_t>> finite_table(const Format& f) {
  std::vector<std::pair<double, std::uint32_t>> table;
  for (std::uint32_t c = 0; c < (1u << (f.total_bits() - 1)); ++c) {
    const double v = ref_decode(f, c);
    if (std::isfinite(v)) table.emplace_back(v, c);
  }
  std::sort(table.begin(), table.end());
  return table;
}

// Round-to-nearest-even by search; NaN inputs are not passed here.
std::uint32_t ref_encode(const Format& f, const std::vector<std::pair<double, std::uint32_t>>& table,
                         double x) {
  const std::uint32_t sign = std::signbit(x) ? 1u << (f.total_bits() - 1) : 0u;
  const double a = std::abs(x);
  const auto& [max_value, max_code] = table.back();
  if (a > max_value) {
    if (f.saturating) return sign | max_code;
    // The next value after max (the first one past the top exponent) decides
    // the tie; max's mantissa is all ones (odd), so a tie goes to infinity.
    const double next = std::ldexp(1.0, (1 << f.exp_bits) - 1 - f.bias);
    const std::uint32_t inf_code = ((1u << f.exp_bits) - 1) << f.mant_bits;
    return sign | (a >= (max_value + next) / 2 ? inf_code : max_code);
  }
  auto hi = std::lower_bound(table.begin(), table.end(), std::pair{a, 0u});
  if (hi->first == a) return sign | hi->second;
  auto lo = hi - 1;
  const double dlo = a - lo->first, dhi = hi->first - a;
  if (dlo < dhi) return sign | lo->second;
  if (dhi < dlo) return sign | hi->second;
  return sign | ((lo->second & 1u) == 0 ? lo->second : hi->second);
}

// Inputs probing every code: the values, the midpoints between neighbours,
// one float ulp either side of each midpoint, for both signs; plus extremes
// and random bit patterns.
std::vector<float> probe_inputs(const std::vector<std::pair<double, std::uint32_t>>& table) {
  std::vector<float> inputs;
  auto add = [&](float v) {
    inputs.push_back(v);
    inputs.push_back(-v);
  };
  for (std::size_t i = 0; i < table.size(); ++i) {
    add(static_cast<float>(table[i].first));
    if (i + 1 < table.size()) {
      const auto mid = static_cast<float>((table[i].first + table[i + 1].first) / 2);
      EXPECT_EQ(static_cast<double>(mid), (table[i].first + table[i + 1].first) / 2)
          << "midpoint not exact in float";
      add(mid);
      add(std::nextafter(mid, 0.0f));
      add(std::nextafter(mid, std::numeric_limits<float>::infinity()));
    }
  }
  for (float v : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::max(),
                  std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min(), 65504.0f,
                  65519.0f, 65520.0f, 448.0f, 463.0f, 464.0f, 1e30f, 1e-30f})
    add(v);
  std::mt19937 rng(12345);
  for (int i = 0; i < (1 << 18); ++i) {
    const float v = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
    if (!std::isnan(v)) inputs.push_back(v);
  }
  return inputs;
}

template <class Decode>
void expect_decode_matches(const Format& f, Decode decode) {
  for (std::uint32_t c = 0; c < (1u << f.total_bits()); ++c) {
    const double want = ref_decode(f, c);
    const double got = decode(c);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << "code " << c;
    } else {
      EXPECT_EQ(got, want) << "code " << c;
      EXPECT_EQ(std::signbit(got), std::signbit(want)) << "code " << c;
    }
  }
}

template <class Encode>
void expect_encode_matches(const Format& f, Encode encode) {
  const auto table = finite_table(f);
  for (float x : probe_inputs(table)) {
    const std::uint32_t want = ref_encode(f, table, x);
    ASSERT_EQ(encode(x), want) << "input " << x << " (bits " << std::hex << std::bit_cast<std::uint32_t>(x)
                               << ")";
  }
}

TEST(Numeric, Bf16DecodesEveryCode) {
  expect_decode_matches(kBf16, [](std::uint32_t c) { return bf16_to_float(static_cast<std::uint16_t>(c)); });
}
TEST(Numeric, Fp16DecodesEveryCode) {
  expect_decode_matches(kFp16, [](std::uint32_t c) { return fp16_to_float(static_cast<std::uint16_t>(c)); });
}
TEST(Numeric, Fp8DecodesEveryCode) {
  expect_decode_matches(kFp8,
                        [](std::uint32_t c) { return fp8_e4m3_to_float(static_cast<std::uint8_t>(c)); });
}

TEST(Numeric, Bf16EncodesNearestEven) {
  expect_encode_matches(kBf16, [](float x) { return static_cast<std::uint32_t>(float_to_bf16(x)); });
}
TEST(Numeric, Fp16EncodesNearestEven) {
  expect_encode_matches(kFp16, [](float x) { return static_cast<std::uint32_t>(float_to_fp16(x)); });
}
TEST(Numeric, Fp8EncodesNearestEvenSaturating) {
  expect_encode_matches(kFp8, [](float x) { return static_cast<std::uint32_t>(float_to_fp8_e4m3(x)); });
}

TEST(Numeric, NanStaysNan) {
  for (float nan : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                    std::bit_cast<float>(0x7F800001u), std::bit_cast<float>(0xFFFFFFFFu)}) {
    EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(nan))));
    EXPECT_TRUE(std::isnan(fp16_to_float(float_to_fp16(nan))));
    EXPECT_EQ(float_to_fp8_e4m3(nan), kFp8E4M3NaN);
    EXPECT_EQ(std::signbit(bf16_to_float(float_to_bf16(nan))), std::signbit(nan));
    EXPECT_EQ(std::signbit(fp16_to_float(float_to_fp16(nan))), std::signbit(nan));
  }
  // A signalling NaN whose payload sits in the low bits must not become infinity.
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x7F800001u)) & 0x7FC0u, 0x7FC0u);
  EXPECT_EQ(float_to_fp16(std::bit_cast<float>(0x7F800001u)) & 0x7E00u, 0x7E00u);
}

TEST(Numeric, Fp8SaturatesInfinityAndOverflow) {
  EXPECT_EQ(float_to_fp8_e4m3(std::numeric_limits<float>::infinity()), 0x7E);
  EXPECT_EQ(float_to_fp8_e4m3(-std::numeric_limits<float>::infinity()), 0xFE);
  EXPECT_EQ(fp8_e4m3_to_float(float_to_fp8_e4m3(1e6f)), kFp8E4M3Max);
}

TEST(Numeric, LoadAndStoreEveryType) {
  alignas(8) std::byte buf[8]{};
  const std::pair<ScalarType, float> cases[] = {{ScalarType::Float32, 0.1f},
                                                {ScalarType::Float16, 0.1f},
                                                {ScalarType::BFloat16, 0.1f},
                                                {ScalarType::Float8_E4M3, 0.1f},
                                                {ScalarType::Float64, 0.1f}};
  for (const auto& [type, value] : cases) {
    store_from_float(buf, type, value);
    double want = value;
    if (type == ScalarType::Float16) want = fp16_to_float(float_to_fp16(value));
    if (type == ScalarType::BFloat16) want = bf16_to_float(float_to_bf16(value));
    if (type == ScalarType::Float8_E4M3) want = fp8_e4m3_to_float(float_to_fp8_e4m3(value));
    EXPECT_EQ(load_as_double(buf, type), want) << to_string(type);
  }
  const std::int32_t i32 = -7;
  std::memcpy(buf, &i32, 4);
  EXPECT_EQ(load_as_double(buf, ScalarType::Int32), -7.0);
  const std::int64_t i64 = -(std::int64_t{1} << 40);
  std::memcpy(buf, &i64, 8);
  EXPECT_EQ(load_as_double(buf, ScalarType::Int64), -1099511627776.0);
  buf[0] = std::byte{0xFE};
  EXPECT_EQ(load_as_double(buf, ScalarType::UInt8), 254.0);
  EXPECT_EQ(load_as_double(buf, ScalarType::Float8_E4M3), -448.0);
}

}  // namespace
}  // namespace attnreg::numeric
