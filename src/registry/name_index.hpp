// Internal: a perfect hash over a fixed list of member names, built at
// compile time, so from_name is a few instructions and one comparison.
//
// Why not a linear scan: from_name runs for every config string parsed and
// every CLI call; comparing against up to 29 names costs ~30-60 ns, while a
// key of (length, five characters) times one multiplier picks the only
// possible candidate in ~2 ns.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace attnreg::detail {

/// Maps each of N distinct names (each at least 2 characters long, and
/// distinct in (length, first two, middle, last two characters)) to its
/// position. Immutable after construction; find() is thread-safe.
template <std::size_t N>
class NameIndex {
 public:
  static constexpr std::size_t kBuckets = 256;
  static_assert(N < 255, "a bucket stores a position in one byte, 255 means empty");

  consteval explicit NameIndex(const std::array<std::string_view, N>& names) : names_(names) {
    for (std::size_t i = 0; i < N; ++i) {
      // A compile error here means a name is too short for the key.
      if (names[i].size() < 2) throw "NameIndex: every name needs at least two characters";
      for (std::size_t j = 0; j < i; ++j)
        if (key(names[i]) == key(names[j])) throw "NameIndex: two names share a key; extend key()";
    }
    // Try odd multipliers from a fixed sequence until no two names share a
    // bucket; with 256 buckets and <= 29 names this takes a handful of tries.
    std::uint64_t state = 0x9e3779b97f4a7c15ULL;
    for (;;) {
      state = splitmix(state);
      multiplier_ = state | 1;
      if (fill()) return;
    }
  }

  /// The position of name in the list, or -1 when it is none of them.
  constexpr int find(std::string_view name) const noexcept {
    if (name.size() < 2) return -1;
    const std::uint8_t pos = buckets_[bucket(name)];
    if (pos == kEmpty || names_[pos] != name) return -1;
    return pos;
  }

 private:
  static constexpr std::uint8_t kEmpty = 0xff;

  static constexpr std::uint64_t key(std::string_view s) noexcept {
    const std::size_t n = s.size();
    const auto at = [&](std::size_t i) {
      return static_cast<std::uint64_t>(static_cast<unsigned char>(s[i]));
    };
    return static_cast<std::uint64_t>(n & 0xff) | at(0) << 8 | at(1) << 16 | at(n / 2) << 24 |
           at(n - 2) << 32 | at(n - 1) << 40;
  }
  constexpr std::size_t bucket(std::string_view s) const noexcept {
    return static_cast<std::size_t>((key(s) * multiplier_) >> 56);  // top 8 bits: 256 buckets
  }
  static constexpr std::uint64_t splitmix(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }
  constexpr bool fill() {
    for (auto& b : buckets_) b = kEmpty;
    for (std::size_t i = 0; i < N; ++i) {
      auto& b = buckets_[bucket(names_[i])];
      if (b != kEmpty) return false;
      b = static_cast<std::uint8_t>(i);
    }
    return true;
  }

  std::array<std::string_view, N> names_;
  std::uint64_t multiplier_ = 1;
  std::array<std::uint8_t, kBuckets> buckets_{};
};

}  // namespace attnreg::detail
