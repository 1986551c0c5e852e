// Split-KV decode: one CTA serves one query token of a request, up
// to heads_per_cta() query heads that share one KV head (GQA packing: each K/V
// row is read once for all of them), and one split of the request's visible
// key range. K/V rows stream through multi-stage cp.async rings in shared
// memory, gathered through the block table (masked keys zero-filled), so
// copies stay in flight while the kernel computes on earlier rows.
//   - 16-bit cache: decode_mma_kernel (decode_mma.cuh), scores and P*V on the
//     tensor cores (mma m16n8k16), each warp streaming its own share of the
//     keys through its own ring; on compute capability 9.0, without a
//     sliding window and for head sizes 64, 128 and 256, decode_tma_kernel
//     (decode_tma.cuh), the same with the rings filled by bulk tensor copies.
//   - fp8 cache: decode_mma_kernel too where fp8_mma_decode_serves(p)
//     (compute capability 8.9 and later), its rings holding fp8 rows that
//     each lane widens to fp16 in registers (decode_fp8_frags.cuh);
//     otherwise decode_kernel (decode_simt.cuh; 4 warps sharing one ring), CUDA cores,
//     dequantising from shared memory (k_scale folded into the query,
//     v_scale into the output):
//       1. scores: (key, slice of the row) per thread, query heads in shared memory;
//       2. softmax: one warp per head updates the running max and sum;
//       3. values: threads own (8-element chunk, key group) pairs; the key
//          groups' partial accumulators are combined at the end.
// With one split the CTA writes the output; with several it writes (acc, max,
// sum) partials that merge_kernel combines with a log-sum-exp merge. On
// compute capability 9.0 the merge is a programmatic dependent launch: its
// CTAs are scheduled while the decode grid's last CTAs still run and wait on
// the device for the grid to finish, instead of the host-side launch gap.
#include <cuda_runtime.h>

#include <algorithm>
#include <type_traits>

#include "common.cuh"
#include "decode.cuh"
#include "decode_mma.cuh"
#include "decode_row.cuh"
#include "decode_simt.cuh"
#include "decode_tma.cuh"
#include "env_switch.hpp"
#include "ptx.cuh"

namespace attnreg::flash_attn {
namespace {

/// Combines the split partials of every decode row (log-sum-exp merge). The
/// request's metadata, which the decode grid does not write, is read before
/// waiting for that grid; then each thread merges its column over the splits
/// online, loading the (max, sum) and partial of kMergeBatch splits at once,
/// so that after the decode grid ends a merge of up to kMergeBatch splits is
/// one round trip to the L2. The earlier merge waited first, then read the
/// metadata, the (max, sum) pairs and the partials in three dependent steps
/// with a CTA barrier between; batches of 8 splits made B1 L4k's 32 splits
/// four dependent trips (decode step 19 of docs/notes/flash_attn.md).
template <class T, int D>
__global__ void merge_kernel(KernelParams p, int num_splits, int dq) {
  constexpr int kMergeBatch = 32;
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
  wait_for_prerequisite_grid();  // the decode grid's partials
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    const float* col = p.scratch + row * D + d;
    float mx = -INFINITY, sum = 0.0f, a = 0.0f;
    for (int s0 = 0; s0 < num_splits; s0 += kMergeBatch) {
      float2 ml_s[kMergeBatch];
      float a_s[kMergeBatch];
#pragma unroll
      for (int k = 0; k < kMergeBatch; ++k) {
        const bool in = s0 + k < num_splits;
        ml_s[k] = in ? ml[(s0 + k) * split_stride + row] : make_float2(-INFINITY, 0.0f);
        a_s[k] = in ? col[(s0 + k) * split_stride * D] : 0.0f;
      }
      float m_new = mx;
#pragma unroll
      for (int k = 0; k < kMergeBatch; ++k) m_new = fmaxf(m_new, ml_s[k].x);
      if (m_new == -INFINITY) continue;    // no split so far saw a key
      const float c = __expf(mx - m_new);  // 0 while mx is still -inf
      sum *= c;
      a *= c;
#pragma unroll
      for (int k = 0; k < kMergeBatch; ++k) {
        const float w = __expf(ml_s[k].x - m_new);  // 0 for a split without keys
        sum += ml_s[k].y * w;
        a += w * a_s[k];
      }
      mx = m_new;
    }
    write_normalised<T>(p, token, h, d, mx, sum, a);
  }
}

/// One decode kernel instance of kBlockThreads threads with kSmem bytes of
/// dynamic shared memory, opted into it once (cudaFuncSetAttribute is no
/// stream operation, so this is legal during graph capture too).
template <auto kKernel, int kSmem, int kBlockThreads>
struct KernelInst {
  static int prepare() {
    static const int rc =
        static_cast<int>(cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem));
    return rc;
  }
  static int launch(const KernelParams& p, dim3 grid, cudaStream_t s, int num_splits, int dq) {
    if (int rc = prepare(); rc != 0) return rc;
    kKernel<<<grid, kBlockThreads, kSmem, s>>>(p, num_splits, dq);
    return 0;
  }
  static int ctas_per_sm() {
    // Asked once per process (the kernel's residency does not change between
    // calls), so the scheduler costs no runtime call per forward.
    static const int n = [] {
      int k = 0;
      if (prepare() != 0 ||
          cudaOccupancyMaxActiveBlocksPerMultiprocessor(&k, kKernel, kBlockThreads, kSmem) != 0)
        return 0;
      return k;
    }();
    return n;
  }
};

