// Did-you-mean and the registry's lookup errors.
#include "registry/name_lookup.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <attnreg/errors.hpp>
#include <vector>

namespace attnreg::detail {
namespace {

char upper(char c) noexcept { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool equal_ignoring_case(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return upper(x) == upper(y); });
}

// Case-insensitive Levenshtein distance with two rows, or any value above
// bound once every cell of a row exceeds it (the distance can only grow from
// there): most members differ from a typo within a few characters, so the
// error path stays cheap. b is a member name (short), so the rows live on the
// stack.
std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t bound) {
  constexpr std::size_t kMaxName = 63;
  if (b.size() > kMaxName) return a.size() + b.size();  // no member name is this long
  std::array<std::size_t, kMaxName + 1> prev{}, cur{};
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    std::size_t row_min = cur[0];
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitute = prev[j - 1] + (upper(a[i - 1]) == upper(b[j - 1]) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > bound) return row_min;
    prev = cur;
  }
  return prev[b.size()];
}

}  // namespace

std::optional<std::string_view> closest_name(std::string_view name, std::span<const std::string_view> names) {
  for (std::string_view candidate : names)
    if (equal_ignoring_case(name, candidate)) return candidate;
  std::optional<std::string_view> best;
  std::size_t best_distance = kMaxSuggestionDistance + 1;
  for (std::string_view candidate : names) {
    // The length difference bounds the distance from below: skip hopeless
    // candidates without the quadratic work (inputs may be arbitrarily long).
    const std::size_t gap =
        name.size() > candidate.size() ? name.size() - candidate.size() : candidate.size() - name.size();
    if (gap >= best_distance) continue;
    const std::size_t d = edit_distance(name, candidate, best_distance - 1);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

void throw_unknown_name(std::string_view name, std::span<const std::string_view> names) {
  std::string message =
      fmt::format("Unknown attention backend: '{}'. Valid options are: {}", name, fmt::join(names, ", "));
  if (const auto suggestion = closest_name(name, names))
    message += fmt::format(" Did you mean '{}'?", *suggestion);
  throw ValueError(message);
}

void throw_unregistered(std::string_view member) {
  throw ValueError(
      fmt::format("Backend {0} must be registered before use. Use register_backend(Backend.{0}, "
                  "'your.module.YourClass')",
                  member));
}

std::string_view module_part(std::string_view path) noexcept {
  const auto dot = path.rfind('.');
  return dot == std::string_view::npos ? path : path.substr(0, dot);
}

}  // namespace attnreg::detail
