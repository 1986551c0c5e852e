// Host-side validation of the DLPack tensors FLASH_ATTN's forward() and
// reshape_and_cache() receive. Everything that can be checked without
// reading device memory is checked here, before any launch; each failure is a
// ValueError naming the tensor, what it is and what it should be.
#pragma once

#include <dlpack/dlpack.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace attnreg::flash_attn {

/// Throws ValueError unless t lives on CUDA device `device`.
void check_on_device(std::string_view name, const DLTensor& t, int device);

/// Throws ValueError unless t has the given dtype (code/bits, one lane).
void check_dtype(std::string_view name, const DLTensor& t, DLDataType want);

/// Throws ValueError unless t has exactly `shape` (-1 = any extent).
/// Returns the actual extents.
std::vector<std::int64_t> check_shape(std::string_view name, const DLTensor& t,
                                      const std::vector<std::int64_t>& shape);

/// Stride of dimension dim in elements (compact row-major when strides is null).
std::int64_t stride_of(const DLTensor& t, int dim);

/// Throws ValueError unless dimensions [first, ndim) are compact row-major
/// (each stride the product of the extents after it).
void check_compact_from(std::string_view name, const DLTensor& t, int first);

/// Throws ValueError unless the first element is 16-byte aligned and every
/// stride of dims [0, ndim-1) is a multiple of 16 bytes (the kernels load
/// 16 bytes at a time).
void check_vector_aligned(std::string_view name, const DLTensor& t);

/// Address of t's first element.
inline void* data_of(const DLTensor& t) { return static_cast<char*>(t.data) + t.byte_offset; }

/// "bfloat16", "int32", ... for a DLPack type, for messages.
std::string dtype_name(DLDataType t);

}  // namespace attnreg::flash_attn