/// The CUDA-core kernel instance for (T, fp8, D, HP) (fp8 caches).
template <class T, bool kFp8, int D, int HP>
using DecodeInst = KernelInst<
    decode_kernel<T, kFp8, D, HP, DecodeShape<kFp8, D, HP>::kTile, DecodeShape<kFp8, D, HP>::kStages>,
    DecodeCfg<kFp8, D, HP, DecodeShape<kFp8, D, HP>::kTile, DecodeShape<kFp8, D, HP>::kStages>::kSmem,
    kThreads>;

/// The tensor-core kernel instance for a 16-bit (or fp8) cache and
/// kStages-deep rings.
template <class T, int D, int HP, int kStages, bool kFp8 = false>
using MmaInst = KernelInst<decode_mma_kernel<T, D, HP, kStages, kFp8>,
                           MmaCfg<D, kStages, kCacheElemBytes<kFp8>>::kSmem, MmaCfg<D, kStages>::kThreads>;

/// The tensor maps of the two cache halves that decode_tma_kernel reads.
struct CacheMaps {
  CUtensorMap k, v;
};

/// The Hopper (TMA) kernel instance for a 16-bit cache and kStages-deep rings.
template <class T, int D, int HP, int kStages>
struct TmaInst {
  using Base = KernelInst<decode_tma_kernel<T, D, HP, kStages>, TmaCfg<D, kStages>::kSmem,
                          TmaCfg<D, kStages>::kThreads>;
  static int ctas_per_sm() { return Base::ctas_per_sm(); }
  static int launch(const KernelParams& p, dim3 grid, cudaStream_t s, int num_splits, int dq,
                    const CacheMaps& maps) {
    if (int rc = Base::prepare(); rc != 0) return rc;
    decode_tma_kernel<T, D, HP, kStages>
        <<<grid, TmaCfg<D, kStages>::kThreads, TmaCfg<D, kStages>::kSmem, s>>>(maps.k, maps.v, p, num_splits,
                                                                               dq);
    return 0;
  }
};

/// ATTNREG_FLASH_ATTN_DECODE_TMA=0 keeps every 16-bit decode on
/// decode_mma_kernel's cp.async rings, =1 puts every one the Hopper kernel
/// serves on it, whatever the plan's copy_engine says (read once; for tests
/// of both kernels and A/B measurements). -1 when unset.
int forced_tma_decode() {
  static const int forced = env_switch("ATTNREG_FLASH_ATTN_DECODE_TMA", "01");
  return forced;
}

/// Whether an fp8 cache takes the tensor-core kernel when nothing pins it:
/// 1.23-1.84x the CUDA-core kernel's speed at every point of the H100 decode
/// sweep (decode step 29 of docs/notes/flash_attn.md).
constexpr bool kFp8MmaDecodeByDefault = true;

/// ATTNREG_FLASH_ATTN_DECODE_FP8_MMA=0 keeps fp8 caches on the CUDA-core
/// decode_kernel, =1 puts them on the tensor-core kernel (read once; for
/// tests of both kernels and A/B measurements); otherwise
/// kFp8MmaDecodeByDefault decides.
bool fp8_mma_decode_wanted() {
  static const bool wanted = [] {
    const int forced = env_switch("ATTNREG_FLASH_ATTN_DECODE_FP8_MMA", "01");
    return forced < 0 ? kFp8MmaDecodeByDefault : forced == 1;
  }();
  return wanted;
}

/// Whether the tensor-core kernel serves an fp8 cache: when wanted, from
/// compute capability 8.9 on, whose cvt.rn.f16x2.e4m3x2 widens a pair of fp8
/// values in one instruction (older devices would emulate it in about ten).
bool fp8_mma_decode_serves(const KernelParams& p) {
  return fp8_mma_decode_wanted() && p.compute_capability >= 89;
}

