// Work planning of CPU_ATTN's forward (see work_plan.hpp).
#include "kernels/work_plan.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace attnreg::cpu_attn {
namespace {

// A range split in two has at least two minimum splits of keys; a chunk is
// then half of it rounded up to whole tiles, less than the whole range, so a
// split range always makes at least two items (and a merge group of them).
static_assert(kMinDecodeSplitKeys > kTileKeys && kMinSplitKeys > kTileKeys && kLocalityChunkKeys > kTileKeys);

/// Query tokens per work item for a KV group of `group` heads.
int tokens_per_item(int group) { return std::max(1, kMaxItemRows / group); }

}  // namespace

void plan_work(const KernelArgs& a, Workspace& ws, int threads) {
  const auto& z = a.sizes;
  const int group = static_cast<int>(z.num_heads / z.num_kv_heads);
  const int qb = tokens_per_item(group);
  const int Dh = static_cast<int>(z.head_size);
  const int W = a.sliding_window;
  std::int64_t base = 0, units = 0;
  for (std::int64_t r = 0; r < z.num_reqs; ++r) {
    const int qlen = a.query_start_loc[r + 1] - a.query_start_loc[r];
    base += z.num_kv_heads * ((qlen + qb - 1) / qb);
    units += qlen == 1 ? 1 : z.num_kv_heads * ((qlen + qb - 1) / qb);
  }
  ws.items.clear();
  ws.merge_groups.clear();
  std::int64_t partial_floats = 0;
  // Items for keys [klo, khi) cut into `splits` tile-aligned ranges.
  auto add = [&](WorkItem proto, int klo, int khi, int splits, int rows) {
    const int chunk =
        std::max(kTileKeys, ((khi - klo + splits - 1) / splits + kTileKeys - 1) / kTileKeys * kTileKeys);
    if (splits > 1) ws.merge_groups.push_back(static_cast<std::int32_t>(ws.items.size()));
    const int first_item = static_cast<int>(ws.items.size());
    int k0 = klo;
    do {
      WorkItem it = proto;
      it.key_begin = k0;
      it.key_end = std::min(khi, k0 + chunk);
      if (splits > 1) {
        it.partial_offset = partial_floats;
        partial_floats += static_cast<std::int64_t>(rows) * (Dh + 2);
      }
      ws.items.push_back(it);
      k0 += chunk;
    } while (k0 < khi);
    // Rounding the chunk to whole tiles can leave fewer splits than asked,
    // but never one where more were asked (the static_assert above).
    const int made = static_cast<int>(ws.items.size()) - first_item;
    for (int i = first_item; i < first_item + made; ++i) ws.items[i].num_splits = made;
  };
  for (std::int64_t r = 0; r < z.num_reqs; ++r) {
    const int begin = a.query_start_loc[r];
    const int qlen = a.query_start_loc[r + 1] - begin;
    const int seq = a.seq_lens[r];
    if (qlen == 1) {
      const int pos = seq - 1;
      const int klo = W > 0 ? std::max(0, pos - W + 1) : 0;
      const int khi = z.causal ? pos + 1 : (W > 0 ? std::min(seq, pos + W) : seq);
      const auto want = static_cast<int>((kDecodeItemsPerThread * threads + units - 1) / units);
      const int splits = std::max(1, std::min(want, (khi - klo) / kMinDecodeSplitKeys));
      WorkItem it;
      it.req = static_cast<std::int32_t>(r);
      it.kv_head = -1;
      it.token_begin = begin;
      it.num_tokens = 1;
      it.first_pos = pos;
      add(it, klo, std::max(klo, khi), splits, static_cast<int>(z.num_heads));
      continue;
    }
    for (int g = 0; g < z.num_kv_heads; ++g) {
      for (int tb = 0; tb < qlen; tb += qb) {
        const int n = std::min(qb, qlen - tb);
        const int first = seq - qlen + tb, last = first + n - 1;
        const int klo = W > 0 ? std::max(0, first - W + 1) : 0;
        const int khi = z.causal ? last + 1 : (W > 0 ? std::min(seq, last + W) : seq);
        int splits = 1;
        if (base < 4 * threads) {
          const auto want = static_cast<int>((4 * threads + base - 1) / base);
          splits = std::max(1, std::min(want, (khi - klo) / kMinSplitKeys));
        }
        if (n * group <= 8) splits = std::max(splits, (khi - klo) / kLocalityChunkKeys);
        WorkItem it;
        it.req = static_cast<std::int32_t>(r);
        it.kv_head = g;
        it.token_begin = begin + tb;
        it.num_tokens = n;
        it.first_pos = first;
        add(it, klo, khi, splits, n * group);
      }
    }
  }
  ws.order.resize(ws.items.size());
  for (std::size_t i = 0; i < ws.order.size(); ++i) ws.order[i] = static_cast<std::int32_t>(i);
  std::sort(ws.order.begin(), ws.order.end(), [&](std::int32_t x, std::int32_t y) {
    const WorkItem &a_ = ws.items[x], &b_ = ws.items[y];
    if (a_.req != b_.req) return a_.req < b_.req;
    if (a_.key_begin != b_.key_begin) return a_.key_begin < b_.key_begin;
    return x < y;  // same range: KV heads (and query blocks) in creation order
  });
  if (static_cast<std::int64_t>(ws.partials.size()) < partial_floats)
    ws.partials.resize(static_cast<std::size_t>(partial_floats));
}

void size_scratch(const KernelArgs& a, Workspace& ws, int threads) {
  const int group = static_cast<int>(a.sizes.num_heads / a.sizes.num_kv_heads);
  const auto rows = static_cast<std::size_t>(
      std::max<std::int64_t>(tokens_per_item(group) * group, a.sizes.num_heads));  // decode items: all heads
  const auto Dh = static_cast<std::size_t>(a.sizes.head_size);
  if (ws.threads.size() < static_cast<std::size_t>(threads))
    ws.threads.resize(static_cast<std::size_t>(threads));
  auto grow = [](auto& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
  };
  for (auto& s : ws.threads) {
    grow(s.q, rows * Dh);
    grow(s.acc, rows * Dh);
    grow(s.m, rows);
    grow(s.l, rows);
    grow(s.lo, rows);
    grow(s.hi, rows);
    grow(s.active, rows);
    grow(s.scores, 4 * kTileKeys + 16);
    grow(s.k_tile, kTileKeys * Dh);
    grow(s.v_tile, kTileKeys * Dh);
    grow(s.pv_sink, Dh);
    grow(s.k_pairs, kTileKeys * Dh / 2);
    grow(s.k_rows, kTileKeys);
    grow(s.v_rows, kTileKeys);
    grow(s.k_src, 2 * (kTileKeys + 16));
    grow(s.v_src, 2 * (kTileKeys + 16));
  }
}

}  // namespace attnreg::cpu_attn
