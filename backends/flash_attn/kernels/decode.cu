// Split-KV decode kernel: one CTA serves one query token of a request, up to
// heads_per_cta() query heads that share one KV head (GQA packing: each K/V row
// is read once for all of them), and one split of the request's visible key
// range, in tiles of kTile keys:
//   1. scores: each thread owns one key of the tile and reads its whole K row
//      (all loads issued before the first use, so a CTA keeps kTile full rows
//      in flight), dotting it with the query heads held in shared memory;
//   2. softmax: one warp per head updates the running max and sum;
//   3. values: threads own (8-element chunk, key group) pairs and accumulate
//      p * V with 16-byte loads (8-byte for fp8), issued at the start of the
//      tile together with the K loads.
// Partial accumulators of the key groups are combined at the end. With one
// split the CTA writes the output; with several it writes (acc, max, sum)
// partials that merge_kernel combines with a log-sum-exp merge.
#include <cuda_runtime.h>

#include "common.cuh"
#include "decode.cuh"

namespace attnreg::flash_attn {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kTile = kThreads;  // keys per tile: one per thread in the score phase

/// Raw storage of eight cache elements: 16 bytes, or 8 for fp8.
template <bool kFp8>
using Raw8 = std::conditional_t<kFp8, uint2, uint4>;

template <class T, bool kFp8>
__device__ __forceinline__ void unpack8(const Raw8<kFp8>& raw, float scale, float (&dst)[8]) {
  if constexpr (kFp8) {
    const __nv_fp8_e4m3* e = reinterpret_cast<const __nv_fp8_e4m3*>(&raw);
#pragma unroll
    for (int i = 0; i < 8; ++i) dst[i] = float(e[i]) * scale;
  } else {
    const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int i = 0; i < 8; ++i) dst[i] = to_float(e[i]);
  }
}

