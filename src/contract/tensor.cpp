#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <attnreg/errors.hpp>
#include <attnreg/tensor.hpp>
#include <cstdlib>
#include <string>
#include <vector>

namespace attnreg::tensor {

std::optional<ScalarType> scalar_type(const DLTensor& t) noexcept { return from_dlpack(t.dtype); }

std::int64_t numel(const DLTensor& t) noexcept {
  std::int64_t n = 1;
  for (int d = 0; d < t.ndim; ++d) n *= t.shape[d];
  return n;
}

bool is_host_accessible(const DLTensor& t) noexcept {
  return t.device.device_type == kDLCPU || t.device.device_type == kDLCUDAHost;
}

bool is_cuda(const DLTensor& t) noexcept {
  return t.device.device_type == kDLCUDA || t.device.device_type == kDLCUDAManaged;
}

std::int64_t stride(const DLTensor& t, int dim) noexcept {
  if (t.strides != nullptr) return t.strides[dim];
  std::int64_t s = 1;
  for (int d = t.ndim - 1; d > dim; --d) s *= t.shape[d];
  return s;
}

std::byte* element_address(const DLTensor& t, std::span<const std::int64_t> index) noexcept {
  std::int64_t offset = 0;
  for (int d = 0; d < static_cast<int>(index.size()); ++d) offset += index[d] * stride(t, d);
  const auto bytes_per_element = static_cast<std::int64_t>((t.dtype.bits * t.dtype.lanes + 7) / 8);
  return static_cast<std::byte*>(t.data) + t.byte_offset + offset * bytes_per_element;
}

std::string shape_string(const DLTensor& t) {
  return fmt::format("[{}]", fmt::join(std::span<const std::int64_t>(t.shape, t.shape ? t.ndim : 0), ", "));
}

std::string device_string(const DLTensor& t) {
  switch (t.device.device_type) {
    case kDLCPU:
      return "cpu";
    case kDLCUDA:
      return fmt::format("cuda:{}", t.device.device_id);
    case kDLCUDAHost:
      return fmt::format("cuda_host:{}", t.device.device_id);
    case kDLCUDAManaged:
      return fmt::format("cuda_managed:{}", t.device.device_id);
    default:
      return fmt::format("device type {}:{}", static_cast<int>(t.device.device_type), t.device.device_id);
  }
}

std::string dtype_string(const DLTensor& t) {
  if (auto type = scalar_type(t)) return std::string(to_string(*type));
  return fmt::format("DLDataType(code={}, bits={}, lanes={})", t.dtype.code, t.dtype.bits, t.dtype.lanes);
}

namespace {

// "a", "a or b", "a, b or c".
std::string or_list(std::initializer_list<ScalarType> types) {
  std::vector<std::string_view> names;
  for (auto t : types) names.push_back(to_string(t));
  if (names.size() <= 1) return fmt::format("{}", fmt::join(names, ""));
  return fmt::format("{} or {}", fmt::join(names.begin(), names.end() - 1, ", "), names.back());
}

}  // namespace

ScalarType expect_dtype(const DLTensor& t, std::string_view name, std::initializer_list<ScalarType> allowed) {
  const auto type = scalar_type(t);
  if (type && std::find(allowed.begin(), allowed.end(), *type) != allowed.end()) return *type;
  throw ValueError(fmt::format("{}: expected dtype {}, got {}", name, or_list(allowed), dtype_string(t)));
}

void expect_ndim(const DLTensor& t, std::string_view name, int ndim, std::string_view dims) {
  if (t.ndim == ndim) return;
  throw ValueError(fmt::format("{}: expected {} dimension{} ({}), got {} (shape {})", name, ndim,
                               ndim == 1 ? "" : "s", dims, t.ndim, shape_string(t)));
}

void expect_shape(const DLTensor& t, std::string_view name, std::span<const std::int64_t> shape,
                  std::string_view dims) {
  if (t.ndim == static_cast<int>(shape.size()) && std::equal(shape.begin(), shape.end(), t.shape)) return;
  throw ValueError(fmt::format("{}: expected shape [{}] ({}), got {}", name, fmt::join(shape, ", "), dims,
                               shape_string(t)));
}

void expect_device(const DLTensor& t, std::string_view name, DeviceType device) {
  if (device == DeviceType::CPU ? is_host_accessible(t) : is_cuda(t)) return;
  throw ValueError(fmt::format(
      "{}: expected a {} tensor ({}), got {}", name, to_string(device),
      device == DeviceType::CPU ? "kDLCPU or kDLCUDAHost" : "kDLCUDA or kDLCUDAManaged", device_string(t)));
}

void expect_usable_strides(const DLTensor& t, std::string_view name, std::string_view dims) {
  if (t.ndim < 0 || (t.ndim > 0 && t.shape == nullptr))
    throw ValueError(
        fmt::format("{}: has ndim {} but no shape; expected a shape of ({})", name, t.ndim, dims));
  for (int d = 0; d < t.ndim; ++d)
    if (t.shape[d] < 0)
      throw ValueError(fmt::format("{}: size of dimension {} is {}; expected a non-negative size (shape {})",
                                   name, d, t.shape[d], shape_string(t)));
  for (int d = 0; d < t.ndim; ++d) {
    if (t.shape[d] <= 1) continue;  // the stride of a dimension of size 0 or 1 is never used
    const std::int64_t s = stride(t, d);
    if (s <= 0)
      throw ValueError(
          fmt::format("{}: stride {} is {}; expected a positive stride (dimension {} has size {})", name, d,
                      s, d, t.shape[d]));
    if (d == t.ndim - 1 && s != 1)
      throw ValueError(
          fmt::format("{}: stride {} is {}; expected 1 (the last dimension of ({}) must be contiguous)", name,
                      d, s, dims));
  }
  if (t.data == nullptr && numel(t) > 0)
    throw ValueError(fmt::format("{}: data is null but the shape {} has {} elements; expected a buffer", name,
                                 shape_string(t), numel(t)));
}

void expect_no_internal_overlap(const DLTensor& t, std::string_view name) {
  std::vector<int> dims;
  for (int d = 0; d < t.ndim; ++d)
    if (t.shape[d] > 1) dims.push_back(d);
  // A negative stride mirrors its dimension's offsets, which changes no
  // distance between them: only the magnitudes matter. Equal strides put the
  // inner dimension first, so the outer one is reported.
  auto step = [&](int d) { return std::abs(stride(t, d)); };
  std::ranges::sort(dims, [&](int a, int b) { return step(a) != step(b) ? step(a) < step(b) : a > b; });
  std::int64_t reach = 0;  // furthest offset (elements) the dimensions so far reach
  for (int d : dims) {
    const std::int64_t s = step(d);
    if (s <= reach) {
      std::vector<std::int64_t> strides(t.ndim), contiguous(t.ndim);
      std::int64_t next = 1;
      for (int i = t.ndim - 1; i >= 0; --i) {
        strides[i] = stride(t, i);
        contiguous[i] = next;
        next *= std::max<std::int64_t>(t.shape[i], 1);
      }
      const std::string why =
          s == 0 ? fmt::format("dimension {} has size {} and stride 0", d, t.shape[d])
                 : fmt::format(
                       "dimension {} steps {} elements, within the {} that the dimensions of smaller "
                       "stride span",
                       d, s, reach + 1);
      throw ValueError(fmt::format(
          "{}: strides [{}] let elements share memory ({}); expected strides that keep elements apart, e.g. "
          "the contiguous [{}]",
          name, fmt::join(strides, ", "), why, fmt::join(contiguous, ", ")));
    }
    reach += s * (t.shape[d] - 1);
  }
}

ByteExtent byte_extent(const DLTensor& t) noexcept {
  if (numel(t) == 0 || t.data == nullptr) return {};
  // Each dimension moves the lowest element down by its steps when its
  // stride is negative and the highest one up when it is positive (strides of
  // 0 or less are legal for tensors a call only reads).
  const auto bytes_per_element = static_cast<std::int64_t>((t.dtype.bits * t.dtype.lanes + 7) / 8);
  std::int64_t low = 0, high = 0;
  for (int d = 0; d < t.ndim; ++d) {
    const std::int64_t span = (t.shape[d] - 1) * stride(t, d) * bytes_per_element;
    (span < 0 ? low : high) += span;
  }
  const auto first = reinterpret_cast<std::uintptr_t>(element_address(t, {}));
  return {first + static_cast<std::uintptr_t>(low),
          first + static_cast<std::uintptr_t>(high + bytes_per_element)};
}

void expect_apart(NamedTensor written, std::initializer_list<NamedTensor> others, std::string_view why) {
  const ByteExtent extent = byte_extent(*written.tensor);
  for (const NamedTensor& other : others) {
    if (other.tensor == nullptr || other.tensor == written.tensor) continue;
    if (extent.overlaps(byte_extent(*other.tensor)))
      throw ValueError(fmt::format("{}: overlaps {} in memory; expected a separate buffer ({})", written.name,
                                   other.name, why));
  }
}

TensorView TensorView::of(const DLTensor& t, ScalarType dtype) {
  if (t.ndim > kMaxDims)
    throw ValueError(
        fmt::format("tensor of shape {}: expected at most {} dimensions for a TensorView, got {}",
                    shape_string(t), kMaxDims, t.ndim));
  TensorView v;
  v.data = element_address(t, {});
  v.dtype = dtype;
  v.element_bytes = element_size(dtype);
  v.ndim = t.ndim;
  for (int d = 0; d < t.ndim; ++d) {
    v.shape[d] = t.shape[d];
    v.strides[d] = stride(t, d);
  }
  return v;
}

}  // namespace attnreg::tensor
