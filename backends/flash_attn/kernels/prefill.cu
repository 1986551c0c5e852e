// Tensor-core prefill kernel (mma.sync m16n8k16, bf16/fp16 in, fp32
// accumulate; runs on sm_80 and sm_90). One CTA of four warps serves 64 query
// rows of one head of one request; each warp owns 16 rows. K/V tiles of 64
// keys are gathered from the paged cache into shared memory (fp8 rows are
// dequantised on the way), S = Q K^T and O += P V run on tensor cores with
// P kept in registers, and the softmax is the usual online one in the log2
// domain. Rows are padded by 8 elements so fragment loads are conflict-free.
#include <cuda_runtime.h>

#include "common.cuh"
#include "decode.cuh"

namespace attnreg::flash_attn {
namespace {

constexpr int kThreads = 128;
constexpr int kBM = 64;
constexpr int kBN = 64;
constexpr float kLog2e = 1.4426950408889634f;

template <class T>
__device__ __forceinline__ void mma16816(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                         std::uint32_t b1) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

__device__ __forceinline__ void ldmatrix_x4_trans(std::uint32_t (&r)[4], const void* smem) {
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

template <class T>
__device__ __forceinline__ std::uint32_t pack2(float lo, float hi) {
  T v[2] = {from_float<T>(lo), from_float<T>(hi)};
  return *reinterpret_cast<const std::uint32_t*>(v);
}

template <int D>
constexpr int smem_bytes() {
  return 3 * kBM * (D + 8) * 2 + kBN * static_cast<int>(sizeof(int));
}

/// Copies a 64-row tile of the K or V cache (gathered through the block
/// table) into shared memory as T; rows outside [0, seq_len) or in a block
/// the table cannot reach become zeros and are marked invalid.
template <class T, bool kFp8, int D>
__device__ void load_kv_tile(const KernelParams& p, const void* cache, float scale, const int* bt_row,
                             int kvh, int n0, int seq_len, T* dst, int* valid) {
  using C = CacheElem<T, kFp8>;
  constexpr int kChunks = D / 8;
  const long long row_stride = static_cast<long long>(p.num_kv_heads) * D;
  for (int i = threadIdx.x; i < kBN * kChunks; i += kThreads) {
    const int jj = i / kChunks;
    const int c = i % kChunks;
    const int j = n0 + jj;
    int pb = -1;
    if (j < seq_len) pb = physical_block(p, bt_row, j / p.block_size);
    if (c == 0 && valid != nullptr) valid[jj] = pb >= 0;
    uint4 out = make_uint4(0, 0, 0, 0);
    if (pb >= 0) {
      const C* src = static_cast<const C*>(cache) + pb * p.cache_stride_block +
                     (j % p.block_size) * row_stride + kvh * D + c * 8;
      if constexpr (kFp8) {
        float f[8];
        load8_fp8(src, scale, f);
        T* o = reinterpret_cast<T*>(&out);
#pragma unroll
        for (int e = 0; e < 8; ++e) o[e] = from_float<T>(f[e]);
      } else {
        out = *reinterpret_cast<const uint4*>(src);
      }
    }
    *reinterpret_cast<uint4*>(dst + jj * (D + 8) + c * 8) = out;
  }
}

template <class T, bool kFp8, int D>
__global__ void __launch_bounds__(kThreads) prefill_kernel(KernelParams p) {
  constexpr int kLd = D + 8;
  constexpr int kChunks = D / 8;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* qs = reinterpret_cast<T*>(smem_raw);
  T* ks = qs + kBM * kLd;
  T* vs = ks + kBN * kLd;
  int* kvalid = reinterpret_cast<int*>(vs + kBN * kLd);

  const int r = blockIdx.z;
  const int h = blockIdx.y;
  const int m0 = blockIdx.x * kBM;
  const int q_start = p.query_start_loc[r];
  const int q_len = p.query_start_loc[r + 1] - q_start;
  if (blockIdx.x == 0 && h == 0 && threadIdx.x == 0 && q_len > static_cast<int>(gridDim.x) * kBM)
    atomicOr(p.error_flag, 8);  // max_query_len was smaller than this request's query length
  if (q_len <= kDecodeMaxQueryLen || m0 >= q_len) return;  // decode rows, or past this request
  const int seq_len = p.seq_lens[r];
  if (seq_len < q_len || q_start < 0 || q_start + q_len > p.num_tokens) {
    if (m0 == 0 && h == 0 && threadIdx.x == 0) atomicOr(p.error_flag, 4);
    return;
  }
  const int ctx = seq_len - q_len;  // position of query row 0
  const int kvh = h / (p.num_heads / p.num_kv_heads);
  const int rows = min(kBM, q_len - m0);

  for (int i = threadIdx.x; i < kBM * kChunks; i += kThreads) {
    const int row = i / kChunks;
    const int c = i % kChunks;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (row < rows) {
      v = *reinterpret_cast<const uint4*>(static_cast<const T*>(p.q) + (q_start + m0 + row) * p.q_stride_t +
                                          h * p.q_stride_h + c * 8);
    }
    *reinterpret_cast<uint4*>(qs + row * kLd + c * 8) = v;
  }

  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int g = lane / 4;  // fragment row (and row + 8)
  const int t = lane % 4;  // fragment column pair
  const int row0 = m0 + warp * 16 + g;
  const int pos[2] = {ctx + row0, ctx + row0 + 8};
  const KeyRange kr[2] = {key_range(pos[0], seq_len, p.causal, p.window),
                          key_range(pos[1], seq_len, p.causal, p.window)};
  const KeyRange tile_range = {key_range(ctx + m0, seq_len, p.causal, p.window).lo,
                               key_range(ctx + m0 + rows - 1, seq_len, p.causal, p.window).hi};
  const float sl2 = p.scale * kLog2e;

  float o[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float mrow[2] = {-INFINITY, -INFINITY};
  float lrow[2] = {0.0f, 0.0f};
  const int* bt_row = p.block_table + r * p.bt_stride;

  for (int n0 = tile_range.lo / kBN * kBN; n0 < tile_range.hi; n0 += kBN) {
    __syncthreads();  // previous tile fully consumed (and Q stored, first time)
    load_kv_tile<T, kFp8, D>(p, p.k_cache, p.k_scale, bt_row, kvh, n0, tile_range.hi, ks, kvalid);
    load_kv_tile<T, kFp8, D>(p, p.v_cache, p.v_scale, bt_row, kvh, n0, tile_range.hi, vs, nullptr);
    __syncthreads();

    float s[kBN / 8][4];
#pragma unroll
    for (int nt = 0; nt < kBN / 8; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
    for (int k0 = 0; k0 < D; k0 += 16) {
      const T* qa = qs + (warp * 16 + g) * kLd + k0 + 2 * t;
      const std::uint32_t a[4] = {*reinterpret_cast<const std::uint32_t*>(qa),
                                  *reinterpret_cast<const std::uint32_t*>(qa + 8 * kLd),
                                  *reinterpret_cast<const std::uint32_t*>(qa + 8),
                                  *reinterpret_cast<const std::uint32_t*>(qa + 8 * kLd + 8)};
#pragma unroll
      for (int nt = 0; nt < kBN / 8; ++nt) {
        const T* kb = ks + (nt * 8 + g) * kLd + k0 + 2 * t;
        mma16816<T>(s[nt], a, *reinterpret_cast<const std::uint32_t*>(kb),
                    *reinterpret_cast<const std::uint32_t*>(kb + 8));
      }
    }

    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int nt = 0; nt < kBN / 8; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int jj = nt * 8 + 2 * t + (e & 1);
        const int j = n0 + jj;
        const int hr = e >> 1;
        const bool vis = j >= kr[hr].lo && j < kr[hr].hi && kvalid[jj];
        const float x = p.softcap > 0.0f ? soft_cap(s[nt][e] * p.scale, p.softcap) * kLog2e : s[nt][e] * sl2;
        s[nt][e] = vis ? x : -INFINITY;
        tile_max[hr] = fmaxf(tile_max[hr], s[nt][e]);
      }
    }
    float corr[2];
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      tile_max[hr] = fmaxf(tile_max[hr], __shfl_xor_sync(0xffffffffu, tile_max[hr], 1));
      tile_max[hr] = fmaxf(tile_max[hr], __shfl_xor_sync(0xffffffffu, tile_max[hr], 2));
      const float m_new = fmaxf(mrow[hr], tile_max[hr]);
      corr[hr] = m_new == -INFINITY ? 1.0f : exp2f(mrow[hr] - m_new);
      mrow[hr] = m_new;
      lrow[hr] *= corr[hr];
    }
#pragma unroll
    for (int nt = 0; nt < kBN / 8; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int hr = e >> 1;
        s[nt][e] = mrow[hr] == -INFINITY ? 0.0f : exp2f(s[nt][e] - mrow[hr]);
        lrow[hr] += s[nt][e];
      }
    }
#pragma unroll
    for (int i = 0; i < D / 8; ++i) {
      o[i][0] *= corr[0];
      o[i][1] *= corr[0];
      o[i][2] *= corr[1];
      o[i][3] *= corr[1];
    }

#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
      const std::uint32_t a[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]), pack2<T>(s[2 * kk][2], s[2 * kk][3]),
                                  pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                  pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int dt = 0; dt < D / 8; dt += 2) {
        std::uint32_t b[4];
        const int vrow = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
        const int vcol = dt * 8 + (lane >> 4) * 8;
        ldmatrix_x4_trans(b, vs + vrow * kLd + vcol);
        mma16816<T>(o[dt], a, b[0], b[1]);
        mma16816<T>(o[dt + 1], a, b[2], b[3]);
      }
    }
  }