/// Whether decode_tma_kernel can serve p's decode rows: a 16-bit cache,
/// whole 64-element slabs per head, groups starting on multiples of 16 keys
/// (no sliding window), a compute capability 9.0 device and a build with
/// sm_90a code for it (and ATTNREG_FLASH_ATTN_DECODE_TMA is not 0).
template <class T, bool kFp8, int D>
bool tma_decode_serves(const KernelParams& p) {
  if constexpr (kFp8 || D % kCacheBoxCols != 0) {
    return false;
  } else {
    return p.window == 0 && forced_tma_decode() != 0 && p.compute_capability == 90 &&
           has_sm90a_code<decode_tma_kernel<T, D, kHeadsPerCta, 3>>();
  }
}

/// Launches (kind = 0) or sizes (kind = 1: CTAs per SM) the decode kernel for
/// (T, fp8, D, HP); ring_stages picks the tensor-core kernels' ring depth (the
/// CUDA-core fp8 kernel has one shape), and tma the Hopper kernel (whose
/// launch reads maps) instead of decode_mma_kernel. fp8 caches take the
/// tensor-core kernel where fp8_mma_decode_serves(p), else the CUDA-core one.
template <class T, bool kFp8, int D, int HP>
int decode_op(int kind, const KernelParams& p, dim3 grid, cudaStream_t s, int num_splits, int dq,
              int ring_stages, bool tma, const CacheMaps* maps) {
  auto run = [&](auto inst) {
    using I = decltype(inst);
    return kind == 0 ? I::launch(p, grid, s, num_splits, dq) : I::ctas_per_sm();
  };
  if constexpr (kFp8) {
    if (!fp8_mma_decode_serves(p)) return run(DecodeInst<T, kFp8, D, HP>{});
    return ring_stages == 2 ? run(MmaInst<T, D, HP, 2, true>{}) : run(MmaInst<T, D, HP, 3, true>{});
  } else {
    if constexpr (D % kCacheBoxCols == 0) {
      if (tma) {
        auto run_tma = [&](auto inst) {
          using I = decltype(inst);
          return kind == 0 ? I::launch(p, grid, s, num_splits, dq, *maps) : I::ctas_per_sm();
        };
        return ring_stages == 2 ? run_tma(TmaInst<T, D, HP, 2>{}) : run_tma(TmaInst<T, D, HP, 3>{});
      }
    }
    return ring_stages == 2 ? run(MmaInst<T, D, HP, 2>{}) : run(MmaInst<T, D, HP, 3>{});
  }
}

template <class T, bool kFp8, int D>
int launch_decode_typed(const KernelParams& p, const DecodePlan& plan, int dq) {
  const int num_splits = plan.num_splits;
  const int group_size = p.num_heads / p.num_kv_heads;
  const int hp = heads_per_cta(group_size);
  const dim3 grid(num_splits, p.num_kv_heads * ((group_size + hp - 1) / hp), p.num_reqs * dq);
  auto s = static_cast<cudaStream_t>(p.stream);
  CacheMaps maps;
  const bool tma = (plan.copy_engine || forced_tma_decode() == 1) && tma_decode_serves<T, kFp8, D>(p) &&
                   encode_cache_map(maps.k, p.k_cache, p, std::is_same_v<T, __nv_bfloat16>) &&
                   encode_cache_map(maps.v, p.v_cache, p, std::is_same_v<T, __nv_bfloat16>);
  const int rc =
      hp == 4
          ? decode_op<T, kFp8, D, 4>(0, p, grid, s, num_splits, dq, plan.ring_stages, tma, &maps)
          : decode_op<T, kFp8, D, kHeadsPerCta>(0, p, grid, s, num_splits, dq, plan.ring_stages, tma, &maps);
  if (rc != 0) return rc;
  if (num_splits > 1) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(p.num_reqs * dq, p.num_heads);
    cfg.blockDim = dim3(D);
    cfg.stream = s;
    cudaLaunchAttribute pdl = {};
    pdl.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    pdl.val.programmaticStreamSerializationAllowed = 1;
    if (p.compute_capability >= 90) {  // programmatic dependent launch runs from 9.0 on
      cfg.attrs = &pdl;
      cfg.numAttrs = 1;
    }
    if (int rc2 = static_cast<int>(cudaLaunchKernelEx(&cfg, merge_kernel<T, D>, p, num_splits, dq)); rc2 != 0)
      return rc2;
  }
  return static_cast<int>(cudaGetLastError());
}

