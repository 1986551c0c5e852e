// The single entry for a mixed batch and its scheduler. Which kernel serves a
// request depends on its query length, which lives on the device; so both
// kernels are launched over every request and each CTA returns at once when
// its request belongs to the other kernel (host-known bounds skip a launch
// that cannot have work: no prefill launch when max_query_len is small).
// The split-KV count is chosen from host-known sizes and the decode kernel's
// occupancy so the last wave of CTAs is as full as possible (small batches
// get many splits, large ones few), bounded by the preallocated scratch; long
// splits get the decode kernel with shallower rings and more CTAs per SM.
#include <cuda_runtime.h>

#include <algorithm>

#include "common.cuh"
#include "decode.cuh"
#include "env_switch.hpp"

namespace attnreg::flash_attn {

namespace {
// Below this many keys a split costs more in merging than it saves. (256
// suited the earlier decode kernels; with each warp streaming its own
// 16-key groups, 128 lets a single request spread over twice the SMs: B1 L1k
// 0.27 -> 0.33 TB/s on the H100, decode step 15 of docs/notes/flash_attn.md.)
constexpr int kMinKeysPerSplit = 128;
constexpr int kMaxSplits = kMaxDecodeSplits;
// The 2-stage rings (3 CTAs, 12 warps per SM instead of 2 and 8, and fewer
// bytes in flight per warp) serve a batch when their plan's splits are at
// least kShallowRingMinKeys long: +0.5-3% on splits of 2.7k-22k keys, though
// it may add a split merge the 3-stage plan does not need; or at least
// kShallowRingMinKeysSplit long when the 3-stage plan splits (and merges)
// anyway: +3.5% at B8 L4k (683-key splits). Shorter splits lose more to the
// shallower ring's ramp: -5% at B256 L1k's 512 keys, -15% at B1 L1k's 128,
// and 819-key splits that the 3-stage plan does not need cost 2.6% at B256
// L4k (decode steps 15 and 18 of docs/notes/flash_attn.md).
constexpr int kShallowRingMinKeys = 2048;
constexpr int kShallowRingMinKeysSplit = 640;

// The Hopper decode kernel, whose rings the copy engine fills, is 0.7-2.6%
// faster than the cp.async kernel on 11 of the 15 points of the decode sweep
// on the H100, level on two, but 1.2-3.9% slower on single-request batches,
// whose rows split 8-32 ways into short CTAs that start together (decode
// step 26 of docs/notes/flash_attn.md). Rows split more ways than this take
// the cp.async kernel.
constexpr int kCopyEngineMaxSplits = 6;

/// ATTNREG_FLASH_ATTN_DECODE_RING_STAGES=2 or 3 pins the ring depth (read
/// once; for tests of both kernels and A/B measurements); 0 when unset.
int forced_ring_stages() {
  static const int forced = std::max(0, env_switch("ATTNREG_FLASH_ATTN_DECODE_RING_STAGES", "23"));
  return forced;
}

/// Split count for p's decode rows when ctas_per_sm of its CTAs fit an SM:
/// the one that wastes the least of the last wave, fewer splits preferred
/// unless clearly better, bounded by kMinKeysPerSplit and the scratch.
int choose_num_splits(const KernelParams& p, int ctas_per_sm) {
  const int dq = std::min(p.max_query_len, kDecodeMaxQueryLen);
  const int group_size = p.num_heads / p.num_kv_heads;
  const int hp = heads_per_cta(group_size);
  const long long ctas =
      static_cast<long long>(p.num_reqs) * dq * p.num_kv_heads * ((group_size + hp - 1) / hp);
  if (ctas <= 0) return 1;
  long long max_splits = (p.max_seq_len + kMinKeysPerSplit - 1) / kMinKeysPerSplit;
  max_splits = std::min<long long>(max_splits, kMaxSplits);
  const long long per_split = static_cast<long long>(p.num_tokens) * p.num_heads * (p.head_size + 2);
  if (per_split > 0) max_splits = std::min<long long>(max_splits, p.scratch_floats / per_split);
  const long long slots = static_cast<long long>(std::max(1, ctas_per_sm)) * p.num_sms;
  // Every split of every row fits one wave: more splits only shorten each
  // CTA's key range. (The wave-fill rule below prefers fewer splits by its
  // 0.05 margin and gave the fp8 kernel, 3 CTAs per SM, 6 splits at B1 L1k.)
  if (ctas * max_splits <= slots) return static_cast<int>(max_splits);
  long long best = 1;
  double best_eff = 0.0;
  for (long long s = 1; s <= max_splits; ++s) {
    const long long total = ctas * s;
    const long long waves = (total + slots - 1) / slots;
    const double eff = static_cast<double>(total) / static_cast<double>(waves * slots);
    if (eff > best_eff + 0.05) {
      best = s;
      best_eff = eff;
    }
  }
  return static_cast<int>(best);
}
}  // namespace

DecodePlan plan_decode(const KernelParams& p) {
  auto plan_with = [&](int stages) {
    const int splits = choose_num_splits(p, decode_ctas_per_sm(p, stages));
    return DecodePlan{splits, stages, splits <= kCopyEngineMaxSplits};
  };
  if (const int forced = forced_ring_stages(); forced != 0) return plan_with(forced);
  const DecodePlan deep = plan_with(3);
  // fp8 caches keep the 3-stage rings: the thresholds below were measured on
  // 16-bit rows, and the CUDA-core fp8 kernel has that one shape.
  if (p.cache_fp8) return deep;
  const DecodePlan shallow = plan_with(2);
  const int shallow_keys = p.max_seq_len / shallow.num_splits;
  if (shallow_keys >= kShallowRingMinKeys ||
      (deep.num_splits > 1 && shallow_keys >= kShallowRingMinKeysSplit))
    return shallow;
  return deep;
}

int shared_memory_per_cta(int head_size) {
  return std::max(decode_shared_memory(head_size), prefill_shared_memory(head_size));
}

int launch_attention(const KernelParams& p) {
  if (p.num_tokens == 0 || p.num_reqs == 0) return 0;
  const int dq = std::min(p.max_query_len, kDecodeMaxQueryLen);
  if (dq > 0) {
    const int rc = launch_decode(p, plan_decode(p), dq);
    if (rc != 0) return rc;
  }
  if (p.max_query_len > kDecodeMaxQueryLen) return launch_prefill(p);
  return 0;
}

}  // namespace attnreg::flash_attn