#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    lrow[hr] += __shfl_xor_sync(0xffffffffu, lrow[hr], 1);
    lrow[hr] += __shfl_xor_sync(0xffffffffu, lrow[hr], 2);
  }
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const int row = warp * 16 + g + hr * 8;
    if (row >= rows) continue;
    float mx = mrow[hr];
    float sum = lrow[hr];
    float w = 1.0f;
    if (p.sinks != nullptr) {
      const float sink = p.sinks[h] * kLog2e;
      const float m_tot = fmaxf(mx, sink);
      w = mx == -INFINITY ? 0.0f : exp2f(mx - m_tot);
      sum = sum * w + exp2f(sink - m_tot);
    }
    const float inv = sum > 0.0f ? w / sum : 0.0f;
    T* out = static_cast<T*>(p.out) + (q_start + m0 + row) * p.o_stride_t + h * p.o_stride_h;
#pragma unroll
    for (int dt = 0; dt < D / 8; ++dt) {
      *reinterpret_cast<std::uint32_t*>(out + dt * 8 + 2 * t) =
          pack2<T>(o[dt][2 * hr] * inv, o[dt][2 * hr + 1] * inv);
    }
  }
}

template <class T, bool kFp8, int D>
int launch_prefill_typed(const KernelParams& p) {
  const dim3 grid((p.max_query_len + kBM - 1) / kBM, p.num_heads, p.num_reqs);
  prefill_kernel<T, kFp8, D><<<grid, kThreads, smem_bytes<D>(), static_cast<cudaStream_t>(p.stream)>>>(p);
  return static_cast<int>(cudaGetLastError());
}