template <class T, bool kFp8>
int launch_decode_d(const KernelParams& p, const DecodePlan& plan, int dq) {
  switch (p.head_size) {
    case 64:
      return launch_decode_typed<T, kFp8, 64>(p, plan, dq);
    case 96:
      return launch_decode_typed<T, kFp8, 96>(p, plan, dq);
    case 128:
      return launch_decode_typed<T, kFp8, 128>(p, plan, dq);
    case 256:
      return launch_decode_typed<T, kFp8, 256>(p, plan, dq);
    default:
      return static_cast<int>(cudaErrorInvalidValue);
  }
}

template <class T, bool kFp8, int D>
int ctas_per_sm_typed(const KernelParams& p, int ring_stages) {
  // Sized with the Hopper kernel where it can serve the batch, even if the
  // plan then sends rows of many splits to the cp.async kernel: on the H100
  // both fit the same number of CTAs per SM at every head size and depth
  // (the TMA kernel's mbarriers and 1 KB of alignment slack do not cost one).
  const bool tma = tma_decode_serves<T, kFp8, D>(p);
  return heads_per_cta(p.num_heads / p.num_kv_heads) == 4
             ? decode_op<T, kFp8, D, 4>(1, p, dim3(), nullptr, 1, 1, ring_stages, tma, nullptr)
             : decode_op<T, kFp8, D, kHeadsPerCta>(1, p, dim3(), nullptr, 1, 1, ring_stages, tma, nullptr);
}

template <class T, bool kFp8>
int ctas_per_sm_d(const KernelParams& p, int ring_stages) {
  switch (p.head_size) {
    case 64:
      return ctas_per_sm_typed<T, kFp8, 64>(p, ring_stages);
    case 96:
      return ctas_per_sm_typed<T, kFp8, 96>(p, ring_stages);
    case 128:
      return ctas_per_sm_typed<T, kFp8, 128>(p, ring_stages);
    case 256:
      return ctas_per_sm_typed<T, kFp8, 256>(p, ring_stages);
    default:
      return 0;
  }
}

}  // namespace

int decode_ctas_per_sm(const KernelParams& p, int ring_stages) {
  if (p.dtype == Dtype::BFloat16)
    return p.cache_fp8 ? ctas_per_sm_d<__nv_bfloat16, true>(p, ring_stages)
                       : ctas_per_sm_d<__nv_bfloat16, false>(p, ring_stages);
  return p.cache_fp8 ? ctas_per_sm_d<__half, true>(p, ring_stages)
                     : ctas_per_sm_d<__half, false>(p, ring_stages);
}

namespace {
template <int D>
constexpr int decode_shared_memory_d() {
  using Mma = MmaCfg<D, 3>;  // the deeper ring of 16-bit rows is the largest (fp8 rows are half as long)
  using Fp8Small = DecodeCfg<true, D, 4, DecodeShape<true, D, 4>::kTile, DecodeShape<true, D, 4>::kStages>;
  using Fp8Wide = DecodeCfg<true, D, kHeadsPerCta, DecodeShape<true, D, kHeadsPerCta>::kTile,
                            DecodeShape<true, D, kHeadsPerCta>::kStages>;
  // The TMA kernel's rings are the tensor-core kernel's, plus its mbarriers
  // and alignment slack; its static arrays are the same.
  int tma = 0;
  if constexpr (D % kCacheBoxCols == 0) tma = TmaCfg<D, 3>::kSmem + Mma::kStaticSmem;
  return std::max({Mma::kSmem + Mma::kStaticSmem, Fp8Small::kSmem + Fp8Small::kStaticSmem,
                   Fp8Wide::kSmem + Fp8Wide::kStaticSmem, tma});
}
}  // namespace

int decode_shared_memory(int head_size) {
  switch (head_size) {
    case 64:
      return decode_shared_memory_d<64>();
    case 96:
      return decode_shared_memory_d<96>();
    case 128:
      return decode_shared_memory_d<128>();
    case 256:
      return decode_shared_memory_d<256>();
    default:
      return 0;
  }
}

int launch_decode(const KernelParams& p, const DecodePlan& plan, int dq) {
  if (p.dtype == Dtype::BFloat16) {
    return p.cache_fp8 ? launch_decode_d<__nv_bfloat16, true>(p, plan, dq)
                       : launch_decode_d<__nv_bfloat16, false>(p, plan, dq);
  }
  return p.cache_fp8 ? launch_decode_d<__half, true>(p, plan, dq)
                     : launch_decode_d<__half, false>(p, plan, dq);
}

}  // namespace attnreg::flash_attn
