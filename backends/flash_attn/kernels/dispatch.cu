// The single entry for a mixed batch and its scheduler. Which kernel serves a
// request depends on its query length, which lives on the device; so both
// kernels are launched over every request and each CTA returns at once when
// its request belongs to the other kernel (host-known bounds skip a launch
// that cannot have work: no prefill launch when max_query_len is small).
// The split-KV count is chosen from host-known sizes and the decode kernel's
// occupancy so the last wave of CTAs is as full as possible (small batches
// get many splits, large ones few), bounded by the preallocated scratch.
#include <cuda_runtime.h>

#include <algorithm>

#include "common.cuh"
#include "decode.cuh"

namespace attnreg::flash_attn {

namespace {
constexpr int kMinKeysPerSplit = 256;  // below this a split costs more in merging than it saves
constexpr int kMaxSplits = kMaxDecodeSplits;
}  // namespace

int choose_num_splits(const KernelParams& p) {
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
  // Resident CTA slots of the whole GPU; the split count that wastes the
  // least of the last wave wins, fewer splits preferred unless clearly better.
  const long long slots = static_cast<long long>(std::max(1, decode_ctas_per_sm(p))) * p.num_sms;
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

int shared_memory_per_cta(int head_size) {
  return std::max(decode_shared_memory(head_size), prefill_shared_memory(head_size));
}

int launch_attention(const KernelParams& p) {
  if (p.num_tokens == 0 || p.num_reqs == 0) return 0;
  const int dq = std::min(p.max_query_len, kDecodeMaxQueryLen);
  if (dq > 0) {
    const int rc = launch_decode(p, choose_num_splits(p), dq);
    if (rc != 0) return rc;
  }
  if (p.max_query_len > kDecodeMaxQueryLen) return launch_prefill(p);
  return 0;
}

}  // namespace attnreg::flash_attn
