// Tensor-core prefill kernel (mma.sync m16n8k16, bf16/fp16 in, fp32
// accumulate; runs on sm_80 and sm_90). One CTA of four warps serves kBM query
// rows of one head of one request: 128 rows (each warp two 16-row m-tiles, 32
// contiguous rows, so every K/V fragment read from shared memory feeds two
// MMAs) for head sizes up to 128, 64 rows for head 256 (register budget).
// K/V tiles of 64 keys (128 for head 64) are gathered from the paged cache
// into shared memory with cp.async, double-buffered so the next tile's loads
// overlap this tile's math (fp8 rows are dequantised through registers
// instead); each thread walks the block table incrementally (one division per
// tile). Fragments come from ldmatrix; S = Q K^T and O += P V run on tensor
// cores with P kept in registers; the softmax is the usual online one in the
// log2 domain (scale folded into one FFMA before ex2.approx), the
// per-element mask runs only on tiles that some row of the warp does not
// fully see, and a warp skips tiles none of its rows sees (causal diagonal).
// CTAs are ordered longest-first (the grid's slowest index walks m-blocks
// from the last), heads fastest so GQA groups share K/V in L2. Rows are
// padded by 8 elements so ldmatrix is conflict-free.
#include <cuda_runtime.h>

#include "common.cuh"
#include "decode.cuh"

