// Hopper warpgroup MMA (wgmma) wrappers for the sm_90a prefill kernel:
// shared-memory matrix descriptors, the fence / commit / wait protocol and
// the m64nNk16 products it issues (N = 64 or 128, bf16 or fp16 in, fp32
// accumulate). The operand lists are written out because inline PTX needs
// one operand per accumulator register. Everything compiles to nothing
// outside the sm_90a pass (ATTNREG_HAS_WGMMA), where the kernel that calls
// these is never launched (prefill_sm90.cu checks the binary's architecture).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ == 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define ATTNREG_HAS_WGMMA 1
#endif

namespace attnreg::flash_attn {

/// Descriptor of a wgmma operand in shared memory with the 128-byte swizzle
/// (the tile's slabs start on 1024-byte boundaries, so the base offset is 0).
/// lbo/sbo: leading / stride dimension byte offsets as the PTX ISA defines
/// them (K-major: lbo unused, sbo = 1024 between 8-row groups; MN-major:
/// lbo = bytes between 64-element column slabs, sbo = 1024 between 8-row
/// groups along K).
__device__ __forceinline__ std::uint64_t smem_desc_sw128(const void* smem, std::uint32_t lbo,
                                                         std::uint32_t sbo) {
  const std::uint32_t addr = static_cast<std::uint32_t>(__cvta_generic_to_shared(smem));
  return static_cast<std::uint64_t>((addr & 0x3FFFF) >> 4) |
         (static_cast<std::uint64_t>((lbo & 0x3FFFF) >> 4) << 16) |
         (static_cast<std::uint64_t>((sbo & 0x3FFFF) >> 4) << 32) | (std::uint64_t{1} << 62);
}

/// Orders this thread's register and shared-memory accesses before the
/// next wgmma reads them.
__device__ __forceinline__ void wgmma_fence() {
#ifdef ATTNREG_HAS_WGMMA
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}

/// Closes the group of wgmma issued so far.
__device__ __forceinline__ void wgmma_commit() {
#ifdef ATTNREG_HAS_WGMMA
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}

/// Waits until at most N committed wgmma groups are still running.
template <int N>
__device__ __forceinline__ void wgmma_wait() {
#ifdef ATTNREG_HAS_WGMMA
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}

/// Makes this thread's generic-proxy writes to shared memory (cp.async,
/// ordinary stores) visible to the async proxy that wgmma reads through.
__device__ __forceinline__ void fence_proxy_async_shared() {
#ifdef ATTNREG_HAS_WGMMA
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

// Inline PTX needs one operand per accumulator register: the operand lists
// of an m64nN accumulator (N/2 floats per thread, named d) and their
// register names, then one asm statement per shape and operand source for
// either input type (TY: "bf16" or "f16"). Used only by wgmma_ss / wgmma_rs.
#define ATTNREG_WGMMA_D64                                                                                  \
  "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), "+f"(d[1][2]), \
      "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), "+f"(d[3][0]),            \
      "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), "+f"(d[4][2]),            \
      "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]), "+f"(d[6][0]),            \
      "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]), "+f"(d[7][0]), "+f"(d[7][1]), "+f"(d[7][2]),            \
      "+f"(d[7][3])
#define ATTNREG_WGMMA_REGS64                                                                              \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, " \
  "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define ATTNREG_WGMMA_D128                                                                                 \
  "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), "+f"(d[1][2]), \
      "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), "+f"(d[3][0]),            \
      "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), "+f"(d[4][2]),            \
      "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]), "+f"(d[6][0]),            \
      "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]), "+f"(d[7][0]), "+f"(d[7][1]), "+f"(d[7][2]),            \
      "+f"(d[7][3]), "+f"(d[8][0]), "+f"(d[8][1]), "+f"(d[8][2]), "+f"(d[8][3]), "+f"(d[9][0]),            \
      "+f"(d[9][1]), "+f"(d[9][2]), "+f"(d[9][3]), "+f"(d[10][0]), "+f"(d[10][1]), "+f"(d[10][2]),         \
      "+f"(d[10][3]), "+f"(d[11][0]), "+f"(d[11][1]), "+f"(d[11][2]), "+f"(d[11][3]), "+f"(d[12][0]),      \
      "+f"(d[12][1]), "+f"(d[12][2]), "+f"(d[12][3]), "+f"(d[13][0]), "+f"(d[13][1]), "+f"(d[13][2]),      \
      "+f"(d[13][3]), "+f"(d[14][0]), "+f"(d[14][1]), "+f"(d[14][2]), "+f"(d[14][3]), "+f"(d[15][0]),      \
      "+f"(d[15][1]), "+f"(d[15][2]), "+f"(d[15][3])
#define ATTNREG_WGMMA_REGS128                                                                             \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, " \
  "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, "  \
  "%42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, "  \
  "%62, %63}"
