// reference::tolerance and reference::compare.
#include <gtest/gtest.h>

#include <array>
#include <attnreg/errors.hpp>
#include <attnreg/numeric.hpp>
#include <attnreg/reference.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

namespace attnreg::reference {
namespace {

TEST(Tolerance, PerDtype) {
  EXPECT_EQ(tolerance(ScalarType::Float32).atol, 2e-5);
  EXPECT_EQ(tolerance(ScalarType::Float32).rtol, 2e-5);
  EXPECT_EQ(tolerance(ScalarType::Float16).atol, 5e-3);
  EXPECT_EQ(tolerance(ScalarType::BFloat16).rtol, 2e-2);
  EXPECT_EQ(tolerance(ScalarType::Float32, "fp8_e4m3").atol, 6e-2);
  EXPECT_EQ(tolerance(ScalarType::BFloat16, "fp8_e4m3").rtol, 6e-2);
}

// A [1, 2, 2] output tensor of the given type over a byte buffer.
struct Output {
  std::array<std::int64_t, 3> shape{1, 2, 2};
  alignas(8) std::array<std::byte, 32> bytes{};
  DLTensor t;
  explicit Output(ScalarType type, std::array<float, 4> values)
      : t{bytes.data(), {kDLCPU, 0}, 3, to_dlpack(type), shape.data(), nullptr, 0} {
    for (int i = 0; i < 4; ++i)
      numeric::store_from_float(bytes.data() + i * element_size(type), type, values[i]);
  }
};

TEST(Compare, PassesWithinTolerance) {
  const Output out(ScalarType::Float32, {1.0f, -0.5f, 0.25f, 0.0f});
  const std::vector<double> expected{1.0, -0.5, 0.25 + 1e-6, 1e-6};
  const Comparison c = compare(out.t, expected, tolerance(ScalarType::Float32));
  EXPECT_TRUE(c.passed);
  EXPECT_EQ(c.num_elements, 4);
  EXPECT_EQ(c.num_nonfinite, 0);
  EXPECT_EQ(c.num_mismatched, 0);
  EXPECT_NEAR(c.max_abs_error, 1e-6, 1e-12);
  EXPECT_NEAR(c.max_rel_error, 1.0, 1e-6);  // 1e-6 off an expected 1e-6
  EXPECT_EQ(c.first_failure, "");
}

TEST(Compare, CountsMismatchesAndNonFinite) {
  const Output out(ScalarType::BFloat16, {1.0f, NAN, 0.5f, INFINITY});
  const std::vector<double> expected{1.1, 0.0, 0.5, 0.0};
  const Comparison c = compare(out.t, expected, tolerance(ScalarType::BFloat16));
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(c.num_nonfinite, 2);
  EXPECT_EQ(c.num_mismatched, 1);
  EXPECT_NEAR(c.max_abs_error, 0.1, 1e-9);
  EXPECT_EQ(c.first_failure, "output[0, 0, 0] = 1, expected 1.1");
  const Comparison loose = compare(out.t, expected, Tolerance{0.2, 0.0});
  EXPECT_EQ(loose.num_mismatched, 0);
  EXPECT_FALSE(loose.passed);  // NaN and Inf never pass
  EXPECT_EQ(loose.first_failure, "output[0, 0, 1] = nan, expected 0");
}

TEST(Compare, StridedOutput) {
  Output out(ScalarType::Float16, {1.0f, 2.0f, 3.0f, 4.0f});
  std::array<std::int64_t, 3> shape{1, 2, 1}, strides{4, 2, 1};  // every other element
  out.t.shape = shape.data();
  out.t.strides = strides.data();
  EXPECT_TRUE(compare(out.t, std::vector<double>{1.0, 3.0}, Tolerance{}).passed);
  EXPECT_FALSE(compare(out.t, std::vector<double>{1.0, 2.0}, Tolerance{}).passed);
}

TEST(Compare, Errors) {
  Output out(ScalarType::Float32, {0, 0, 0, 0});
  try {
    compare(out.t, std::vector<double>(3), Tolerance{});
    FAIL() << "no ValueError";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(),
                 "expected: has 3 values; expected one per output element, 4 (output shape [1, 2, 2])");
  }
  out.t.device = {kDLCUDA, 0};
  try {
    compare(out.t, std::vector<double>(4), Tolerance{});
    FAIL() << "no ValueError";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "output: expected a cpu tensor (kDLCPU or kDLCUDAHost), got cuda:0");
  }
  out.t.device = {kDLCPU, 0};
  out.t.dtype = {kDLInt, 32, 1};
  try {
    compare(out.t, std::vector<double>(4), Tolerance{});
    FAIL() << "no ValueError";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "output: expected dtype bfloat16, float16, float32 or float64, got int32");
  }
}

}  // namespace
}  // namespace attnreg::reference
