// python/bindings/conversions.hpp: the string spellings Python code uses for
// attnreg's small enums ("bfloat16", "cuda", "decoder"), parsed with messages
// that list what would be right.
#pragma once

#include <attnreg/backend.hpp>
#include <attnreg/dtype.hpp>
#include <string_view>

namespace attnreg::python {

/// A dtype name as scalar_type_from_string accepts it; ValueError otherwise.
ScalarType parse_dtype(std::string_view name);
/// "cpu" or "cuda"; ValueError otherwise.
DeviceType parse_device(std::string_view name);
/// "decoder", "encoder", "encoder_only" or "encoder_decoder"; ValueError otherwise.
AttentionType parse_attn_type(std::string_view name);

}  // namespace attnreg::python
