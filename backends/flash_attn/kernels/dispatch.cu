// The single entry for a mixed batch and its scheduler. Which kernel serves a
// request depends on its query length, which lives on the device; so both
// kernels are launched over every request and each CTA returns at once when
// its request belongs to the other kernel (host-known bounds skip a launch
// that cannot have work: no prefill launch when max_query_len is small).
// The split-KV count is chosen from host-known sizes so the decode grid
// covers the SMs about twice, bounded by the preallocated scratch.
#include <cuda_runtime.h>

#include <algorithm>

#include "common.cuh"
#include "decode.cuh"

namespace attnreg::flash_attn {

namespace {
constexpr int kMinKeysPerSplit = 256;  // below this a split costs more in merging than it saves
constexpr int kWavesTarget = 2;
constexpr int kMaxSplits = 64;
}  // namespace

int choose_num_splits(const KernelParams& p) {
  const int dq = std::min(p.max_query_len, kDecodeMaxQueryLen);
  const int group_size = p.num_heads / p.num_kv_heads;
  const long long ctas = static_cast<long long>(p.num_reqs) * dq * p.num_kv_heads *
                         ((group_size + kHeadsPerCta - 1) / kHeadsPerCta);
  if (ctas <= 0) return 1;
  const long long target = static_cast<long long>(kWavesTarget) * p.num_sms;
  long long splits = (target + ctas - 1) / ctas;
  splits = std::min<long long>(splits, (p.max_seq_len + kMinKeysPerSplit - 1) / kMinKeysPerSplit);
  splits = std::min<long long>(splits, kMaxSplits);
  const long long per_split = static_cast<long long>(p.num_tokens) * p.num_heads * (p.head_size + 2);
  if (per_split > 0) splits = std::min<long long>(splits, p.scratch_floats / per_split);
  return static_cast<int>(std::max<long long>(splits, 1));
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
