// Split-KV decode kernel: one CTA serves one query token of a request, up to
// kHeadsPerCta query heads that share one KV head (GQA packing: each K/V row
// is read once for all of them), and one split of the request's visible key
// range. Threads form groups of kThreadsPerKey lanes, each lane holding eight
// elements of a K/V row (16-byte loads, 8-byte for fp8); groups walk the keys
// with an online softmax, then combine through shared memory. With one split
// the CTA writes the output; with several it writes (acc, max, sum) partials
// that merge_splits() combines with a log-sum-exp merge.
#include <cuda_runtime.h>

#include "common.cuh"
#include "decode.cuh"

namespace attnreg::flash_attn {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kUnroll = 2;  // keys in flight per group per step

__host__ __device__ constexpr int threads_per_key(int d) { return d / 8 <= 8 ? 8 : (d / 8 <= 16 ? 16 : 32); }

template <class T, bool kFp8, int D>
__global__ void __launch_bounds__(kThreads) decode_kernel(KernelParams p, int num_splits, int dq) {
  using C = CacheElem<T, kFp8>;
  constexpr int kTpk = threads_per_key(D);
  constexpr int kChunks = D / 8;
  constexpr int kGroupsPerWarp = 32 / kTpk;
  constexpr int kGroups = kWarps * kGroupsPerWarp;
  __shared__ float s_acc[kGroups][kHeadsPerCta][D];
  __shared__ float2 s_ml[kGroups][kHeadsPerCta];

  const int split = blockIdx.x;
  const int group_size = p.num_heads / p.num_kv_heads;
  const int head_chunks = (group_size + kHeadsPerCta - 1) / kHeadsPerCta;
  const int kvh = blockIdx.y / head_chunks;
  const int h0 = kvh * group_size + (blockIdx.y % head_chunks) * kHeadsPerCta;
  const int nh = min(kHeadsPerCta, kvh * group_size + group_size - h0);
  const int r = blockIdx.z / dq;
  const int qi = blockIdx.z % dq;

  const int q_start = p.query_start_loc[r];
  const int q_len = p.query_start_loc[r + 1] - q_start;
  if (q_len <= kDecodeMaxQueryLen && q_len > dq && qi == 0 && split == 0 && blockIdx.y == 0 &&
      threadIdx.x == 0)
    atomicOr(p.error_flag, 8);  // max_query_len was smaller than this request's query length
  if (q_len > kDecodeMaxQueryLen || qi >= q_len) return;  // not a decode row of this CTA
  const int seq_len = p.seq_lens[r];
  if (seq_len < q_len || q_start < 0 || q_start + q_len > p.num_tokens) {
    if (split == 0 && threadIdx.x == 0) atomicOr(p.error_flag, 4);
    return;
  }
  const int token = q_start + qi;
  const KeyRange range = key_range(seq_len - q_len + qi, seq_len, p.causal, p.window);
  const int span = range.hi - range.lo;
  const int per_split = (span + num_splits - 1) / num_splits;
  const int lo = range.lo + split * per_split;
  const int hi = min(range.hi, lo + per_split);

  const int lane = threadIdx.x % 32;
  const int c = lane % kTpk;  // which eight elements of a row this lane holds
  const bool lane_active = c < kChunks;
  const int group = (threadIdx.x / 32) * kGroupsPerWarp + lane / kTpk;

  float q[kHeadsPerCta][8];
#pragma unroll
  for (int h = 0; h < kHeadsPerCta; ++h) {
#pragma unroll
    for (int e = 0; e < 8; ++e) q[h][e] = 0.0f;
    if (h < nh && lane_active) {
      load8(static_cast<const T*>(p.q) + token * p.q_stride_t + (h0 + h) * p.q_stride_h + c * 8, q[h]);
#pragma unroll
      for (int e = 0; e < 8; ++e) q[h][e] *= p.scale;
    }
  }
  float m[kHeadsPerCta], l[kHeadsPerCta], acc[kHeadsPerCta][8];
#pragma unroll
  for (int h = 0; h < kHeadsPerCta; ++h) {
    m[h] = -INFINITY;
    l[h] = 0.0f;
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[h][e] = 0.0f;
  }

  const int* bt_row = p.block_table + r * p.bt_stride;
  const C* kbase = static_cast<const C*>(p.k_cache) + (kvh * D + c * 8);
  const C* vbase = static_cast<const C*>(p.v_cache) + (kvh * D + c * 8);
  const long long row_stride = static_cast<long long>(p.num_kv_heads) * D;

  // Every lane of a warp runs the same number of steps so the shuffles below
  // always see the whole warp; keys past hi are loaded as nothing and masked.
  for (int jb = lo; jb < hi; jb += kGroups * kUnroll) {
    float kf[kUnroll][8], vf[kUnroll][8];
    bool valid[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int j = jb + group + u * kGroups;
      valid[u] = false;
      if (j < hi) {
        const int pb = physical_block(p, bt_row, j / p.block_size);
        valid[u] = pb >= 0;
        if (valid[u] && lane_active) {
          const long long off = pb * p.cache_stride_block + (j % p.block_size) * row_stride;
          load8_cache<T, kFp8>(kbase + off, p.k_scale, kf[u]);
          load8_cache<T, kFp8>(vbase + off, p.v_scale, vf[u]);
        }
      }
      if (!(valid[u] && lane_active)) {
#pragma unroll
        for (int e = 0; e < 8; ++e) kf[u][e] = vf[u][e] = 0.0f;
      }
    }
#pragma unroll
    for (int h = 0; h < kHeadsPerCta; ++h) {
      if (h >= nh) break;
      float s[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        float d = 0.0f;
#pragma unroll
        for (int e = 0; e < 8; ++e) d = fmaf(q[h][e], kf[u][e], d);
#pragma unroll
        for (int o = kTpk / 2; o > 0; o /= 2) d += __shfl_xor_sync(0xffffffffu, d, o);
        s[u] = valid[u] ? soft_cap(d, p.softcap) : -INFINITY;
      }
      float m_new = m[h];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) m_new = fmaxf(m_new, s[u]);
      if (m_new == -INFINITY) continue;  // nothing visible yet in this group
      const float corr = __expf(m[h] - m_new);
      l[h] *= corr;
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[h][e] *= corr;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const float pu = __expf(s[u] - m_new);
        l[h] += pu;
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[h][e] = fmaf(pu, vf[u][e], acc[h][e]);
      }
      m[h] = m_new;
    }
  }

