// reshape_and_cache: scatters this step's key/value rows [T, Hkv, D] into the
// paged cache at slot_mapping (vLLM's reshape_and_cache_flash). One thread
// moves eight elements of K and of V; negative slots are padding and skipped;
// a slot past the cache raises the error flag and is skipped.
#include <cuda_runtime.h>

#include "common.cuh"

namespace attnreg::flash_attn {
namespace {

template <class T, bool kFp8>
__global__ void reshape_and_cache_kernel(CacheWriteParams p) {
  using C = CacheElem<T, kFp8>;
  const int chunks = p.head_size / 8;
  const long long per_token = static_cast<long long>(p.num_kv_heads) * chunks;
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= per_token * p.num_tokens) return;
  const int t = static_cast<int>(i / per_token);
  const int h = static_cast<int>((i % per_token) / chunks);
  const int c = static_cast<int>(i % chunks);
  const long long slot = p.slot_mapping[t];
  if (slot < 0) return;
  const long long blk = slot / p.block_size;
  if (blk >= p.num_blocks) {
    atomicOr(p.error_flag, 2);
    return;
  }
  const long long off = blk * p.cache_stride_block +
                        ((slot % p.block_size) * p.num_kv_heads + h) * static_cast<long long>(p.head_size) +
                        c * 8;
  const T* k = static_cast<const T*>(p.key) + t * p.k_stride_t + h * p.k_stride_h + c * 8;
  const T* v = static_cast<const T*>(p.value) + t * p.v_stride_t + h * p.v_stride_h + c * 8;
  C* kc = static_cast<C*>(p.k_cache) + off;
  C* vc = static_cast<C*>(p.v_cache) + off;
  if constexpr (kFp8) {
    float kf[8], vf[8];
    load8(k, kf);
    load8(v, vf);
    __nv_fp8_e4m3 ko[8], vo[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      ko[e] = __nv_fp8_e4m3(kf[e] / p.k_scale);
      vo[e] = __nv_fp8_e4m3(vf[e] / p.v_scale);
    }
    *reinterpret_cast<uint2*>(kc) = *reinterpret_cast<const uint2*>(ko);
    *reinterpret_cast<uint2*>(vc) = *reinterpret_cast<const uint2*>(vo);
  } else {
    *reinterpret_cast<uint4*>(kc) = *reinterpret_cast<const uint4*>(k);
    *reinterpret_cast<uint4*>(vc) = *reinterpret_cast<const uint4*>(v);
  }
}

template <class T>
void launch_typed(const CacheWriteParams& p, cudaStream_t s) {
  const long long n = static_cast<long long>(p.num_tokens) * p.num_kv_heads * (p.head_size / 8);
  const int threads = 256;
  const unsigned blocks = static_cast<unsigned>((n + threads - 1) / threads);
  if (p.cache_fp8) {
    reshape_and_cache_kernel<T, true><<<blocks, threads, 0, s>>>(p);
  } else {
    reshape_and_cache_kernel<T, false><<<blocks, threads, 0, s>>>(p);
  }
}

}  // namespace

int launch_reshape_and_cache(const CacheWriteParams& p) {
  if (p.num_tokens == 0) return 0;
  auto s = static_cast<cudaStream_t>(p.stream);
  if (p.dtype == Dtype::BFloat16) {
    launch_typed<__nv_bfloat16>(p, s);
  } else {
    launch_typed<__half>(p, s);
  }
  return static_cast<int>(cudaGetLastError());
}

}  // namespace attnreg::flash_attn
