// python/bindings/conversions.cpp: see conversions.hpp.
#include "conversions.hpp"

#include <fmt/format.h>

#include <array>
#include <attnreg/errors.hpp>

namespace attnreg::python {

ScalarType parse_dtype(std::string_view name) {
  if (const auto t = scalar_type_from_string(name)) return *t;
  throw ValueError(fmt::format(
      "unknown dtype '{}': expected float32, float16, bfloat16, fp8_e4m3, float64, uint8, int32 or int64",
      name));
}

DeviceType parse_device(std::string_view name) {
  for (DeviceType d : {DeviceType::CPU, DeviceType::CUDA}) {
    if (to_string(d) == name) return d;
  }
  throw ValueError(fmt::format("unknown device '{}': expected 'cpu' or 'cuda'", name));
}

AttentionType parse_attn_type(std::string_view name) {
  constexpr std::array kTypes{AttentionType::DECODER, AttentionType::ENCODER, AttentionType::ENCODER_ONLY,
                              AttentionType::ENCODER_DECODER};
  for (AttentionType t : kTypes) {
    if (to_string(t) == name) return t;
  }
  throw ValueError(fmt::format(
      "unknown attention type '{}': expected 'decoder', 'encoder', 'encoder_only' or 'encoder_decoder'",
      name));
}

}  // namespace attnreg::python
