// attnreg/tensor.hpp: small helpers over DLPack's DLTensor (no copies):
// element type, element count, device kind, strides and element addresses,
// and checks that throw ValueError with messages naming the tensor, what it
// got and what it needs, e.g.
//   "query: expected dtype bfloat16, float16 or float32, got int32"
//   "key: expected shape [37, 8, 128] (num_tokens, num_kv_heads, head_size), got [37, 4, 128]"
//
// Strides follow DLPack: in elements, and a null `strides` means compact
// row-major. Addresses include byte_offset.
//
// Thread safety: every function only reads its arguments; callable from any
// thread.
#pragma once

#include <dlpack/dlpack.h>

#include <array>
#include <attnreg/backend.hpp>
#include <attnreg/dtype.hpp>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace attnreg::tensor {

/// The element type of t, or nullopt for a type attnreg does not know.
std::optional<ScalarType> scalar_type(const DLTensor& t) noexcept;

/// Number of elements (product of the shape; 1 for a 0-d tensor).
std::int64_t numel(const DLTensor& t) noexcept;

/// Whether the CPU can read t directly: kDLCPU or kDLCUDAHost (pinned) memory.
bool is_host_accessible(const DLTensor& t) noexcept;

/// Whether t lives in CUDA device memory: kDLCUDA or kDLCUDAManaged.
bool is_cuda(const DLTensor& t) noexcept;

/// Stride of dimension dim in elements (row-major compact when t.strides is null).
std::int64_t stride(const DLTensor& t, int dim) noexcept;

/// Byte address of the element at index (one entry per dimension, not
/// checked against the shape), including byte_offset.
std::byte* element_address(const DLTensor& t, std::span<const std::int64_t> index) noexcept;

/// "[37, 4, 128]".
std::string shape_string(const DLTensor& t);

/// "cpu", "cuda:0", "cuda_host:0", "cuda_managed:0", or "device type 13:0".
std::string device_string(const DLTensor& t);

/// A dtype as text: its ScalarType name, or "DLDataType(code=.., bits=.., lanes=..)".
std::string dtype_string(const DLTensor& t);

/// Throws ValueError "<name>: expected dtype A, B or C, got X" unless t has
/// one of allowed; returns t's type.
ScalarType expect_dtype(const DLTensor& t, std::string_view name, std::initializer_list<ScalarType> allowed);

/// Throws ValueError "<name>: expected N dimensions (<dims>), got M".
void expect_ndim(const DLTensor& t, std::string_view name, int ndim, std::string_view dims);

/// Throws ValueError "<name>: expected shape [..] (<dims>), got [..]" unless
/// t's shape equals shape (the rank is compared too).
void expect_shape(const DLTensor& t, std::string_view name, std::span<const std::int64_t> shape,
                  std::string_view dims);

/// Throws ValueError unless t is memory that device reads: for CPU,
/// kDLCPU or kDLCUDAHost; for CUDA, kDLCUDA or kDLCUDAManaged.
/// "<name>: expected a cpu tensor (kDLCPU or kDLCUDAHost), got cuda:0".
void expect_device(const DLTensor& t, std::string_view name, DeviceType device);

/// Throws ValueError unless t's strides are usable by attnreg kernels: every
/// dimension of size > 1 has a positive stride, and the last dimension (if its
/// size is > 1) has stride 1, e.g.
/// "kv_cache: stride 3 is 0; expected a positive stride (dimension 3 has size 8)".
/// Also throws when t has elements but a null data pointer.
void expect_usable_strides(const DLTensor& t, std::string_view name, std::string_view dims);

/// Throws ValueError when t's strides may let two of its elements share
/// memory, for a tensor a call writes: taking the dimensions of size > 1 in
/// increasing order of stride, each stride must exceed the furthest offset
/// the dimensions before it reach. Every layout made by permuting, padding or
/// slicing a contiguous buffer meets this (e.g. a head-major cache); equal
/// strides, or a row stride shorter than its row, do not, e.g.
/// "output: strides [32, 4, 1] let elements share memory (dimension 1 steps 4
/// elements, within the 8 that the dimensions of smaller stride span);
/// expected strides that keep elements apart, e.g. the contiguous [32, 8, 1]"
/// for a [2, 4, 8] tensor.
/// A stride of 0 on a dimension of size > 1 is rejected the same way; a
/// negative one counts by its magnitude (it mirrors the dimension).
void expect_no_internal_overlap(const DLTensor& t, std::string_view name);

/// [first, last) byte range t's elements occupy (empty for no elements).
struct ByteExtent {
  std::uintptr_t begin = 0, end = 0;
  bool overlaps(const ByteExtent& other) const noexcept {
    return begin < end && other.begin < other.end && begin < other.end && other.begin < end;
  }
};
/// Byte extent of t (from its lowest to one past its highest element, for
/// strides of any sign).
ByteExtent byte_extent(const DLTensor& t) noexcept;

/// A tensor and the name its errors give it.
struct NamedTensor {
  const DLTensor* tensor = nullptr;
  std::string_view name;
};

/// Throws ValueError "<written>: overlaps <other> in memory; expected a
/// separate buffer (<why>)" when the byte extent of `written`, a tensor a call
/// writes, meets that of one of `others` (null entries and `written` itself
/// skipped). Extents are compared, so two views interleaved in one buffer
/// count as overlapping.
void expect_apart(NamedTensor written, std::initializer_list<NamedTensor> others, std::string_view why);

/// Non-owning strided view of a DLTensor with up to kMaxDims dimensions:
/// shape and strides copied into fixed arrays so hot loops avoid the
/// indirections (and the null-strides case) of DLTensor.
struct TensorView {
  static constexpr int kMaxDims = 6;
  std::byte* data = nullptr;  ///< address of element [0, ..., 0] (byte_offset applied)
  ScalarType dtype = ScalarType::Float32;
  int element_bytes = 4;  ///< element_size(dtype), kept here so at() stays inline in hot loops
  int ndim = 0;
  std::array<std::int64_t, kMaxDims> shape{};
  std::array<std::int64_t, kMaxDims> strides{};  ///< in elements

  /// Views t as dtype (the caller has validated it; e.g. Float8_E4M3 for a
  /// uint8 fp8 cache). Throws ValueError when t has more than kMaxDims dims.
  static TensorView of(const DLTensor& t, ScalarType dtype);

  /// Byte address of the element at the given indices (one per dimension).
  template <class... I>
  std::byte* at(I... index) const noexcept {
    const std::int64_t idx[] = {static_cast<std::int64_t>(index)...};
    std::int64_t offset = 0;
    for (std::size_t d = 0; d < sizeof...(I); ++d) offset += idx[d] * strides[d];
    return data + offset * element_bytes;
  }
  /// Typed pointer to the element at the given indices.
  template <class T, class... I>
  T* ptr(I... index) const noexcept {
    return reinterpret_cast<T*>(at(index...));
  }
};

}  // namespace attnreg::tensor