namespace attnreg::flash_attn {
namespace {

constexpr int kThreads = 128;
constexpr float kLog2e = 1.4426950408889634f;

/// Tile shape per head size: m-tiles per warp, rows per CTA, padded row length.
template <int D>
struct Cfg {
  static constexpr int kMT = D >= 256 ? 1 : 2;
  static constexpr int kBM = 4 * 16 * kMT;
  static constexpr int kLd = D + 8;
  // Keys per K/V tile: 128 for head 64 (halves the per-tile softmax, barrier
  // and issue overhead against the MMAs; +5% measured), else 64 (registers).
  static constexpr int kBN = D <= 64 ? 128 : 64;
  static constexpr int kMinBlocks = D >= 256 ? 1 : 2;
  // Q, 2 x (K, V), 2 x key validity
  static constexpr int kSmem = (kBM + 4 * kBN) * kLd * 2 + 2 * kBN * static_cast<int>(sizeof(int));
};

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

__device__ __forceinline__ void ldmatrix_x4(std::uint32_t (&r)[4], const void* smem) {
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

template <class T>
__device__ __forceinline__ std::uint32_t pack2(float lo, float hi) {
  T v[2] = {from_float<T>(lo), from_float<T>(hi)};
  return *reinterpret_cast<const std::uint32_t*>(v);
}

/// 2^x with the hardware approximation (-inf -> +0).
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

/// 16-byte global->shared copy; zero-fills when !valid (then src is not read).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(addr), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

/// Starts copying the 64-key K and V tiles at n0 (gathered through the block
/// table) into shared memory; keys at or past `end` or in a block the table
/// cannot reach become zeros and are marked invalid. Returns whether all of
/// this thread's keys were valid. fp8 rows are converted synchronously.
template <class T, bool kFp8, int D>
__device__ bool issue_kv_tile(const KernelParams& p, const int* bt_row, int kvh, int n0, int end, T* ks,
                              T* vs, int* valid) {
  using C = CacheElem<T, kFp8>;
  constexpr int kChunks = D / 8;
  constexpr int kLd = Cfg<D>::kLd;
  constexpr int kBN = Cfg<D>::kBN;
  const long long row_stride = static_cast<long long>(p.num_kv_heads) * D;
  bool all = true;
  if constexpr (!kFp8 && kThreads % kChunks == 0 && kBN % (kThreads / kChunks) == 0) {
    // Fixed 16-byte column per thread, rows jj0, jj0 + R, ...: the block table
    // is walked incrementally (one division per tile, a lookup per new block).
    constexpr int R = kThreads / kChunks;
    const int c = threadIdx.x % kChunks;
    const int jj0 = threadIdx.x / kChunks;
    const int bs = p.block_size;
    int j = n0 + jj0;
    int lb = j / bs;
    int off = j - lb * bs;
    int cur_lb = -1, pb = -1;
    const T* kbase = static_cast<const T*>(p.k_cache) + kvh * D + c * 8;
    const T* vbase = static_cast<const T*>(p.v_cache) + kvh * D + c * 8;
#pragma unroll
    for (int k = 0; k < kBN / R; ++k) {
      const int jj = jj0 + k * R;
      int b = -1;
      if (j < end) {
        if (lb != cur_lb) {
          pb = physical_block(p, bt_row, lb);
          cur_lb = lb;
        }
        b = pb;
      }
      if (c == 0) valid[jj] = b >= 0;
      all = all && b >= 0;
      const long long o = b >= 0 ? b * p.cache_stride_block + off * row_stride : 0;
      cp_async16(ks + jj * kLd + c * 8, kbase + o, b >= 0);
      cp_async16(vs + jj * kLd + c * 8, vbase + o, b >= 0);
      j += R;
      off += R;
      while (off >= bs) {
        off -= bs;
        ++lb;
      }
    }
  } else {
    for (int i = threadIdx.x; i < kBN * kChunks; i += kThreads) {
      const int jj = i / kChunks;
      const int c = i % kChunks;
      const int j = n0 + jj;
      int pb = -1;
      if (j < end) pb = physical_block(p, bt_row, j / p.block_size);
      if (c == 0) valid[jj] = pb >= 0;
      all = all && pb >= 0;
      const long long off =
          pb >= 0 ? pb * p.cache_stride_block + (j % p.block_size) * row_stride + kvh * D + c * 8 : 0;
      const C* ksrc = static_cast<const C*>(p.k_cache) + off;
      const C* vsrc = static_cast<const C*>(p.v_cache) + off;
      T* kdst = ks + jj * kLd + c * 8;
      T* vdst = vs + jj * kLd + c * 8;
      if constexpr (kFp8) {
        uint4 ko = make_uint4(0, 0, 0, 0), vo = make_uint4(0, 0, 0, 0);
        if (pb >= 0) {
          float f[8];
          load8_fp8(ksrc, p.k_scale, f);
#pragma unroll
          for (int e = 0; e < 8; ++e) reinterpret_cast<T*>(&ko)[e] = from_float<T>(f[e]);
          load8_fp8(vsrc, p.v_scale, f);
#pragma unroll
          for (int e = 0; e < 8; ++e) reinterpret_cast<T*>(&vo)[e] = from_float<T>(f[e]);
        }
        *reinterpret_cast<uint4*>(kdst) = ko;
        *reinterpret_cast<uint4*>(vdst) = vo;
      } else {
        cp_async16(kdst, ksrc, pb >= 0);
        cp_async16(vdst, vsrc, pb >= 0);
      }
    }
  }
  cp_async_commit();
  return all;
}

template <class T, bool kFp8, int D>
__global__ void __launch_bounds__(kThreads, Cfg<D>::kMinBlocks) prefill_kernel(KernelParams p) {
  constexpr int kMT = Cfg<D>::kMT;
  constexpr int kBM = Cfg<D>::kBM;
  constexpr int kLd = Cfg<D>::kLd;
  constexpr int kBN = Cfg<D>::kBN;
  constexpr int kChunks = D / 8;
  extern __shared__ __align__(16) unsigned char smem_raw[];  // no static __shared__ arrays: all of it is dynamic
  T* qs = reinterpret_cast<T*>(smem_raw);
  // Buffer b (0 or 1): K at kbuf(b), V at vbuf(b), key validity at kvalid(b).
  auto kbuf = [&](int b) { return qs + (kBM + b * kBN) * kLd; };
  auto vbuf = [&](int b) { return qs + (kBM + (2 + b) * kBN) * kLd; };
  auto kvalid = [&](int b) { return reinterpret_cast<int*>(qs + (kBM + 4 * kBN) * kLd) + b * kBN; };

  const int h = blockIdx.x;
  const int r = blockIdx.y;
  const int mb = gridDim.z - 1 - blockIdx.z;  // longest (last) m-blocks first
  const int m0 = mb * kBM;
  const int q_start = p.query_start_loc[r];
  const int q_len = p.query_start_loc[r + 1] - q_start;
  if (mb == 0 && h == 0 && threadIdx.x == 0 && q_len > p.max_query_len)
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

  {
    const T* qbase = static_cast<const T*>(p.q);
    for (int i = threadIdx.x; i < kBM * kChunks; i += kThreads) {
      const int row = i / kChunks;
      const int c = i % kChunks;
      const T* src =
          row < rows ? qbase + (q_start + m0 + row) * p.q_stride_t + h * p.q_stride_h + c * 8 : qbase;
      cp_async16(qs + row * kLd + c * 8, src, row < rows);  // committed with the first K/V tile
    }
  }

  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int g = lane / 4;             // fragment row (and row + 8)
  const int t = lane % 4;             // fragment column pair
  const int wrow0 = warp * 16 * kMT;  // this warp's first row in the CTA
  const bool warp_active = wrow0 < rows;
  const int wrow_last = min(wrow0 + 16 * kMT, rows) - 1;
  const int pos0 = ctx + m0 + wrow0 + g;  // position of this thread's first fragment row
  const KeyRange wfirst = key_range(ctx + m0 + wrow0, seq_len, p.causal, p.window);
  const KeyRange wlast = key_range(ctx + m0 + wrow_last, seq_len, p.causal, p.window);
  const KeyRange first = key_range(ctx + m0, seq_len, p.causal, p.window);
  const KeyRange last = key_range(ctx + m0 + rows - 1, seq_len, p.causal, p.window);
  const int n_begin = first.lo / kBN * kBN, n_end = last.hi;
  const bool softcap = p.softcap > 0.0f;
  const float sl2 = p.scale * kLog2e;
  // Without soft-cap (and with a positive scale) logits stay raw and the
  // scale is folded into exp2's argument (one FFMA): max and mask commute
  // with a positive scale. Otherwise they are scaled first and fold is 1.
  const bool prescale = softcap || !(sl2 > 0.0f);
  const float fold = prescale ? 1.0f : sl2;

  float o[kMT][D / 8][4];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
    for (int i = 0; i < D / 8; ++i) o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.0f;
  }
  float mrow[kMT][2], lrow[kMT][2];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
    mrow[mt][0] = mrow[mt][1] = -INFINITY;
    lrow[mt][0] = lrow[mt][1] = 0.0f;
  }
  const int* bt_row = p.block_table + r * p.bt_stride;