template <class T, bool kFp8, int D, int HP>
__global__ void __launch_bounds__(kThreads, (D <= 128 && HP == 4) ? 3 : 1)
    decode_kernel(KernelParams p, int num_splits, int dq) {
  using C = CacheElem<T, kFp8>;
  using Raw = Raw8<kFp8>;
  constexpr int kChunks = D / 8;
  constexpr int kKeyGroups = kThreads / kChunks;  // value phase: threads per chunk column
  constexpr int kKeysPerGroup = (kTile + kKeyGroups - 1) / kKeyGroups;  // the last group may run short
  constexpr int kPiece = D <= 128 ? kChunks : 16;  // K chunks loaded together in the score phase
  __shared__ __align__(16) float s_q[HP][D];
  __shared__ float s_p[HP][kTile];
  __shared__ float s_m[HP], s_l[HP], s_corr[HP];
  __shared__ float s_acc[kKeyGroups][HP][D];

  const int split = blockIdx.x;
  const int group_size = p.num_heads / p.num_kv_heads;
  const int head_chunks = (group_size + HP - 1) / HP;
  const int kvh = blockIdx.y / head_chunks;
  const int h0 = kvh * group_size + (blockIdx.y % head_chunks) * HP;
  const int nh = min(HP, kvh * group_size + group_size - h0);
  const int r = blockIdx.z / dq;
  const int qi = blockIdx.z % dq;

  const int q_start = p.query_start_loc[r];
  const int q_len = p.query_start_loc[r + 1] - q_start;
  if (q_len > p.max_query_len && qi == 0 && split == 0 && blockIdx.y == 0 && threadIdx.x == 0)
    atomicOr(p.error_flag, 8);  // max_query_len was smaller than this request's query length
  if (q_len > kDecodeMaxQueryLen || qi >= q_len) return;  // not a decode row of this CTA
  const int seq_len = p.seq_lens[r];
  if (seq_len < q_len || q_start < 0 || q_start + q_len > p.num_tokens) {
    if (split == 0 && blockIdx.y == 0 && threadIdx.x == 0) atomicOr(p.error_flag, 4);
    return;
  }
  const int token = q_start + qi;
  const KeyRange range = key_range(seq_len - q_len + qi, seq_len, p.causal, p.window);
  const int span = range.hi - range.lo;
  const int per_split = (span + num_splits - 1) / num_splits;
  const int lo = range.lo + split * per_split;
  const int hi = min(range.hi, lo + per_split);

  for (int i = threadIdx.x; i < nh * kChunks; i += kThreads) {
    const int h = i / kChunks, c = i % kChunks;
    float f[8];
    load8(static_cast<const T*>(p.q) + token * p.q_stride_t + (h0 + h) * p.q_stride_h + c * 8, f);
#pragma unroll
    for (int e = 0; e < 8; ++e) s_q[h][c * 8 + e] = f[e] * p.scale;
  }
  if (threadIdx.x < HP) {
    s_m[threadIdx.x] = -INFINITY;
    s_l[threadIdx.x] = 0.0f;
  }

  const int vc = threadIdx.x % kChunks;  // value phase: chunk column
  const int vg = threadIdx.x / kChunks;  // value phase: key group (>= kKeyGroups: idle)
  float acc[HP][8];
#pragma unroll
  for (int h = 0; h < HP; ++h)
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[h][e] = 0.0f;

  const int* bt_row = p.block_table + r * p.bt_stride;
  const C* kbase = static_cast<const C*>(p.k_cache) + kvh * D;
  const C* vbase = static_cast<const C*>(p.v_cache) + kvh * D;
  const long long row_stride = static_cast<long long>(p.num_kv_heads) * D;

  for (int t0 = lo; t0 < hi; t0 += kTile) {
    // ---- scores: thread = key ----
    const int j = t0 + threadIdx.x;
    long long off = -1;
    if (j < hi) {
      const int pb = physical_block(p, bt_row, j / p.block_size);
      if (pb >= 0) off = pb * p.cache_stride_block + (j % p.block_size) * row_stride;
    }
    // V rows of this thread's value-phase keys, loaded now so they are in
    // flight together with the K rows below.
    Raw vraw[kKeysPerGroup];
#pragma unroll
    for (int i = 0; i < kKeysPerGroup; ++i) {
      const int kk = vg * kKeysPerGroup + i;
      const int jj = t0 + kk;
      vraw[i] = Raw{};
      if (vg < kKeyGroups && kk < kTile && jj < hi) {
        const int pb = physical_block(p, bt_row, jj / p.block_size);
        if (pb >= 0)
          vraw[i] = *reinterpret_cast<const Raw*>(vbase + pb * p.cache_stride_block +
                                                  (jj % p.block_size) * row_stride + vc * 8);
      }
    }
    __syncthreads();  // s_q written (first tile); s_p of the previous tile consumed
    float dot[HP];
#pragma unroll
    for (int h = 0; h < HP; ++h) dot[h] = 0.0f;
    if (off >= 0) {
      const Raw* krow = reinterpret_cast<const Raw*>(kbase + off);
#pragma unroll
      for (int c0 = 0; c0 < kChunks; c0 += kPiece) {
        Raw raw[kPiece];
#pragma unroll
        for (int c = 0; c < kPiece; ++c) raw[c] = krow[c0 + c];
#pragma unroll
        for (int c = 0; c < kPiece; ++c) {
          float kf[8];
          unpack8<T, kFp8>(raw[c], p.k_scale, kf);
#pragma unroll
          for (int h = 0; h < HP; ++h) {
            if (h < nh) {
              const float4 qa = *reinterpret_cast<const float4*>(&s_q[h][(c0 + c) * 8]);
              const float4 qb = *reinterpret_cast<const float4*>(&s_q[h][(c0 + c) * 8 + 4]);
              dot[h] += qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3] + qb.x * kf[4] +
                        qb.y * kf[5] + qb.z * kf[6] + qb.w * kf[7];
            }
          }
        }
      }
    }
#pragma unroll
    for (int h = 0; h < HP; ++h)
      if (h < nh) s_p[h][threadIdx.x] = off >= 0 ? soft_cap(dot[h], p.softcap) : -INFINITY;
    __syncthreads();

    // ---- softmax: warp = head ----
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int h = warp; h < nh; h += kWarps) {
      float x[kTile / 32];
      float mx = -INFINITY;
#pragma unroll
      for (int i = 0; i < kTile / 32; ++i) {
        x[i] = s_p[h][lane + 32 * i];
        mx = fmaxf(mx, x[i]);
      }
#pragma unroll
      for (int o = 16; o > 0; o /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
      const float m_old = s_m[h];
      const float m_new = fmaxf(m_old, mx);
      float sum = 0.0f;
#pragma unroll
      for (int i = 0; i < kTile / 32; ++i) {
        const float e = m_new == -INFINITY ? 0.0f : __expf(x[i] - m_new);
        s_p[h][lane + 32 * i] = e;
        sum += e;
      }
#pragma unroll
      for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
      __syncwarp();
      if (lane == 0) {
        const float corr = m_new == -INFINITY ? 1.0f : __expf(m_old - m_new);
        s_corr[h] = corr;
        s_m[h] = m_new;
        s_l[h] = s_l[h] * corr + sum;
      }
    }
    __syncthreads();

    // ---- values: thread = (chunk, key group) ----
    if (vg < kKeyGroups) {
#pragma unroll
      for (int h = 0; h < HP; ++h) {
        const float corr = h < nh ? s_corr[h] : 1.0f;
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[h][e] *= corr;
      }
#pragma unroll
      for (int i = 0; i < kKeysPerGroup; ++i) {
        const int kk = vg * kKeysPerGroup + i;
        float vf[8];
        unpack8<T, kFp8>(vraw[i], p.v_scale, vf);
#pragma unroll
        for (int h = 0; h < HP; ++h) {
          if (h < nh) {
            const float pr = kk < kTile ? s_p[h][kk] : 0.0f;
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[h][e] = fmaf(pr, vf[e], acc[h][e]);
          }
        }
      }
    }
  }

  __syncthreads();
  if (vg < kKeyGroups) {
#pragma unroll
    for (int h = 0; h < HP; ++h)
      if (h < nh)
#pragma unroll
        for (int e = 0; e < 8; ++e) s_acc[vg][h][vc * 8 + e] = acc[h][e];
  }
  __syncthreads();

  for (int idx = threadIdx.x; idx < nh * D; idx += kThreads) {
    const int h = idx / D;
    const int d = idx % D;
    float a = 0.0f;
    for (int g = 0; g < kKeyGroups; ++g) a += s_acc[g][h][d];
    const float mx = s_m[h], sum = s_l[h];
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
  const int hp = heads_per_cta(group_size);
  const dim3 grid(num_splits, p.num_kv_heads * ((group_size + hp - 1) / hp), p.num_reqs * dq);
  auto s = static_cast<cudaStream_t>(p.stream);
  if (hp == 4) {
    decode_kernel<T, kFp8, D, 4><<<grid, kThreads, 0, s>>>(p, num_splits, dq);
  } else {
    decode_kernel<T, kFp8, D, kHeadsPerCta><<<grid, kThreads, 0, s>>>(p, num_splits, dq);
  }
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

template <class T, bool kFp8, int D>
int ctas_per_sm_typed(const KernelParams& p) {
  int n = 0;
  if (heads_per_cta(p.num_heads / p.num_kv_heads) == 4) {
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, decode_kernel<T, kFp8, D, 4>, kThreads, 0);
  } else {
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, decode_kernel<T, kFp8, D, kHeadsPerCta>, kThreads, 0);
  }
  return n;
}