template <class T, bool kFp8, int D>
int prepare_typed() {
  return static_cast<int>(cudaFuncSetAttribute(prefill_kernel<T, kFp8, D>,
                                               cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes<D>()));
}

template <int D>
int prepare_d() {
  int rc = prepare_typed<__nv_bfloat16, false, D>();
  if (rc == 0) rc = prepare_typed<__nv_bfloat16, true, D>();
  if (rc == 0) rc = prepare_typed<__half, false, D>();
  if (rc == 0) rc = prepare_typed<__half, true, D>();
  return rc;
}

template <class T, bool kFp8>
int launch_prefill_d(const KernelParams& p) {
  switch (p.head_size) {
    case 64:
      return launch_prefill_typed<T, kFp8, 64>(p);
    case 96:
      return launch_prefill_typed<T, kFp8, 96>(p);
    case 128:
      return launch_prefill_typed<T, kFp8, 128>(p);
    case 256:
      return launch_prefill_typed<T, kFp8, 256>(p);
    default:
      return static_cast<int>(cudaErrorInvalidValue);
  }
}

}  // namespace

int launch_prefill(const KernelParams& p) {
  if (p.dtype == Dtype::BFloat16) {
    return p.cache_fp8 ? launch_prefill_d<__nv_bfloat16, true>(p) : launch_prefill_d<__nv_bfloat16, false>(p);
  }
  return p.cache_fp8 ? launch_prefill_d<__half, true>(p) : launch_prefill_d<__half, false>(p);
}

int prepare_kernels(int head_size) {
  switch (head_size) {
    case 64:
      return prepare_d<64>();
    case 96:
      return prepare_d<96>();
    case 128:
      return prepare_d<128>();
    case 256:
      return prepare_d<256>();
    default:
      return static_cast<int>(cudaErrorInvalidValue);
  }
}

}  // namespace attnreg::flash_attn
