// The environment switches that pin a kernel choice for tests and A/B
// measurements (ATTNREG_FLASH_ATTN_DECODE_TMA, ..._DECODE_FP8_MMA,
// ..._DECODE_RING_STAGES), read one way.
#pragma once

#include <cstdlib>
#include <string_view>

namespace attnreg::flash_attn {

/// The digit that environment variable `name` is set to when its value is
/// exactly one of the characters of `allowed` (e.g. "01"); -1 when it is
/// unset or anything else.
inline int env_switch(const char* name, std::string_view allowed) {
  const char* v = std::getenv(name);
  if (v == nullptr || v[0] == '\0' || v[1] != '\0' || allowed.find(v[0]) == std::string_view::npos) return -1;
  return v[0] - '0';
}

}  // namespace attnreg::flash_attn
