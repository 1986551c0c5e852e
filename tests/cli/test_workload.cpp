// The mask-exact work and traffic counts of `run` and `bench`, against a
// brute-force walk over every (query, key) pair on random batch shapes.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "workload.hpp"

namespace {

using attnreg::cli::LayerShape;
using attnreg::cli::RequestShape;

bool visible(std::int64_t query_pos, std::int64_t key_pos, std::optional<int> window) {
  return key_pos <= query_pos && (!window || key_pos > query_pos - *window);
}

struct Counts {
  std::int64_t pairs = 0, keys = 0;
};

Counts brute_force(const std::vector<RequestShape>& requests, std::optional<int> window) {
  Counts c;
  for (const auto& r : requests) {
    std::vector<bool> read(r.seq_len, false);
    for (int q = r.seq_len - r.query_len; q < r.seq_len; ++q)
      for (int k = 0; k < r.seq_len; ++k)
        if (visible(q, k, window)) {
          ++c.pairs;
          read[k] = true;
        }
    for (const bool b : read) c.keys += b;
  }
  return c;
}

TEST(Workload, CountsMatchBruteForceOnRandomBatches) {
  std::mt19937 rng(std::random_device{}());
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<RequestShape> requests(1 + rng() % 5);
    for (auto& r : requests) {
      r.seq_len = 1 + static_cast<int>(rng() % 70);
      r.query_len = 1 + static_cast<int>(rng() % r.seq_len);
    }
    const std::optional<int> window = rng() % 2 ? std::optional<int>(1 + rng() % 40) : std::nullopt;
    const Counts want = brute_force(requests, window);
    EXPECT_EQ(attnreg::cli::visible_pairs(requests, window), want.pairs);
    EXPECT_EQ(attnreg::cli::keys_read(requests, window), want.keys);
  }
}

TEST(Workload, FlopsAndBytesScaleTheCounts) {
  const std::vector<RequestShape> requests{{1, 100}, {10, 10}};  // a decode and a fresh prefill
  const LayerShape layer{32, 8, 128, 2, 1};
  // pairs: 100 + (1 + ... + 10) = 155; keys: 100 + 10 = 110; tokens: 11
  EXPECT_DOUBLE_EQ(attnreg::cli::attention_flops(requests, layer, std::nullopt), 4.0 * 155 * 32 * 128);
  EXPECT_DOUBLE_EQ(attnreg::cli::attention_bytes(requests, layer, std::nullopt),
                   2.0 * 110 * 8 * 128 * 1 + 2.0 * 11 * 32 * 128 * 2);
}

}  // namespace
