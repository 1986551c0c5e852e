// Hopper prefill kernel (sm_90a): the same online-softmax attention as
// prefill.cu with both products on warpgroup MMA (wgmma) and the K/V tiles
// fetched by the tensor memory accelerator (TMA), warp-specialised as in
// FlashAttention-3. One CTA of three warpgroups serves 128 query rows of one
// head of one request:
// - warpgroup 0 is the producer: one warp reads the block table (a lane per
//   16 keys, one tile ahead, so the reads overlap the waits) and one thread
//   issues, per 16 keys, a TMA copy of each 64-column slab of K (then V)
//   into a two-stage ring, arming the stage's "full" mbarrier with the bytes
//   it expects; keys in unreachable blocks or past the range come from
//   coordinates outside the tensor, which the TMA reads as zeros. It gives
//   most of its registers to the consumers (setmaxnreg).
// - warpgroups 1 and 2 are consumers of 64 rows each: S = Q K^T is an
//   m64n128k16 product with both operands in shared memory, O += P V an
//   m64nDk16 product with P from registers and V read MN-major. They run a
//   software pipeline: iteration j issues S(j) and P V(j-1) back to back, so
//   the softmax of tile j overlaps P V of tile j-1 on the tensor cores, and
//   release each K (V) stage through its "empty" mbarrier as soon as S (P V)
//   has read it, taking turns to issue their products (ping-pong) so one's
//   softmax runs while the other's products occupy the tensor cores. No
//   CTA-wide barrier runs in the loop.
// Tiles are in the canonical 128-byte-swizzled layout (the TMA writes it, the
// wgmma descriptors read it). Masking, the online softmax, sinks and the
// output are prefill_tile.cuh's, shared with the mma.sync kernel. Serves
// 16-bit caches with head size 64 or 128 on compute capability 9.0 when the
// build has sm_90a code; everything else takes prefill.cu's kernel.
#include <cuda.h>  // CUtensorMap
#include <cuda_runtime.h>

#include <cstdlib>
#include <type_traits>

#include "cache_tensor_map.hpp"
#include "common.cuh"
#include "decode.cuh"
#include "prefill_tile.cuh"
#include "tma.cuh"
#include "wgmma.cuh"

