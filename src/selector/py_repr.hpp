// Internal: Python's repr of strings and lists of strings, so the selector's
// messages read exactly as vLLM's f-strings print them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace attnreg::detail {

/// Python's repr(str): single quotes unless the text has a single quote and no
/// double quote; backslash, quote and control characters escaped.
std::string py_str_repr(std::string_view text);

/// Python's repr(list[str]): "['a', 'b']".
std::string py_list_repr(const std::vector<std::string>& items);

}  // namespace attnreg::detail
