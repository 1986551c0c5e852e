// What a decode CTA serves and where its result goes, shared by the three
// decode kernels (decode_simt.cuh, decode_mma.cuh, decode_tma.cuh); included
// by decode.cu only.
#pragma once

#include "common.cuh"

namespace attnreg::flash_attn {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;

/// What one decode CTA serves: blockIdx = (split, KV head x head chunk,
/// request x query token), resolved against the request's metadata.
struct DecodeRow {
  int split;      ///< split of the visible key range
  int kvh;        ///< KV head
  int h0, nh;     ///< first query head and how many (<= HP) this CTA serves
  int r;          ///< request
  int token;      ///< query token (row of q / out)
  int lo, hi;     ///< this split's keys [lo, hi), tile-aligned from the range start
  int num_tiles;  ///< kTile-key tiles in [lo, hi)
};

/// The KV head this CTA serves: blockIdx.y counts head chunks of at most HP
/// query heads within each KV head's group. Needs no metadata, so a kernel
/// may use it before the request's metadata arrives.
template <int HP>
__device__ __forceinline__ int decode_kv_head(const KernelParams& p) {
  const int head_chunks = (p.num_heads / p.num_kv_heads + HP - 1) / HP;
  return blockIdx.y / head_chunks;
}

/// Fills w for this CTA; false when the CTA has nothing to do: its request is
/// served by the prefill kernel, its query token is past the request's query,
/// or the metadata is inconsistent (then the error flag gets bit 4; a query
/// longer than max_query_len sets bit 8). Splits cover whole tiles (the last
/// one may run short).
template <int HP, int kTile>
__device__ __forceinline__ bool decode_row(const KernelParams& p, int num_splits, int dq, DecodeRow& w) {
  w.split = blockIdx.x;
  const int group_size = p.num_heads / p.num_kv_heads;
  const int head_chunks = (group_size + HP - 1) / HP;
  w.kvh = decode_kv_head<HP>(p);
  w.h0 = w.kvh * group_size + (blockIdx.y % head_chunks) * HP;
  w.nh = min(HP, w.kvh * group_size + group_size - w.h0);
  w.r = blockIdx.z / dq;
  const int qi = blockIdx.z % dq;

  // The three metadata loads are issued together (seq_lens before the
  // branches that may not need it): each is a trip to DRAM at the kernel's
  // start, while no K/V copy is in flight yet.
  const int q_start = p.query_start_loc[w.r];
  const int q_end = p.query_start_loc[w.r + 1];
  const int seq_len = p.seq_lens[w.r];
  const int q_len = q_end - q_start;
  if (q_len > p.max_query_len && qi == 0 && w.split == 0 && blockIdx.y == 0 && threadIdx.x == 0)
    atomicOr(p.error_flag, 8);  // max_query_len was smaller than this request's query length
  if (q_len > kDecodeMaxQueryLen || qi >= q_len) return false;  // not a decode row of this CTA
  if (seq_len < q_len || q_start < 0 || q_start + q_len > p.num_tokens) {
    if (w.split == 0 && blockIdx.y == 0 && threadIdx.x == 0) atomicOr(p.error_flag, 4);
    return false;
  }
  w.token = q_start + qi;
  const KeyRange range = key_range(seq_len - q_len + qi, seq_len, p.causal, p.window);
  const int span = range.hi - range.lo;
  const int per_split = ((span + num_splits - 1) / num_splits + kTile - 1) / kTile * kTile;
  w.lo = range.lo + w.split * per_split;
  w.hi = min(range.hi, w.lo + per_split);
  w.num_tiles = w.hi > w.lo ? (w.hi - w.lo + kTile - 1) / kTile : 0;
  return true;
}

/// Element d of a decode CTA's result for (token, head), unnormalised
/// accumulator a with running max mx and sum: the output itself with one
/// split, else this split's partial for merge_kernel (the accumulator, and the
/// row's (max, sum) once, at d == 0).
template <class T, int D>
__device__ __forceinline__ void store_decode_result(const KernelParams& p, int num_splits, int split,
                                                    int token, int head, int d, float mx, float sum,
                                                    float a) {
  if (num_splits == 1) {
    write_normalised<T>(p, token, head, d, mx, sum, a);
    return;
  }
  const long long row = static_cast<long long>(token) * p.num_heads + head;
  const long long slot = static_cast<long long>(split) * p.num_tokens * p.num_heads + row;
  p.scratch[slot * D + d] = a;
  if (d == 0) {
    float2* ml = reinterpret_cast<float2*>(p.scratch + static_cast<long long>(num_splits) * p.num_tokens *
                                                           p.num_heads * D);
    ml[slot] = make_float2(mx, sum);
  }
}

}  // namespace
}  // namespace attnreg::flash_attn
