// attnreg/dtype.hpp: the element types attention tensors use, and their
// mapping to DLPack's DLDataType.
#pragma once

#include <dlpack/dlpack.h>

#include <optional>
#include <string_view>

namespace attnreg {

/// Element type of a model tensor or KV cache. fp8 caches travel through
/// DLPack as uint8 (DLPack 0.6 has no fp8 code), as vLLM stores them.
enum class ScalarType : std::uint8_t {
  Float32,
  Float16,
  BFloat16,
  Float8_E4M3,
  Float64,
  UInt8,
  Int32,
  Int64
};

/// "float32", "float16", "bfloat16", "fp8_e4m3", "float64", "uint8", "int32", "int64".
std::string_view to_string(ScalarType type) noexcept;

/// Inverse of to_string; also accepts the short forms "fp32", "fp16", "bf16",
/// "half", "float" and torch-style "torch.bfloat16". Unknown names: nullopt.
std::optional<ScalarType> scalar_type_from_string(std::string_view name) noexcept;

/// Size of one element in bytes.
int element_size(ScalarType type) noexcept;

/// DLPack code for a scalar type (Float8_E4M3 maps to uint8).
DLDataType to_dlpack(ScalarType type) noexcept;

/// The scalar type of a single-lane DLPack type, or nullopt (e.g. lanes > 1).
/// A uint8 tensor is reported as UInt8; the caller decides it holds fp8.
std::optional<ScalarType> from_dlpack(DLDataType type) noexcept;

}  // namespace attnreg
