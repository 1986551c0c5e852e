// Internal interface between the FLASH_ATTN dispatcher and its decode /
// prefill kernels, plus the final normalisation both share.
#pragma once

#include "common.cuh"

namespace attnreg::flash_attn {

/// Most query heads of one KV head a decode CTA serves together.
inline constexpr int kHeadsPerCta = 8;

/// Most splits of one decode row (bound of the scheduler's choice).
inline constexpr int kMaxDecodeSplits = 64;

/// Query heads per decode CTA for a GQA group size: 4 for groups up to 4
/// (fewer registers, more CTAs per SM), else kHeadsPerCta.
inline int heads_per_cta(int group_size) { return group_size <= 4 ? 4 : kHeadsPerCta; }

/// Decode kernel (and split merge when plan.num_splits > 1) for requests with
/// query length <= kDecodeMaxQueryLen; dq = min(max_query_len, kDecodeMaxQueryLen).
int launch_decode(const KernelParams& p, const DecodePlan& plan, int dq);

/// How many decode CTAs for p's shape, with ring_stages-deep rings for a
/// 16-bit cache, fit on one SM at once (0 if unknown).
int decode_ctas_per_sm(const KernelParams& p, int ring_stages);

/// Largest shared memory (bytes, dynamic plus static) a decode kernel for
/// head_size uses, over dtypes, cache types and heads per CTA; 0 for other
/// head sizes.
int decode_shared_memory(int head_size);

/// Tensor-core prefill kernel for requests with query length > kDecodeMaxQueryLen.
int launch_prefill(const KernelParams& p);

/// Shared memory (bytes; all of it dynamic) of the prefill kernel for
/// head_size; 0 for other head sizes. (The Hopper kernel below uses more,
/// but runs only on compute capability 9.0, whose 227 KB it fits.)
int prefill_shared_memory(int head_size);

/// Launches the Hopper (sm_90a, wgmma) prefill kernel when it can serve p: a
/// 16-bit cache, head size 64 or 128, a compute capability 9.0 device and a
/// build with sm_90a code. Returns false (launching nothing) otherwise;
/// rc gets the launch's CUDA error code.
bool launch_prefill_sm90(const KernelParams& p, int& rc);

/// Opts the Hopper prefill kernels for head_size into their shared memory
/// when the current device runs them; 0 (ok) when it does not.
int prepare_prefill_sm90(int head_size);

/// Writes element d of output row (token, head) from an unnormalised
/// accumulator a with running max mx and sum, folding in the head's sink
/// logit when there is one. A row that saw no key (sum 0, no sink) gets 0;
/// a NaN sum (a NaN key in the cache) makes the row NaN, as in the reference.
template <class T>
__device__ __forceinline__ void write_normalised(const KernelParams& p, int token, int head, int d, float mx,
                                                 float sum, float a) {
  if (p.sinks != nullptr) {
    const float sink = p.sinks[head];
    const float m_tot = fmaxf(mx, sink);
    const float w = mx == -INFINITY ? 0.0f : __expf(mx - m_tot);
    sum = sum * w + __expf(sink - m_tot);
    a *= w;
  }
  const float o = sum != 0.0f ? a / sum : 0.0f;
  static_cast<T*>(p.out)[token * p.o_stride_t + head * p.o_stride_h + d] = from_float<T>(o);
}

}  // namespace attnreg::flash_attn
