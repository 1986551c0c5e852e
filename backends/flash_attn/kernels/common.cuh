// Helpers shared by the FLASH_ATTN kernels: element conversions, 16-byte
// vector loads, fp8 dequantisation, masking and the soft-cap (device), and
// whether a kernel has sm_90a code (host, for the launchers).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "device_capability.hpp"
#include "params.hpp"

namespace attnreg::flash_attn {

/// Whether the kernel kKernel holds sm_90a machine code (a build without
/// that target compiles the Hopper kernels empty), asked once per process.
template <auto kKernel>
bool has_sm90a_code() {
  static const bool yes = [] {
    cudaFuncAttributes attr{};
    return cudaFuncGetAttributes(&attr, kKernel) == cudaSuccess && attr.binaryVersion == 90;
  }();
  return yes;
}

/// Element type of query/output for each Dtype.
template <Dtype D>
struct ElemOf;
template <>
struct ElemOf<Dtype::Float16> {
  using type = __half;
};
template <>
struct ElemOf<Dtype::BFloat16> {
  using type = __nv_bfloat16;
};

__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
template <class T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ __half from_float<__half>(float x) {
  return __float2half_rn(x);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

/// Eight consecutive elements of a model-dtype row, as floats (one 16-byte load).
template <class T>
__device__ __forceinline__ void load8(const T* src, float (&dst)[8]) {
  const uint4 raw = *reinterpret_cast<const uint4*>(src);
  const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
  for (int i = 0; i < 8; ++i) dst[i] = to_float(e[i]);
}

/// Eight consecutive fp8 e4m3 elements (one 8-byte load), times scale.
__device__ __forceinline__ void load8_fp8(const std::uint8_t* src, float scale, float (&dst)[8]) {
  const uint2 raw = *reinterpret_cast<const uint2*>(src);
  const __nv_fp8_e4m3* e = reinterpret_cast<const __nv_fp8_e4m3*>(&raw);
#pragma unroll
  for (int i = 0; i < 8; ++i) dst[i] = float(e[i]) * scale;
}

/// Cache element type: fp8 bytes or the model type.
template <class T, bool kFp8>
using CacheElem = std::conditional_t<kFp8, std::uint8_t, T>;

/// Bytes of one cache element where the model type is not in scope: fp8, or
/// one of the 16-bit model types (the only ones the kernels take).
template <bool kFp8>
inline constexpr int kCacheElemBytes = kFp8 ? 1 : 2;

/// Eight cache elements as floats, dequantised when the cache is fp8.
template <class T, bool kFp8>
__device__ __forceinline__ void load8_cache(const CacheElem<T, kFp8>* src, float scale, float (&dst)[8]) {
  if constexpr (kFp8) {
    load8_fp8(src, scale, dst);
  } else {
    load8(src, dst);
  }
}

/// Applies the logits soft-cap (cap * tanh(s / cap)) when cap > 0.
__device__ __forceinline__ float soft_cap(float s, float cap) {
  return cap > 0.0f ? cap * tanhf(s / cap) : s;
}

/// Range [lo, hi) of key positions a query at position pos may see.
struct KeyRange {
  int lo, hi;
};
__device__ __forceinline__ KeyRange key_range(int pos, int seq_len, bool causal, int window) {
  const int hi = causal ? min(pos + 1, seq_len) : seq_len;
  const int lo = window > 0 ? max(0, pos - window + 1) : 0;
  return {lo, hi};
}

/// Physical block of logical block index lb of a request, or -1 (and the
/// error flag raised) when lb is past the table's row or the entry is not a
/// block of the cache. The table is never read out of its row.
__device__ __forceinline__ int physical_block(const KernelParams& p, const int* row, int lb) {
  if (lb >= p.max_blocks_per_req) {
    atomicOr(p.error_flag, 1);
    return -1;
  }
  const int b = row[lb];
  const int num_blocks = p.num_blocks;
  int* error_flag = p.error_flag;
  if (b < 0 || b >= num_blocks) {
    if (error_flag != nullptr) atomicOr(error_flag, 1);
    return -1;
  }
  return b;
}

}  // namespace attnreg::flash_attn
