// The work plan of CPU_ATTN's forward (kernels/work_plan.hpp) on random
// batches: whatever it splits, every query token of every request must see
// its visible keys exactly once per KV head, split items must own disjoint
// partial rows and be merged once, and the threads must get every item once.
#include "kernels/work_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <tuple>
#include <vector>

namespace attnreg::cpu_attn {
namespace {

struct RandomBatch {
  std::vector<std::int32_t> query_start_loc{0}, seq_lens;
  KernelArgs args;
};

RandomBatch random_batch(std::mt19937& rng) {
  RandomBatch b;
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const int reqs = pick(1, 12);
  for (int r = 0; r < reqs; ++r) {
    const int qlen = pick(0, 2) == 0 ? pick(2, 300) : 1;  // a third prefill chunks, the rest decodes
    const int context = pick(0, 1) ? pick(0, 5000) : pick(0, 40);
    b.query_start_loc.push_back(b.query_start_loc.back() + qlen);
    b.seq_lens.push_back(context + qlen);
  }
  ForwardArgs& z = b.args.sizes;
  z.num_reqs = reqs;
  z.num_tokens = b.query_start_loc.back();
  z.num_kv_heads = pick(1, 8);
  z.num_heads = z.num_kv_heads * pick(1, 8);
  z.head_size = 32 * pick(1, 8);
  z.causal = pick(0, 3) != 0;
  b.args.sliding_window = pick(0, 2) == 0 ? pick(1, 700) : 0;
  b.args.query_start_loc = b.query_start_loc.data();
  b.args.seq_lens = b.seq_lens.data();
  return b;
}

/// Keys [lo, hi) that query tokens at positions first..last see together.
std::pair<int, int> visible_keys(const KernelArgs& a, int seq, int first, int last) {
  const int w = a.sliding_window;
  const int lo = w > 0 ? std::max(0, first - w + 1) : 0;
  const int hi = a.sizes.causal ? last + 1 : (w > 0 ? std::min(seq, last + w) : seq);
  return {lo, std::max(lo, hi)};
}

TEST(WorkPlan, EveryTokenSeesItsKeysOnceAndSplitsMergeOnce) {
  std::mt19937 rng(20261207);
  Workspace ws;  // reused across batches, as an impl reuses it across calls
  for (int trial = 0; trial < 400; ++trial) {
    RandomBatch b = random_batch(rng);
    const KernelArgs& a = b.args;
    const int threads = std::uniform_int_distribution<int>(1, 8)(rng);
    plan_work(a, ws, threads);
    size_scratch(a, ws, threads);
    SCOPED_TRACE(testing::Message() << "trial " << trial << ", " << a.sizes.num_reqs << " requests, "
                                    << threads << " threads");
    const auto n = static_cast<int>(ws.items.size());

    std::vector<std::int32_t> order(ws.order);
    std::sort(order.begin(), order.end());
    for (int i = 0; i < n; ++i) ASSERT_EQ(order[i], i) << "order is not a permutation of the items";

    // Key ranges per (request, KV head or -1, first token): appended in plan order.
    std::map<std::tuple<int, int, int>, std::vector<const WorkItem*>> groups;
    for (const WorkItem& it : ws.items) groups[{it.req, it.kv_head, it.token_begin}].push_back(&it);

    // Every token of every request, per KV head, in exactly one group whose splits tile its keys.
    const int hkv = static_cast<int>(a.sizes.num_kv_heads);
    const int group_heads = static_cast<int>(a.sizes.num_heads) / hkv;
    std::vector<int> token_cover(static_cast<std::size_t>(a.sizes.num_tokens) * hkv, 0);
    std::int64_t partial_floats = 0;
    for (const auto& [key, items] : groups) {
      const auto [req, kv_head, token_begin] = key;
      const WorkItem& first = *items.front();
      const int begin = b.query_start_loc[req], qlen = b.query_start_loc[req + 1] - begin;
      const int seq = b.seq_lens[req];
      ASSERT_GE(first.token_begin, begin);
      ASSERT_LE(first.token_begin + first.num_tokens, begin + qlen);
      ASSERT_EQ(first.first_pos, seq - qlen + (first.token_begin - begin));
      if (kv_head < 0) {
        ASSERT_EQ(qlen, 1) << "a decode item for a prefill request";
      }
      for (int t = 0; t < first.num_tokens; ++t)
        for (int g = kv_head < 0 ? 0 : kv_head; g < (kv_head < 0 ? hkv : kv_head + 1); ++g)
          ++token_cover[static_cast<std::size_t>(first.token_begin + t) * hkv + g];
      const auto [lo, hi] = visible_keys(a, seq, first.first_pos, first.first_pos + first.num_tokens - 1);
      int next_key = lo;
      for (const WorkItem* it : items) {
        ASSERT_EQ(it->num_tokens, first.num_tokens);
        ASSERT_EQ(it->num_splits, static_cast<int>(items.size()));
        ASSERT_EQ(it->key_begin, next_key) << "split ranges leave a gap or overlap";
        ASSERT_EQ((it->key_begin - lo) % kTileKeys, 0) << "a split starts inside a tile";
        ASSERT_TRUE(it->key_end > it->key_begin || (items.size() == 1 && lo == hi));
        next_key = it->key_end;
        const int rows = first.num_tokens * (kv_head < 0 ? static_cast<int>(a.sizes.num_heads) : group_heads);
        if (items.size() == 1) {
          ASSERT_EQ(it->partial_offset, -1);
        } else {
          // Plan order hands out partial rows contiguously: disjoint and inside the buffer.
          ASSERT_EQ(it->partial_offset, partial_floats);
          partial_floats += static_cast<std::int64_t>(rows) * (a.sizes.head_size + 2);
        }
      }
      ASSERT_EQ(next_key, hi) << "the splits do not end at the last visible key";
    }
    for (std::size_t i = 0; i < token_cover.size(); ++i)
      ASSERT_EQ(token_cover[i], 1) << "token " << i / hkv << ", KV head " << i % hkv;
    ASSERT_LE(partial_floats, static_cast<std::int64_t>(ws.partials.size()));

    // One merge per split group, pointing at its first item.
    int split_groups = 0;
    for (const auto& [key, items] : groups) split_groups += items.size() > 1;
    ASSERT_EQ(static_cast<int>(ws.merge_groups.size()), split_groups);
    for (std::int32_t g : ws.merge_groups) {
      const WorkItem& it = ws.items[g];
      ASSERT_GT(it.num_splits, 1);
      ASSERT_EQ(groups.at({it.req, it.kv_head, it.token_begin}).front(), &it);
    }

    // Each thread's scratch holds an item's rows: a decode item's are all heads.
    ASSERT_GE(static_cast<int>(ws.threads.size()), threads);
    const auto row_floats = static_cast<std::size_t>(a.sizes.num_heads * a.sizes.head_size);
    for (int t = 0; t < threads; ++t) {
      ASSERT_GE(ws.threads[t].q.size(), row_floats);
      ASSERT_GE(ws.threads[t].acc.size(), row_floats);
    }
  }
}

TEST(WorkPlan, ALoneLongDecodeIsSplitForEveryThread) {
  // Batch of one: the planner splits its keys so both threads (and more) get work.
  std::vector<std::int32_t> qsl{0, 1}, seq{32768};
  KernelArgs a;
  a.sizes.num_reqs = 1;
  a.sizes.num_tokens = 1;
  a.sizes.num_heads = 32;
  a.sizes.num_kv_heads = 8;
  a.sizes.head_size = 128;
  a.query_start_loc = qsl.data();
  a.seq_lens = seq.data();
  Workspace ws;
  for (int threads : {1, 2, 8}) {
    plan_work(a, ws, threads);
    EXPECT_EQ(static_cast<int>(ws.items.size()), kDecodeItemsPerThread * threads) << threads << " threads";
    EXPECT_EQ(ws.merge_groups.size(), 1u);
  }
}

}  // namespace
}  // namespace attnreg::cpu_attn