namespace attnreg::flash_attn {
namespace {

constexpr int kConsumers = 2;                     // consumer warpgroups, 64 rows each
constexpr int kThreads = 128 * (kConsumers + 1);  // plus the producer warpgroup
// ([[maybe_unused]]: constants only the sm_90a pass of the kernel body reads.)
[[maybe_unused]] constexpr int kConsumerThreads = 128 * kConsumers;
constexpr int kBM = 64 * kConsumers;       // query rows per CTA
constexpr int kBN = 128;                   // keys per K/V tile
constexpr int kStages = 2;                 // K and V rings
constexpr int kGroupKeys = kCacheBoxRows;  // keys per TMA box (block sizes are multiples of 16)
[[maybe_unused]] constexpr int kGroups = kBN / kGroupKeys;
[[maybe_unused]] constexpr int kSlab = kCacheBoxCols;  // elements per 128-byte swizzled row
constexpr int kSwizzleRowBytes = 128;
constexpr int kSwizzleAtomBytes = 8 * kSwizzleRowBytes;  // 8 rows: the swizzle pattern's period
[[maybe_unused]] constexpr int kProducerRegs = 40,
                               kConsumerRegs = 232;   // 128 x 40 + 256 x 232 <= 64K registers
[[maybe_unused]] constexpr int kConsumerBarrier = 1;  // named barrier of the consumer warpgroups
[[maybe_unused]] constexpr int kTurnBarrier = 2;      // 2 + w: warpgroup w's turn to issue products

/// The ring's synchronisation, after the tiles in shared memory.
struct Pipeline {
  std::uint64_t k_full[kStages], k_empty[kStages], v_full[kStages], v_empty[kStages];
  std::uint32_t k_valid[kStages];  ///< bit g: the tile's key group g lies in a reachable block
};

/// Shared memory of the kernel for head size D: Q, kStages x (K, V), the
/// pipeline, plus slack to align the tiles to the swizzle atom.
template <int D>
constexpr int smem_bytes() {
  return (kBM + 2 * kStages * kBN) * D * 2 + static_cast<int>(sizeof(Pipeline)) + kSwizzleAtomBytes;
}
static_assert(smem_bytes<128>() <= 227 * 1024, "the sm_90a prefill kernel must fit a Hopper CTA");

template <class T, int D>
__global__ void __launch_bounds__(kThreads, 1)
    prefill_sm90_kernel(const __grid_constant__ CUtensorMap k_map, const __grid_constant__ CUtensorMap v_map,
                        KernelParams p) {
#ifdef ATTNREG_HAS_WGMMA
  using QLayout = Swizzle128Rows<kBM>;
  constexpr unsigned kTileBytes = kBN * D * 2;
  extern __shared__ unsigned char smem_raw[];
  // Swizzled tiles start on a swizzle-atom boundary (descriptor base offset 0).
  const unsigned raw = smem_addr(smem_raw);
  T* qs =
      reinterpret_cast<T*>(smem_raw + ((kSwizzleAtomBytes - raw % kSwizzleAtomBytes) % kSwizzleAtomBytes));
  auto kbuf = [&](int st) { return qs + (kBM + st * kBN) * D; };
  auto vbuf = [&](int st) { return qs + (kBM + (kStages + st) * kBN) * D; };
  Pipeline& pipe = *reinterpret_cast<Pipeline*>(qs + (kBM + 2 * kStages * kBN) * D);

  PrefillBlock blk;
  if (!prefill_block<kBM>(p, blk)) return;  // uniform: the whole CTA leaves
  const int n_begin = blk.keys.lo / kBN * kBN, n_end = blk.keys.hi;
  const int num_tiles = (n_end - n_begin + kBN - 1) / kBN;  // >= 1: every row sees its own key
  if (threadIdx.x == 0) {
    for (int st = 0; st < kStages; ++st) {
      mbar_init(&pipe.k_full[st], 1);
      mbar_init(&pipe.v_full[st], 1);
      mbar_init(&pipe.k_empty[st], kConsumerThreads);
      mbar_init(&pipe.v_empty[st], kConsumerThreads);
    }
    mbar_init_fence();
  }
  __syncthreads();

  if (threadIdx.x < 128) {  // producer warpgroup
    warpgroup_reg_dealloc<kProducerRegs>();
    if (threadIdx.x >= 32) return;  // one warp produces
    // Lane g < kGroups looks up key group g of a tile: its block and first
    // row, or a block outside the tensor (zeros) past the range or in an
    // unreachable block. The next tile's lookups are issued before this
    // tile's copies, so the block-table reads overlap the waits.
    const int lane = threadIdx.x;
    const int* bt_row = p.block_table + blk.r * p.bt_stride;
    auto lookup = [&](int j, int& block, int& row) {
      block = p.num_blocks;
      row = 0;
      const int key = n_begin + j * kBN + lane * kGroupKeys;
      if (lane < kGroups && key < n_end) {
        const int lb = key / p.block_size;
        const int pb = physical_block(p, bt_row, lb);
        if (pb >= 0) {
          block = pb;
          row = key - lb * p.block_size;
        }
      }
    };
    int next_block, next_row;
    lookup(0, next_block, next_row);
    for (int j = 0; j < num_tiles; ++j) {
      const int my_block = next_block, my_row = next_row;
      if (j + 1 < num_tiles) lookup(j + 1, next_block, next_row);
      const unsigned valid = __ballot_sync(0xffffffffu, my_block < p.num_blocks) & ((1u << kGroups) - 1);
      int block[kGroups], row[kGroups];
#pragma unroll
      for (int g = 0; g < kGroups; ++g) {
        block[g] = __shfl_sync(0xffffffffu, my_block, g);
        row[g] = __shfl_sync(0xffffffffu, my_row, g);
      }
      if (lane == 0) {
        const int st = j % kStages;
        const unsigned parity = (j / kStages) & 1;
        // Fills one stage (K or V) once the consumers have released it; the
        // K stage also publishes the key groups' validity (read after "full").
        auto fill = [&](T* tile, const CUtensorMap* map, std::uint64_t* full, std::uint64_t* empty,
                        std::uint32_t* valid_out) {
          if (j >= kStages) mbar_wait(empty, parity ^ 1);
          if (valid_out != nullptr) *valid_out = valid;
          mbar_arrive_expect_tx(full, kTileBytes);
#pragma unroll
          for (int g = 0; g < kGroups; ++g) {
#pragma unroll
            for (int slab = 0; slab < D / kSlab; ++slab)
              tma_load_3d(tile + slab * kBN * kSlab + g * kGroupKeys * kSlab, map, blk.kvh * D + slab * kSlab,
                          row[g], block[g], full);
          }
        };
        fill(kbuf(st), &k_map, &pipe.k_full[st], &pipe.k_empty[st], &pipe.k_valid[st]);
        fill(vbuf(st), &v_map, &pipe.v_full[st], &pipe.v_empty[st], nullptr);
      }
      __syncwarp();
    }
    return;
  }

  // Consumer warpgroups.
  warpgroup_reg_alloc<kConsumerRegs>();
  const int ctid = threadIdx.x - 128;
  const int h = blk.h, m0 = blk.m0, q_start = blk.q_start, seq_len = blk.seq_len, ctx = blk.ctx,
            rows = blk.rows;
  issue_q_tile<T, D, kBM, kConsumerThreads, QLayout>(p, q_start + m0, rows, h, qs, ctid);
  cp_async_commit();
  cp_async_wait<0>();
  fence_proxy_async_shared();  // the tensor cores read Q
  named_barrier_sync(kConsumerBarrier, kConsumerThreads);

  const int wrow0 = (ctid / 128) * 64;  // this warpgroup's first row in the CTA
  const int row_g = wrow0 + ((ctid / 32) % 4) * 16 + (ctid % 32) / 4;  // this thread's first accumulator row
  const int wrow_last = min(wrow0 + 64, rows) - 1;
  const KeyRange wfirst = key_range(ctx + m0 + wrow0, seq_len, p.causal, p.window);
  const KeyRange wlast = key_range(ctx + m0 + wrow_last, seq_len, p.causal, p.window);
  const LogitTransform lt = logit_transform(p);

  // Descriptors: Q and K K-major (8-row groups 1024 bytes apart), V MN-major
  // (64-element column slabs kBN rows apart, 8-key groups 1024 bytes apart).
  auto q_desc = [&](int ks) {
    return smem_desc_sw128(qs + (ks / 4) * kBM * kSlab + wrow0 * kSlab + (ks % 4) * 16, 16,
                           kSwizzleAtomBytes);
  };
  auto k_desc = [&](int st, int ks) {
    return smem_desc_sw128(kbuf(st) + (ks / 4) * kBN * kSlab + (ks % 4) * 16, 16, kSwizzleAtomBytes);
  };
  auto v_desc = [&](int st, int kk) {
    return smem_desc_sw128(vbuf(st) + kk * 16 * kSlab, kBN * kSwizzleRowBytes, kSwizzleAtomBytes);
  };

  float o[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.0f, 0.0f};
  std::uint32_t pa[kBN / 16][4];  // probabilities of the previous tile: P V's A operand

  // Scores of tile j (in s, complete) into probabilities; corr: the output's correction.
  auto softmax_tile = [&](int j, unsigned valid, float(&s)[kBN / 8][4], float(&corr)[2]) {
    const int n0 = n_begin + j * kBN;
    const bool interior = valid == (1u << kGroups) - 1 && n0 >= wlast.lo && n0 + kBN <= wfirst.hi;
    transform_logits(p, lt, s);
    if (!interior) {
      mask_logits(
          p, ctx + m0 + row_g, seq_len, n0,
          [valid](int jj) { return ((valid >> (jj / kGroupKeys)) & 1) != 0; }, s);
    }
    softmax_probabilities(lt.fold, s, mrow, lrow, corr);
  };
  // Tile j's K is in shared memory; returns its key-group validity.
  auto wait_k = [&](int j) {
    const int st = j % kStages;
    mbar_wait(&pipe.k_full[st], (j / kStages) & 1);
    return pipe.k_valid[st];
  };
  // Tile j's V is in shared memory. The last tile's keys past the range
  // (real cache rows of a partly used key group, which may hold anything)
  // are zeroed first: their probability is 0, but 0 x NaN is not.
  auto wait_v = [&](int j) {
    const int st = j % kStages;
    mbar_wait(&pipe.v_full[st], (j / kStages) & 1);
    const int tail = n_end - (n_begin + j * kBN);  // keys of this tile in the range
    if (tail < kBN && tail % kGroupKeys != 0) {    // uniform: only the last tile
      const int pad_rows = kGroupKeys - tail % kGroupKeys;
      for (int i = ctid; i < pad_rows * (D / 8); i += kConsumerThreads) {
        const int r = tail + i / (D / 8), c = i % (D / 8);
        *reinterpret_cast<uint4*>(vbuf(st) + (c / 8) * kBN * kSlab + r * kSlab + (c % 8) * 8) =
            make_uint4(0, 0, 0, 0);
      }
      fence_proxy_async_shared();
      named_barrier_sync(kConsumerBarrier, kConsumerThreads);
    }
  };
  auto issue_scores = [&](int j, float(&s)[kBN / 8][4]) {  // S(j), one commit group
#pragma unroll
    for (int ks = 0; ks < D / 16; ++ks) wgmma_ss<T, kBN>(s, q_desc(ks), k_desc(j % kStages, ks), ks > 0);
    wgmma_commit();
  };
  auto issue_pv = [&](int j) {  // O += P(j) V(j), one commit group
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) wgmma_rs<T, D>(o, pa[kk], v_desc(j % kStages, kk));
    wgmma_commit();
  };
  // Ping-pong (as FlashAttention-3): the warpgroups take turns issuing their
  // products, so one's softmax runs while the other's products occupy the
  // tensor cores instead of both waiting on them at once.
  const int cw = ctid / 128;
  auto take_turn = [&] { named_barrier_sync(kTurnBarrier + cw, kConsumerThreads); };
  auto pass_turn = [&] { named_barrier_arrive(kTurnBarrier + 1 - cw, kConsumerThreads); };
  if (cw == 1) pass_turn();  // warpgroup 0 goes first