  bool my_valid = issue_kv_tile<T, kFp8, D>(p, bt_row, kvh, n_begin, n_end, kbuf(0), vbuf(0), kvalid(0));
  int buf = 0;
  for (int n0 = n_begin; n0 < n_end; n0 += kBN, buf ^= 1) {
    bool next_valid = true;
    if (n0 + kBN < n_end) {
      next_valid = issue_kv_tile<T, kFp8, D>(p, bt_row, kvh, n0 + kBN, n_end, kbuf(buf ^ 1), vbuf(buf ^ 1),
                                             kvalid(buf ^ 1));
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    const bool all_valid = __syncthreads_and(my_valid);  // also publishes Q/K/V
    my_valid = next_valid;
    // Skip tiles no row of this warp sees; mask only tiles some row sees in part.
    if (warp_active && n0 < wlast.hi && n0 + kBN > wfirst.lo) {
      const bool interior = all_valid && n0 >= wlast.lo && n0 + kBN <= wfirst.hi;
      const T* ks = kbuf(buf);
      const T* vs = vbuf(buf);
      const int* valid = kvalid(buf);

      float s[kMT][kBN / 8][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
        for (int nt = 0; nt < kBN / 8; ++nt) s[mt][nt][0] = s[mt][nt][1] = s[mt][nt][2] = s[mt][nt][3] = 0.0f;
      }
#pragma unroll
      for (int k0 = 0; k0 < D; k0 += 16) {
        std::uint32_t a[kMT][4];
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt)
          ldmatrix_x4(a[mt], qs + (wrow0 + mt * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * kLd + k0 +
                                 (lane >> 4) * 8);
#pragma unroll
        for (int nt = 0; nt < kBN / 8; nt += 2) {
          std::uint32_t b[4];
          ldmatrix_x4(b, ks + (nt * 8 + (lane & 7) + (lane >> 4) * 8) * kLd + k0 + ((lane >> 3) & 1) * 8);
#pragma unroll
          for (int mt = 0; mt < kMT; ++mt) {
            mma16816<T>(s[mt][nt], a[mt], b[0], b[1]);
            mma16816<T>(s[mt][nt + 1], a[mt], b[2], b[3]);
          }
        }
      }

      // Logits in the log2 domain; every branch here is uniform across the
      // CTA and hoisted out of the element loops (no per-element branches).
      if (softcap) {
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
          for (int nt = 0; nt < kBN / 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) s[mt][nt][e] = soft_cap(s[mt][nt][e] * p.scale, p.softcap) * kLog2e;
          }
        }
      } else if (prescale) {
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
          for (int nt = 0; nt < kBN / 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) s[mt][nt][e] *= sl2;
          }
        }
      }
      if (!interior) {
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
          for (int hr = 0; hr < 2; ++hr) {
            const KeyRange kr = key_range(pos0 + mt * 16 + hr * 8, seq_len, p.causal, p.window);
            const int lo = kr.lo - n0, hi = kr.hi - n0;  // visible tile columns [lo, hi)
#pragma unroll
            for (int nt = 0; nt < kBN / 8; ++nt) {
#pragma unroll
              for (int e = 0; e < 2; ++e) {
                const int jj = nt * 8 + 2 * t + e;
                if (!(jj >= lo && jj < hi && valid[jj])) s[mt][nt][2 * hr + e] = -INFINITY;
              }
            }
          }
        }
      }