#define ATTNREG_WGMMA_SS_N64(TY)                                                                          \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\nwgmma.mma_async.sync.aligned.m64n64k16.f32." TY \
               "." TY " " ATTNREG_WGMMA_REGS64 ", %32, %33, p, 1, 1, 0, 0;\n}\n"                          \
               : ATTNREG_WGMMA_D64                                                                        \
               : "l"(desc_a), "l"(desc_b), "r"(static_cast<int>(accumulate)))
#define ATTNREG_WGMMA_RS_N64(TY)                                                                          \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\nwgmma.mma_async.sync.aligned.m64n64k16.f32." TY \
               "." TY " " ATTNREG_WGMMA_REGS64 ", {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"            \
               : ATTNREG_WGMMA_D64                                                                        \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(1))
#define ATTNREG_WGMMA_SS_N128(TY)                                                                          \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\nwgmma.mma_async.sync.aligned.m64n128k16.f32." TY \
               "." TY " " ATTNREG_WGMMA_REGS128 ", %64, %65, p, 1, 1, 0, 0;\n}\n"                          \
               : ATTNREG_WGMMA_D128                                                                        \
               : "l"(desc_a), "l"(desc_b), "r"(static_cast<int>(accumulate)))
#define ATTNREG_WGMMA_RS_N128(TY)                                                                          \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\nwgmma.mma_async.sync.aligned.m64n128k16.f32." TY \
               "." TY " " ATTNREG_WGMMA_REGS128 ", {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"            \
               : ATTNREG_WGMMA_D128                                                                        \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(1))

/// d (+)= A * B^T over k16 with A (64 x 16) and B (N x 16), both K-major in
/// shared memory, N = 64 or 128; accumulate = false overwrites d.
template <class T, int N>
__device__ __forceinline__ void wgmma_ss(float (&d)[N / 8][4], std::uint64_t desc_a, std::uint64_t desc_b,
                                         bool accumulate) {
  static_assert(N == 64 || N == 128, "wgmma_ss: N is 64 or 128");
#ifdef ATTNREG_HAS_WGMMA
  constexpr bool kBf16 = std::is_same_v<T, __nv_bfloat16>;
  if constexpr (N == 64 && kBf16) {
    ATTNREG_WGMMA_SS_N64("bf16");
  } else if constexpr (N == 64) {
    ATTNREG_WGMMA_SS_N64("f16");
  } else if constexpr (kBf16) {
    ATTNREG_WGMMA_SS_N128("bf16");
  } else {
    ATTNREG_WGMMA_SS_N128("f16");
  }
#endif
}

/// d += A * B over k16 with A (64 x 16) in registers (the accumulator
/// layout's A fragment) and B (16 x N) in shared memory, MN-major (N
/// contiguous), N = 64 or 128.
template <class T, int N>
__device__ __forceinline__ void wgmma_rs(float (&d)[N / 8][4], const std::uint32_t (&a)[4],
                                         std::uint64_t desc_b) {
  static_assert(N == 64 || N == 128, "wgmma_rs: N is 64 or 128");
#ifdef ATTNREG_HAS_WGMMA
  constexpr bool kBf16 = std::is_same_v<T, __nv_bfloat16>;
  if constexpr (N == 64 && kBf16) {
    ATTNREG_WGMMA_RS_N64("bf16");
  } else if constexpr (N == 64) {
    ATTNREG_WGMMA_RS_N64("f16");
  } else if constexpr (kBf16) {
    ATTNREG_WGMMA_RS_N128("bf16");
  } else {
    ATTNREG_WGMMA_RS_N128("f16");
  }
#endif
}

#undef ATTNREG_WGMMA_SS_N64
#undef ATTNREG_WGMMA_RS_N64
#undef ATTNREG_WGMMA_SS_N128
#undef ATTNREG_WGMMA_RS_N128
#undef ATTNREG_WGMMA_D64
#undef ATTNREG_WGMMA_D128
#undef ATTNREG_WGMMA_REGS64
#undef ATTNREG_WGMMA_REGS128

/// Tells the compiler every accumulator register is read and written here,
/// so no access to them moves across a wgmma issue or wait.
template <int N>
__device__ __forceinline__ void fence_accumulators(float (&d)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i) {
#pragma unroll
    for (int e = 0; e < 4; ++e) asm volatile("" : "+f"(d[i][e])::"memory");
  }
}

/// The same for A fragments in registers: keeps them allocated, and
/// unchanged, until this point (a wgmma reads them asynchronously).
template <int N>
__device__ __forceinline__ void fence_fragments(std::uint32_t (&a)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i) {
#pragma unroll
    for (int e = 0; e < 4; ++e) asm volatile("" : "+r"(a[i][e])::"memory");
  }
}

}  // namespace attnreg::flash_attn