template <class T, bool kFp8>
int ctas_per_sm_d(const KernelParams& p) {
  switch (p.head_size) {
    case 64:
      return ctas_per_sm_typed<T, kFp8, 64>(p);
    case 96:
      return ctas_per_sm_typed<T, kFp8, 96>(p);
    case 128:
      return ctas_per_sm_typed<T, kFp8, 128>(p);
    case 256:
      return ctas_per_sm_typed<T, kFp8, 256>(p);
    default:
      return 0;
  }
}

}  // namespace

int decode_ctas_per_sm(const KernelParams& p) {
  if (p.dtype == Dtype::BFloat16)
    return p.cache_fp8 ? ctas_per_sm_d<__nv_bfloat16, true>(p) : ctas_per_sm_d<__nv_bfloat16, false>(p);
  return p.cache_fp8 ? ctas_per_sm_d<__half, true>(p) : ctas_per_sm_d<__half, false>(p);
}

int launch_decode(const KernelParams& p, int num_splits, int dq) {
  if (p.dtype == Dtype::BFloat16) {
    return p.cache_fp8 ? launch_decode_d<__nv_bfloat16, true>(p, num_splits, dq)
                       : launch_decode_d<__nv_bfloat16, false>(p, num_splits, dq);
  }
  return p.cache_fp8 ? launch_decode_d<__half, true>(p, num_splits, dq)
                     : launch_decode_d<__half, false>(p, num_splits, dq);
}

}  // namespace attnreg::flash_attn
