// Internal: what the registry says when a name or a path is missing.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace attnreg::detail {

/// The member name closest to name, if one is close enough to suggest:
/// equal ignoring case, else within a case-insensitive edit distance of
/// kMaxSuggestionDistance (the first such member in declaration order wins
/// a tie). Thread-safe (pure).
std::optional<std::string_view> closest_name(std::string_view name, std::span<const std::string_view> names);

/// The largest edit distance at which from_name still suggests a member.
/// Two catches a dropped, doubled or swapped pair of characters ("FLASHATTN",
/// "FLASH_ATN"); three would start suggesting unrelated short names
/// ("IPEX" for "PALL").
inline constexpr std::size_t kMaxSuggestionDistance = 2;

/// Throws ValueError "Unknown attention backend: '<name>'. Valid options are:
/// A, B, ..." with " Did you mean 'X'?" appended when closest_name finds one.
/// Both enums say "attention backend": vLLM's share the metaclass that words it.
[[noreturn]] void throw_unknown_name(std::string_view name, std::span<const std::string_view> names);

/// Throws ValueError "Backend <member> must be registered before use. Use
/// register_backend(Backend.<member>, 'your.module.YourClass')" (vLLM's text).
[[noreturn]] void throw_unregistered(std::string_view member);

/// Python's path.rsplit(".", 1)[0]: the path without its last dotted
/// component; the whole path when it has no dot.
std::string_view module_part(std::string_view path) noexcept;

}  // namespace attnreg::detail
