#include "tensor_checks.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <attnreg/errors.hpp>

namespace attnreg::flash_attn {

std::string dtype_name(DLDataType t) {
  std::string base;
  switch (t.code) {
    case kDLInt:
      base = "int";
      break;
    case kDLUInt:
      base = "uint";
      break;
    case kDLFloat:
      base = "float";
      break;
    case kDLBfloat:
      base = "bfloat";
      break;
    default:
      base = fmt::format("code{}_", static_cast<int>(t.code));
  }
  auto s = fmt::format("{}{}", base, static_cast<int>(t.bits));
  if (t.lanes != 1) s += fmt::format("x{}", t.lanes);
  return s;
}

void check_on_device(std::string_view name, const DLTensor& t, int device) {
  if (t.device.device_type != kDLCUDA || t.device.device_id != device)
    throw ValueError(fmt::format(
        "{} must be on CUDA device {} (DLPack device type {} id {}), got device type {} id {}", name, device,
        static_cast<int>(kDLCUDA), device, static_cast<int>(t.device.device_type), t.device.device_id));
  if (t.data == nullptr && t.ndim > 0) {
    bool empty = false;
    for (int i = 0; i < t.ndim; ++i) empty = empty || t.shape[i] == 0;
    if (!empty) throw ValueError(fmt::format("{} has a null data pointer", name));
  }
}

void check_dtype(std::string_view name, const DLTensor& t, DLDataType want) {
  if (t.dtype.code != want.code || t.dtype.bits != want.bits || t.dtype.lanes != want.lanes)
    throw ValueError(
        fmt::format("{} must have dtype {}, got {}", name, dtype_name(want), dtype_name(t.dtype)));
}

std::vector<std::int64_t> check_shape(std::string_view name, const DLTensor& t,
                                      const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> got(t.shape, t.shape + t.ndim);
  bool ok = got.size() == shape.size();
  for (std::size_t i = 0; ok && i < shape.size(); ++i) ok = shape[i] < 0 ? got[i] >= 0 : got[i] == shape[i];
  if (!ok) {
    std::vector<std::string> want;
    for (auto s : shape) want.push_back(s < 0 ? "*" : std::to_string(s));
    throw ValueError(
        fmt::format("{} must have shape [{}], got [{}]", name, fmt::join(want, ", "), fmt::join(got, ", ")));
  }
  return got;
}

std::int64_t stride_of(const DLTensor& t, int dim) {
  if (t.strides != nullptr) return t.strides[dim];
  std::int64_t s = 1;
  for (int i = t.ndim - 1; i > dim; --i) s *= t.shape[i];
  return s;
}

void check_compact_from(std::string_view name, const DLTensor& t, int first) {
  std::int64_t want = 1;
  for (int i = t.ndim - 1; i >= first; --i) {
    if (t.shape[i] != 1 && stride_of(t, i) != want)
      throw ValueError(fmt::format("{} must be contiguous in dimension {} (stride {}), got stride {}", name,
                                   i, want, stride_of(t, i)));
    want *= t.shape[i];
  }
}

void check_vector_aligned(std::string_view name, const DLTensor& t) {
  const auto addr = reinterpret_cast<std::uintptr_t>(data_of(t));
  if (addr % 16 != 0) throw ValueError(fmt::format("{} must start at a 16-byte aligned address", name));
  const int elem = (t.dtype.bits * t.dtype.lanes) / 8;
  for (int i = 0; i + 1 < t.ndim; ++i) {
    if (t.shape[i] > 1 && (stride_of(t, i) * elem) % 16 != 0)
      throw ValueError(fmt::format("{} stride of dimension {} must be a multiple of 16 bytes, got {} bytes",
                                   name, i, stride_of(t, i) * elem));
  }
}

}  // namespace attnreg::flash_attn
