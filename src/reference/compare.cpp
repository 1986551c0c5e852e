#include <fmt/format.h>

#include <algorithm>
#include <attnreg/errors.hpp>
#include <attnreg/numeric.hpp>
#include <attnreg/reference.hpp>
#include <attnreg/tensor.hpp>
#include <cmath>

namespace attnreg::reference {

Tolerance tolerance(ScalarType dtype, std::string_view kv_cache_dtype) {
  Tolerance t;
  switch (dtype) {
    case ScalarType::Float16:
      t = {5e-3, 5e-3};
      break;
    case ScalarType::BFloat16:
      t = {2e-2, 2e-2};
      break;
    default:
      t = {2e-5, 2e-5};
      break;
  }
  if (kv_cache_dtype == "fp8_e4m3") t = {std::max(t.atol, 6e-2), std::max(t.rtol, 6e-2)};
  return t;
}

Comparison compare(const DLTensor& output, std::span<const double> expected, Tolerance tol) {
  tensor::expect_device(output, "output", DeviceType::CPU);
  tensor::expect_ndim(output, "output", 3, "num_tokens, num_heads, head_size");
  const ScalarType dtype = tensor::expect_dtype(
      output, "output",
      {ScalarType::BFloat16, ScalarType::Float16, ScalarType::Float32, ScalarType::Float64});
  Comparison c;
  c.num_elements = tensor::numel(output);
  if (static_cast<std::int64_t>(expected.size()) != c.num_elements)
    throw ValueError(
        fmt::format("expected: has {} values; expected one per output element, {} (output shape {})",
                    expected.size(), c.num_elements, tensor::shape_string(output)));
  const auto view = tensor::TensorView::of(output, dtype);
  const std::int64_t T = output.shape[0], H = output.shape[1], D = output.shape[2];
  auto fail = [&](std::int64_t t, std::int64_t h, std::int64_t d, double actual, double want) {
    if (c.first_failure.empty())
      c.first_failure = fmt::format("output[{}, {}, {}] = {}, expected {}", t, h, d, actual, want);
  };
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t d = 0; d < D; ++d) {
        const double actual = numeric::load_as_double(view.at(t, h, d), dtype);
        const double want = expected[(t * H + h) * D + d];
        if (!std::isfinite(actual)) {
          ++c.num_nonfinite;
          fail(t, h, d, actual, want);
          continue;
        }
        const double err = std::abs(actual - want);
        c.max_abs_error = std::max(c.max_abs_error, err);
        c.max_rel_error = std::max(c.max_rel_error, err / std::max(std::abs(want), 1e-6));
        if (!(err <= tol.atol + tol.rtol * std::abs(want))) {
          ++c.num_mismatched;
          fail(t, h, d, actual, want);
        }
      }
  c.passed = c.num_nonfinite == 0 && c.num_mismatched == 0;
  return c;
}

}  // namespace attnreg::reference