  {
    float s[kBN / 8][4], corr[2];
    const unsigned valid = wait_k(0);
    take_turn();
    wgmma_fence();
    issue_scores(0, s);
    pass_turn();
    wgmma_wait<0>();
    fence_accumulators(s);
    mbar_arrive(&pipe.k_empty[0]);
    softmax_tile(0, valid, s, corr);
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) probabilities_fragment<T>(s, kk, pa[kk]);
  }
  for (int j = 1; j < num_tiles; ++j) {
    float s[kBN / 8][4], corr[2];
    const unsigned valid = wait_k(j);
    wait_v(j - 1);
    take_turn();
    wgmma_fence();
    issue_scores(j, s);
    issue_pv(j - 1);
    pass_turn();
    wgmma_wait<1>();  // S(j) is done; P V of tile j-1 may still run
    fence_accumulators(s);
    mbar_arrive(&pipe.k_empty[j % kStages]);
    softmax_tile(j, valid, s, corr);
    fence_accumulators(s);  // the softmax stays ahead of the wait below, overlapping P V(j-1)
    wgmma_wait<0>();
    fence_accumulators(o);
    fence_fragments(pa);  // pa was read by the P V just finished
    mbar_arrive(&pipe.v_empty[(j - 1) % kStages]);
    rescale_output(corr, o);
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) probabilities_fragment<T>(s, kk, pa[kk]);
  }
  wait_v(num_tiles - 1);
  take_turn();
  wgmma_fence();
  issue_pv(num_tiles - 1);
  if (cw == 0) pass_turn();  // balances the opening pass: every arrival meets a sync
  wgmma_wait<0>();
  fence_accumulators(o);

  store_output_rows<T>(p, lt.fold, h, q_start + m0 + row_g, row_g, rows, o, mrow, lrow);
