#include "batch.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "device_util.hpp"

namespace attnreg::flash_attn::test {
namespace {

/// Cache element (kind 0 = K, 1 = V) at (block, offset, kv head, d), as a float.
float cache_value(const HostBatch& b, const std::vector<std::uint8_t>& cache, int kind, int block, int off,
                  int h, int d) {
  const auto& s = b.spec;
  const std::size_t idx =
      ((((static_cast<std::size_t>(kind) * b.num_blocks + block) * s.block_size + off) * s.num_kv_heads + h) *
           s.head_size +
       d);
  if (s.fp8) return from_fp8(cache[idx]) * (kind == 0 ? s.k_scale : s.v_scale);
  std::uint16_t bits;
  std::copy_n(&cache[idx * 2], 2, reinterpret_cast<std::uint8_t*>(&bits));
  return from_bits(bits, s.bf16);
}

void store_cache(const HostBatch& b, std::vector<std::uint8_t>& cache, int kind, std::int64_t slot, int h,
                 int d, float x) {
  const auto& s = b.spec;
  const std::int64_t block = slot / s.block_size, off = slot % s.block_size;
  const std::size_t idx =
      ((((static_cast<std::size_t>(kind) * b.num_blocks + block) * s.block_size + off) * s.num_kv_heads + h) *
           s.head_size +
       d);
  if (s.fp8) {
    cache[idx] = to_fp8(x / (kind == 0 ? s.k_scale : s.v_scale));
  } else {
    const std::uint16_t bits = to_bits(x, s.bf16);
    std::copy_n(reinterpret_cast<const std::uint8_t*>(&bits), 2, &cache[idx * 2]);
  }
}

}  // namespace

HostBatch make_batch(const BatchSpec& spec) {
  HostBatch b;
  b.spec = spec;
  const auto& s = spec;
  std::mt19937 rng(spec.seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  b.num_reqs = static_cast<int>(s.requests.size());
  int needed = 0;
  b.query_start_loc.push_back(0);
  for (auto [ql, sl] : s.requests) {
    const int nb = (sl + s.block_size - 1) / s.block_size;
    needed += nb;
    b.max_blocks_per_req = std::max(b.max_blocks_per_req, nb + 1);  // every row ends in at least one -1
    b.query_start_loc.push_back(b.query_start_loc.back() + ql);
    b.seq_lens.push_back(sl);
    b.max_query_len = std::max(b.max_query_len, ql);
    b.max_seq_len = std::max(b.max_seq_len, sl);
  }
  b.num_blocks = needed + 3;  // three holes nobody uses
  b.num_tokens = b.query_start_loc.back() + s.padding_tokens;
  std::vector<int> perm(b.num_blocks);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  b.block_table.assign(static_cast<std::size_t>(b.num_reqs) * b.max_blocks_per_req, -1);
  int next = 0;
  for (int r = 0; r < b.num_reqs; ++r) {
    const int nb = (s.requests[r].second + s.block_size - 1) / s.block_size;
    for (int i = 0; i < nb; ++i) b.block_table[r * b.max_blocks_per_req + i] = perm[next++];
  }

  const std::size_t cache_elems = 2ull * b.num_blocks * s.block_size * s.num_kv_heads * s.head_size;
  if (s.fp8) {
    b.cache.assign(cache_elems, 0x7F);  // e4m3 NaN
  } else {
    b.cache.resize(cache_elems * 2);
    const std::uint16_t nan_bits = to_bits(std::numeric_limits<float>::quiet_NaN(), s.bf16);
    for (std::size_t i = 0; i < cache_elems; ++i)
      std::copy_n(reinterpret_cast<const std::uint8_t*>(&nan_bits), 2, &b.cache[i * 2]);
  }
  const int T = b.num_tokens, H = s.num_heads, Hkv = s.num_kv_heads, D = s.head_size;
  b.q.resize(static_cast<std::size_t>(T) * H * D);
  b.k.resize(static_cast<std::size_t>(T) * Hkv * D);
  b.v.resize(b.k.size());
  for (auto& x : b.q) x = to_bits(2.0f * uni(rng), s.bf16);
  for (auto& x : b.k) x = to_bits(uni(rng), s.bf16);
  for (auto& x : b.v) x = to_bits(uni(rng), s.bf16);
  b.slot_mapping.assign(T, -1);
  for (int r = 0; r < b.num_reqs; ++r) {
    const auto [ql, sl] = s.requests[r];
    const int ctx = sl - ql;
    const int* row = &b.block_table[r * b.max_blocks_per_req];
    for (int pos = 0; pos < sl; ++pos) {
      const std::int64_t slot =
          static_cast<std::int64_t>(row[pos / s.block_size]) * s.block_size + pos % s.block_size;
      if (pos >= ctx) {
        b.slot_mapping[b.query_start_loc[r] + pos - ctx] = slot;
        continue;
      }
      for (int h = 0; h < Hkv; ++h)
        for (int d = 0; d < D; ++d) {
          store_cache(b, b.cache, 0, slot, h, d, uni(rng));
          store_cache(b, b.cache, 1, slot, h, d, uni(rng));
        }
    }
  }
  if (s.sinks) {
    b.sinks.resize(H);
    for (auto& x : b.sinks) x = 2.0f * uni(rng);
  }
  return b;
}

std::vector<std::uint8_t> expected_cache(const HostBatch& b) {
  auto cache = b.cache;
  const auto& s = b.spec;
  for (int t = 0; t < b.num_tokens; ++t) {
    if (b.slot_mapping[t] < 0) continue;
    for (int h = 0; h < s.num_kv_heads; ++h)
      for (int d = 0; d < s.head_size; ++d) {
        const std::size_t i = (static_cast<std::size_t>(t) * s.num_kv_heads + h) * s.head_size + d;
        store_cache(b, cache, 0, b.slot_mapping[t], h, d, from_bits(b.k[i], s.bf16));
        store_cache(b, cache, 1, b.slot_mapping[t], h, d, from_bits(b.v[i], s.bf16));
      }
  }
  return cache;
}

std::vector<double> reference_output(const HostBatch& b, float scale) {
  const auto& s = b.spec;
  const int H = s.num_heads, D = s.head_size, G = s.num_heads / s.num_kv_heads;
  const double sc = scale != 0.0f ? scale : 1.0 / std::sqrt(static_cast<double>(D));
  const auto cache = expected_cache(b);
  std::vector<double> out(static_cast<std::size_t>(b.num_tokens) * H * D,
                          std::numeric_limits<double>::quiet_NaN());
  for (int r = 0; r < b.num_reqs; ++r) {
    const auto [ql, sl] = s.requests[r];
    const int* row = &b.block_table[r * b.max_blocks_per_req];
    for (int i = 0; i < ql; ++i) {
      const int pos = sl - ql + i;
      const int t = b.query_start_loc[r] + i;
      const int hi = s.causal ? pos + 1 : sl;
      const int lo = s.window ? std::max(0, pos - *s.window + 1) : 0;
      for (int h = 0; h < H; ++h) {
        const int kvh = h / G;
        std::vector<double> logits;
        for (int j = lo; j < hi; ++j) {
          double dot = 0.0;
          for (int d = 0; d < D; ++d)
            dot +=
                static_cast<double>(from_bits(b.q[(static_cast<std::size_t>(t) * H + h) * D + d], s.bf16)) *
                cache_value(b, cache, 0, row[j / s.block_size], j % s.block_size, kvh, d);
          double x = dot * sc;
          if (s.softcap > 0.0f) x = s.softcap * std::tanh(x / s.softcap);
          logits.push_back(x);
        }
        double m = -std::numeric_limits<double>::infinity();
        for (double x : logits) m = std::max(m, x);
        if (s.sinks) m = std::max(m, static_cast<double>(b.sinks[h]));
        double sum = s.sinks ? std::exp(b.sinks[h] - m) : 0.0;
        for (double x : logits) sum += std::exp(x - m);
        for (int d = 0; d < D; ++d) {
          double acc = 0.0;
          for (int j = lo; j < hi; ++j)
            acc += std::exp(logits[j - lo] - m) *
                   cache_value(b, cache, 1, row[j / s.block_size], j % s.block_size, kvh, d);
          out[(static_cast<std::size_t>(t) * H + h) * D + d] = acc / sum;
        }
      }
    }
  }
  return out;
}

}  // namespace attnreg::flash_attn::test