#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        // Row maxima and sums with two partial chains per row (shorter dependences).
        float mx[2][2] = {{-INFINITY, -INFINITY}, {-INFINITY, -INFINITY}};
#pragma unroll
        for (int nt = 0; nt < kBN / 8; ++nt) {
#pragma unroll
          for (int e = 0; e < 4; ++e) mx[e >> 1][nt & 1] = fmaxf(mx[e >> 1][nt & 1], s[mt][nt][e]);
        }
        float corr[2], muse[2];
#pragma unroll
        for (int hr = 0; hr < 2; ++hr) {
          float tile_max = fmaxf(mx[hr][0], mx[hr][1]);
          tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
          tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
          const float m_new = fmaxf(mrow[mt][hr], tile_max);
          muse[hr] = m_new == -INFINITY ? 0.0f : m_new;  // a row that saw nothing yet keeps zeros
          corr[hr] = fast_exp2((mrow[mt][hr] - muse[hr]) * fold);
          mrow[mt][hr] = m_new;
          muse[hr] *= fold;
        }
        float sum[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
#pragma unroll
        for (int nt = 0; nt < kBN / 8; ++nt) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int hr = e >> 1;
            s[mt][nt][e] = fast_exp2(fmaf(s[mt][nt][e], fold, -muse[hr]));
            sum[hr][nt & 1] += s[mt][nt][e];
          }
        }
#pragma unroll
        for (int hr = 0; hr < 2; ++hr) lrow[mt][hr] = lrow[mt][hr] * corr[hr] + (sum[hr][0] + sum[hr][1]);
        if (__any_sync(0xffffffffu, corr[0] != 1.0f || corr[1] != 1.0f)) {  // a row max moved
#pragma unroll
          for (int i = 0; i < D / 8; ++i) {
            o[mt][i][0] *= corr[0];
            o[mt][i][1] *= corr[0];
            o[mt][i][2] *= corr[1];
            o[mt][i][3] *= corr[1];
          }
        }
      }

#pragma unroll
      for (int kk = 0; kk < kBN / 16; ++kk) {
        std::uint32_t a[kMT][4];
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          a[mt][0] = pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
          a[mt][1] = pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
          a[mt][2] = pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
          a[mt][3] = pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
        }
#pragma unroll
        for (int dt = 0; dt < D / 8; dt += 2) {
          std::uint32_t b[4];
          const int vrow = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
          const int vcol = dt * 8 + (lane >> 4) * 8;
          ldmatrix_x4_trans(b, vs + vrow * kLd + vcol);
#pragma unroll
          for (int mt = 0; mt < kMT; ++mt) {
            mma16816<T>(o[mt][dt], a[mt], b[0], b[1]);
            mma16816<T>(o[mt][dt + 1], a[mt], b[2], b[3]);
          }
        }
      }
    }
    __syncthreads();  // this buffer is refilled by the next iteration's issue
  }

#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      float sum = lrow[mt][hr];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const int row = wrow0 + mt * 16 + g + hr * 8;
      if (row >= rows) continue;
      const float mx = mrow[mt][hr] * fold;  // log2 domain
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
            pack2<T>(o[mt][dt][2 * hr] * inv, o[mt][dt][2 * hr + 1] * inv);
      }
    }
  }
}

template <class T, bool kFp8, int D>
int launch_prefill_typed(const KernelParams& p) {
  constexpr int kBM = Cfg<D>::kBM;
  const dim3 grid(p.num_heads, p.num_reqs, (p.max_query_len + kBM - 1) / kBM);
  prefill_kernel<T, kFp8, D><<<grid, kThreads, Cfg<D>::kSmem, static_cast<cudaStream_t>(p.stream)>>>(p);
  return static_cast<int>(cudaGetLastError());
}

template <class T, bool kFp8, int D>
int prepare_typed() {
  int rc = static_cast<int>(cudaFuncSetAttribute(prefill_kernel<T, kFp8, D>,
                                                 cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg<D>::kSmem));
  if (rc == 0)
    rc = static_cast<int>(cudaFuncSetAttribute(prefill_kernel<T, kFp8, D>,
                                               cudaFuncAttributePreferredSharedMemoryCarveout, 100));
  return rc;
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

int prefill_shared_memory(int head_size) {
  switch (head_size) {
    case 64:
      return Cfg<64>::kSmem;
    case 96:
      return Cfg<96>::kSmem;
    case 128:
      return Cfg<128>::kSmem;
    case 256:
      return Cfg<256>::kSmem;
    default:
      return 0;
  }
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