#endif
}

/// ATTNREG_FLASH_ATTN_PORTABLE_PREFILL=1 keeps every prefill on the mma.sync
/// kernel (read once; for A/B measurements and as an escape hatch).
bool portable_prefill_forced() {
  static const bool forced = [] {
    const char* v = std::getenv("ATTNREG_FLASH_ATTN_PORTABLE_PREFILL");
    return v != nullptr && v[0] != '\0' && v[0] != '0';
  }();
  return forced;
}

template <class T, int D>
bool launch_typed(const KernelParams& p, int& rc) {
  if (!has_sm90a_code<prefill_sm90_kernel<T, D>>()) return false;
  constexpr bool kBf16 = std::is_same_v<T, __nv_bfloat16>;
  CUtensorMap k_map, v_map;
  if (!encode_cache_map(k_map, p.k_cache, p, kBf16) || !encode_cache_map(v_map, p.v_cache, p, kBf16))
    return false;
  const dim3 grid(p.num_heads, p.num_reqs, (p.max_query_len + kBM - 1) / kBM);
  prefill_sm90_kernel<T, D>
      <<<grid, kThreads, smem_bytes<D>(), static_cast<cudaStream_t>(p.stream)>>>(k_map, v_map, p);
  rc = static_cast<int>(cudaGetLastError());
  return true;
}

template <class T>
bool launch_t(const KernelParams& p, int& rc) {
  switch (p.head_size) {
    case 64:
      return launch_typed<T, 64>(p, rc);
    case 128:
      return launch_typed<T, 128>(p, rc);
    default:
      return false;
  }
}

template <class T, int D>
int prepare_typed() {
  if (!has_sm90a_code<prefill_sm90_kernel<T, D>>()) return 0;
  return static_cast<int>(cudaFuncSetAttribute(prefill_sm90_kernel<T, D>,
                                               cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes<D>()));
}

template <int D>
int prepare_d() {
  const int rc = prepare_typed<__nv_bfloat16, D>();
  return rc != 0 ? rc : prepare_typed<__half, D>();
}

}  // namespace

bool launch_prefill_sm90(const KernelParams& p, int& rc) {
  if (p.cache_fp8 || portable_prefill_forced() || p.compute_capability != 90) return false;
  return p.dtype == Dtype::BFloat16 ? launch_t<__nv_bfloat16>(p, rc) : launch_t<__half>(p, rc);
}

int prepare_prefill_sm90(int head_size) {
  if (!device_is_sm90()) return 0;
  switch (head_size) {
    case 64:
      return prepare_d<64>();
    case 128:
      return prepare_d<128>();
    default:
      return 0;
  }
}

}  // namespace attnreg::flash_attn