#pragma unroll
  for (int h = 0; h < kHeadsPerCta; ++h) {
    if (h < nh) {
      if (lane_active) {
#pragma unroll
        for (int e = 0; e < 8; ++e) s_acc[group][h][c * 8 + e] = acc[h][e];
      }
      if (c == 0) s_ml[group][h] = make_float2(m[h], l[h]);
    }
  }
  __syncthreads();

  for (int idx = threadIdx.x; idx < nh * D; idx += kThreads) {
    const int h = idx / D;
    const int d = idx % D;
    float mx = -INFINITY;
    for (int g = 0; g < kGroups; ++g) mx = fmaxf(mx, s_ml[g][h].x);
    float sum = 0.0f, a = 0.0f;
    if (mx != -INFINITY) {
      for (int g = 0; g < kGroups; ++g) {
        const float w = __expf(s_ml[g][h].x - mx);
        sum += s_ml[g][h].y * w;
        a += s_acc[g][h][d] * w;
      }
    }
    const long long row = static_cast<long long>(token) * p.num_heads + h0 + h;
    if (num_splits == 1) {
      write_normalised<T>(p, token, h0 + h, d, mx, sum, a);
    } else {
      const long long slot = static_cast<long long>(split) * p.num_tokens * p.num_heads + row;
      p.scratch[slot * D + d] = a;
      if (d == 0) {
        float2* ml = reinterpret_cast<float2*>(p.scratch + static_cast<long long>(num_splits) * p.num_tokens *
                                                               p.num_heads * D);
        ml[slot] = make_float2(mx, sum);
      }
    }
  }
}

/// Combines the split partials of every decode row (log-sum-exp merge).
template <class T, int D>
__global__ void merge_kernel(KernelParams p, int num_splits, int dq) {
  const int r = blockIdx.x / dq;
  const int qi = blockIdx.x % dq;
  const int h = blockIdx.y;
  const int q_start = p.query_start_loc[r];
  const int q_len = p.query_start_loc[r + 1] - q_start;
  if (q_len > kDecodeMaxQueryLen || qi >= q_len) return;
  if (p.seq_lens[r] < q_len || q_start < 0 || q_start + q_len > p.num_tokens) return;
  const int token = q_start + qi;
  const long long row = static_cast<long long>(token) * p.num_heads + h;
  const long long split_stride = static_cast<long long>(p.num_tokens) * p.num_heads;
  const float2* ml = reinterpret_cast<const float2*>(p.scratch + num_splits * split_stride * D);
  float mx = -INFINITY;
  for (int s = 0; s < num_splits; ++s) mx = fmaxf(mx, ml[s * split_stride + row].x);
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float sum = 0.0f, a = 0.0f;
    if (mx != -INFINITY) {
      for (int s = 0; s < num_splits; ++s) {
        const float2 v = ml[s * split_stride + row];
        const float w = __expf(v.x - mx);
        sum += v.y * w;
        a += p.scratch[(s * split_stride + row) * D + d] * w;
      }
    }
    write_normalised<T>(p, token, h, d, mx, sum, a);
  }
}

template <class T, bool kFp8, int D>
int launch_decode_typed(const KernelParams& p, int num_splits, int dq) {
  const int group_size = p.num_heads / p.num_kv_heads;
  const int head_chunks = (group_size + kHeadsPerCta - 1) / kHeadsPerCta;
  const dim3 grid(num_splits, p.num_kv_heads * head_chunks, p.num_reqs * dq);
  auto s = static_cast<cudaStream_t>(p.stream);
  decode_kernel<T, kFp8, D><<<grid, kThreads, 0, s>>>(p, num_splits, dq);
  if (num_splits > 1) {
    merge_kernel<T, D><<<dim3(p.num_reqs * dq, p.num_heads), D, 0, s>>>(p, num_splits, dq);
  }
  return static_cast<int>(cudaGetLastError());
}

template <class T, bool kFp8>
int launch_decode_d(const KernelParams& p, int num_splits, int dq) {
  switch (p.head_size) {
    case 64:
      return launch_decode_typed<T, kFp8, 64>(p, num_splits, dq);
    case 96:
      return launch_decode_typed<T, kFp8, 96>(p, num_splits, dq);
    case 128:
      return launch_decode_typed<T, kFp8, 128>(p, num_splits, dq);
    case 256:
      return launch_decode_typed<T, kFp8, 256>(p, num_splits, dq);
    default:
      return static_cast<int>(cudaErrorInvalidValue);
  }
}

}  // namespace

int launch_decode(const KernelParams& p, int num_splits, int dq) {
  if (p.dtype == Dtype::BFloat16) {
    return p.cache_fp8 ? launch_decode_d<__nv_bfloat16, true>(p, num_splits, dq)
                       : launch_decode_d<__nv_bfloat16, false>(p, num_splits, dq);
  }
  return p.cache_fp8 ? launch_decode_d<__half, true>(p, num_splits, dq)
                     : launch_decode_d<__half, false>(p, num_splits, dq);
}

}  // namespace attnreg::flash_attn
