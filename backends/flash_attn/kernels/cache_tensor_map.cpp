#include "cache_tensor_map.hpp"

#include <cudaTypedefs.h>  // PFN_cuTensorMapEncodeTiled
#include <cuda_runtime.h>

namespace attnreg::flash_attn {
namespace {

/// cuTensorMapEncodeTiled from the driver, through the runtime (so the
/// plugin never links libcuda); null when the driver has none.
PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static const auto encode = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found) !=
            cudaSuccess ||
        found != cudaDriverEntryPointSuccess)
      fn = nullptr;
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  }();
  return encode;
}

}  // namespace

bool encode_cache_map(CUtensorMap& map, void* base, const KernelParams& p, bool bf16) {
  const auto encode = tensor_map_encoder();
  if (encode == nullptr) return false;
  const cuuint64_t row = static_cast<cuuint64_t>(p.num_kv_heads) * p.head_size;
  const cuuint64_t dims[3] = {row, static_cast<cuuint64_t>(p.block_size),
                              static_cast<cuuint64_t>(p.num_blocks)};
  const cuuint64_t strides[2] = {row * 2, static_cast<cuuint64_t>(p.cache_stride_block) * 2};  // bytes
  const cuuint32_t box[3] = {kCacheBoxCols, kCacheBoxRows, 1};
  const cuuint32_t unit[3] = {1, 1, 1};
  return encode(&map, bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 3, base,
                dims, strides, box, unit, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

}  // namespace attnreg::flash_attn
