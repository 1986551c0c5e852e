#include <attnreg/dtype.hpp>

#include <array>
#include <utility>

namespace attnreg {

std::string_view to_string(ScalarType type) noexcept {
  switch (type) {
    case ScalarType::Float32:
      return "float32";
    case ScalarType::Float16:
      return "float16";
    case ScalarType::BFloat16:
      return "bfloat16";
    case ScalarType::Float8_E4M3:
      return "fp8_e4m3";
    case ScalarType::Float64:
      return "float64";
    case ScalarType::UInt8:
      return "uint8";
    case ScalarType::Int32:
      return "int32";
    case ScalarType::Int64:
      return "int64";
  }
  return "unknown";
}

std::optional<ScalarType> scalar_type_from_string(std::string_view name) noexcept {
  if (name.starts_with("torch.")) name.remove_prefix(6);
  static constexpr std::array<std::pair<std::string_view, ScalarType>, 18> kNames = {{
      {"float32", ScalarType::Float32},
      {"fp32", ScalarType::Float32},
      {"float", ScalarType::Float32},
      {"float16", ScalarType::Float16},
      {"fp16", ScalarType::Float16},
      {"half", ScalarType::Float16},
      {"bfloat16", ScalarType::BFloat16},
      {"bf16", ScalarType::BFloat16},
      {"fp8_e4m3", ScalarType::Float8_E4M3},
      {"fp8", ScalarType::Float8_E4M3},
      {"float8_e4m3fn", ScalarType::Float8_E4M3},
      {"float64", ScalarType::Float64},
      {"fp64", ScalarType::Float64},
      {"double", ScalarType::Float64},
      {"uint8", ScalarType::UInt8},
      {"int32", ScalarType::Int32},
      {"int64", ScalarType::Int64},
      {"long", ScalarType::Int64},
  }};
  for (const auto& [n, t] : kNames)
    if (n == name) return t;
  return std::nullopt;
}

int element_size(ScalarType type) noexcept {
  switch (type) {
    case ScalarType::Float32:
    case ScalarType::Int32:
      return 4;
    case ScalarType::Float16:
    case ScalarType::BFloat16:
      return 2;
    case ScalarType::Float8_E4M3:
    case ScalarType::UInt8:
      return 1;
    case ScalarType::Float64:
    case ScalarType::Int64:
      return 8;
  }
  return 0;
}

DLDataType to_dlpack(ScalarType type) noexcept {
  switch (type) {
    case ScalarType::Float32:
      return {kDLFloat, 32, 1};
    case ScalarType::Float16:
      return {kDLFloat, 16, 1};
    case ScalarType::BFloat16:
      return {kDLBfloat, 16, 1};
    case ScalarType::Float8_E4M3:
    case ScalarType::UInt8:
      return {kDLUInt, 8, 1};
    case ScalarType::Float64:
      return {kDLFloat, 64, 1};
    case ScalarType::Int32:
      return {kDLInt, 32, 1};
    case ScalarType::Int64:
      return {kDLInt, 64, 1};
  }
  return {kDLOpaqueHandle, 0, 0};
}

std::optional<ScalarType> from_dlpack(DLDataType t) noexcept {
  if (t.lanes != 1) return std::nullopt;
  if (t.code == kDLFloat && t.bits == 32) return ScalarType::Float32;
  if (t.code == kDLFloat && t.bits == 16) return ScalarType::Float16;
  if (t.code == kDLFloat && t.bits == 64) return ScalarType::Float64;
  if (t.code == kDLBfloat && t.bits == 16) return ScalarType::BFloat16;
  if (t.code == kDLUInt && t.bits == 8) return ScalarType::UInt8;
  if (t.code == kDLInt && t.bits == 32) return ScalarType::Int32;
  if (t.code == kDLInt && t.bits == 64) return ScalarType::Int64;
  return std::nullopt;
}

}  // namespace attnreg
