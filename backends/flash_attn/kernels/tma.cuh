// Hopper asynchronous copies for the sm_90a kernels (prefill and decode): shared-memory
// mbarriers (a producer arms one with the bytes it expects; the tensor
// memory accelerator completes them; consumers wait on its phase), bulk
// tensor copies (TMA) through a tensor map, register reallocation between
// warpgroups and named barriers. Like wgmma.cuh, everything is empty outside
// the sm_90a pass.
#pragma once

#include <cstdint>

#include "wgmma.cuh"  // ATTNREG_HAS_WGMMA

namespace attnreg::flash_attn {

__device__ __forceinline__ std::uint32_t smem_addr(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

/// Initialises an mbarrier that completes a phase after `count` arrivals
/// (and, when armed with expect_tx, the expected bytes).
__device__ __forceinline__ void mbar_init(std::uint64_t* bar, unsigned count) {
#ifdef ATTNREG_HAS_WGMMA
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(count) : "memory");
#endif
}

/// Makes initialised mbarriers visible to the async proxy (the TMA unit).
__device__ __forceinline__ void mbar_init_fence() {
#ifdef ATTNREG_HAS_WGMMA
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
}

/// One arrival that also expects `bytes` more bytes of TMA copies this phase.
__device__ __forceinline__ void mbar_arrive_expect_tx(std::uint64_t* bar, unsigned bytes) {
#ifdef ATTNREG_HAS_WGMMA
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(bytes)
               : "memory");
#endif
}

/// One arrival (release: this thread's earlier accesses happen before the phase completes).
__device__ __forceinline__ void mbar_arrive(std::uint64_t* bar) {
#ifdef ATTNREG_HAS_WGMMA
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_addr(bar)) : "memory");
#endif
}

/// Waits until the phase with the given parity (0 or 1) has completed (acquire).
__device__ __forceinline__ void mbar_wait(std::uint64_t* bar, unsigned parity) {
#ifdef ATTNREG_HAS_WGMMA
  const std::uint32_t addr = smem_addr(bar);
  std::uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(addr), "r"(parity)
        : "memory");
  } while (done == 0);
#endif
}

/// Asks for a tensor map (a __grid_constant__ kernel parameter) to be
/// fetched into the copy engine's descriptor cache, so that the first copy
/// through it does not wait for that trip.
__device__ __forceinline__ void prefetch_tensor_map(const void* tensor_map) {
#ifdef ATTNREG_HAS_WGMMA
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<std::uint64_t>(tensor_map)) : "memory");
#endif
}

/// Copies the box of a 3-d tensor map at coordinates (c0, c1, c2), innermost
/// first, into shared memory at dst; completes `bytes` of bar's phase.
/// Coordinates outside the tensor read as zeros.
__device__ __forceinline__ void tma_load_3d(void* dst, const void* tensor_map, int c0, int c1, int c2,
                                            std::uint64_t* bar) {
#ifdef ATTNREG_HAS_WGMMA
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], "
      "[%5];\n" ::"r"(smem_addr(dst)),
      "l"(reinterpret_cast<std::uint64_t>(tensor_map)), "r"(c0), "r"(c1), "r"(c2), "r"(smem_addr(bar))
      : "memory");
#endif
}

/// Gives back registers (producer warpgroups) or takes them (consumers);
/// every warp of the warpgroup executes it.
template <int kRegs>
__device__ __forceinline__ void warpgroup_reg_dealloc() {
#ifdef ATTNREG_HAS_WGMMA
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegs));
#endif
}
template <int kRegs>
__device__ __forceinline__ void warpgroup_reg_alloc() {
#ifdef ATTNREG_HAS_WGMMA
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegs));
#endif
}

/// Barrier `id` (1..15; 0 is __syncthreads) over `threads` threads.
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

/// Arrives at barrier `id` without waiting (the other side syncs).
__device__ __forceinline__ void named_barrier_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

}  // namespace attnreg::flash_attn
