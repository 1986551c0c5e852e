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
#include "prefill_tile.cuh"
#include "ptx.cuh"

namespace attnreg::flash_attn {
namespace {

constexpr int kThreads = 128;

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

template <class T, bool kFp8, int D>
__global__ void __launch_bounds__(kThreads, Cfg<D>::kMinBlocks) prefill_kernel(KernelParams p) {
  constexpr int kMT = Cfg<D>::kMT;
  constexpr int kBM = Cfg<D>::kBM;
  constexpr int kLd = Cfg<D>::kLd;
  constexpr int kBN = Cfg<D>::kBN;
  using Layout = PaddedRows<kLd>;
  // No static __shared__ arrays: all of it is dynamic.
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* qs = reinterpret_cast<T*>(smem_raw);
  // Buffer b (0 or 1): K at kbuf(b), V at vbuf(b), key validity at kvalid(b).
  auto kbuf = [&](int b) { return qs + (kBM + b * kBN) * kLd; };
  auto vbuf = [&](int b) { return qs + (kBM + (2 + b) * kBN) * kLd; };
  auto kvalid = [&](int b) { return reinterpret_cast<int*>(qs + (kBM + 4 * kBN) * kLd) + b * kBN; };

  PrefillBlock blk;
  if (!prefill_block<kBM>(p, blk)) return;
  const int h = blk.h, m0 = blk.m0, q_start = blk.q_start, seq_len = blk.seq_len, ctx = blk.ctx,
            rows = blk.rows;
  issue_q_tile<T, D, kBM, kThreads, Layout>(p, q_start + m0, rows, h, qs, threadIdx.x);

  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int g = lane / 4;             // fragment row (and row + 8)
  const int wrow0 = warp * 16 * kMT;  // this warp's first row in the CTA
  const bool warp_active = wrow0 < rows;
  const int wrow_last = min(wrow0 + 16 * kMT, rows) - 1;
  const int pos0 = ctx + m0 + wrow0 + g;  // position of this thread's first fragment row
  const KeyRange wfirst = key_range(ctx + m0 + wrow0, seq_len, p.causal, p.window);
  const KeyRange wlast = key_range(ctx + m0 + wrow_last, seq_len, p.causal, p.window);
  const int n_begin = blk.keys.lo / kBN * kBN, n_end = blk.keys.hi;
  const LogitTransform lt = logit_transform(p);

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
  const int* bt_row = p.block_table + blk.r * p.bt_stride;

  bool my_valid = issue_kv_tile<T, kFp8, D, kBN, kThreads, Layout>(p, bt_row, blk.kvh, n_begin, n_end,
                                                                   kbuf(0), vbuf(0), kvalid(0));
  int buf = 0;
  for (int n0 = n_begin; n0 < n_end; n0 += kBN, buf ^= 1) {
    bool next_valid = true;
    if (n0 + kBN < n_end) {
      next_valid = issue_kv_tile<T, kFp8, D, kBN, kThreads, Layout>(
          p, bt_row, blk.kvh, n0 + kBN, n_end, kbuf(buf ^ 1), vbuf(buf ^ 1), kvalid(buf ^ 1));
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

#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        transform_logits(p, lt, s[mt]);
        if (!interior) {
          const int* valid = kvalid(buf);
          mask_logits(
              p, pos0 + mt * 16, seq_len, n0, [valid](int jj) { return valid[jj] != 0; }, s[mt]);
        }
        float corr[2];
        softmax_probabilities(lt.fold, s[mt], mrow[mt], lrow[mt], corr);
        rescale_output(corr, o[mt]);
      }

#pragma unroll
      for (int kk = 0; kk < kBN / 16; ++kk) {
        std::uint32_t a[kMT][4];
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) probabilities_fragment<T>(s[mt], kk, a[mt]);
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
    const int row_g = wrow0 + mt * 16 + g;
    store_output_rows<T>(p, lt.fold, h, q_start + m0 + row_g, row_g, rows, o[mt], mrow[mt], lrow[mt]);
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
  if (int rc = 0; launch_prefill_sm90(p, rc)) return rc;
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
  int rc = static_cast<int>(cudaErrorInvalidValue);
  switch (head_size) {
    case 64:
      rc = prepare_d<64>();
      break;
    case 96:
      rc = prepare_d<96>();
      break;
    case 128:
      rc = prepare_d<128>();
      break;
    case 256:
      rc = prepare_d<256>();
      break;
    default:
      break;
  }
  return rc != 0 ? rc : prepare_prefill_sm90(head_size);
}

}  // namespace attnreg::flash_attn
