// Tensor maps of the paged KV cache for the Hopper kernels' bulk tensor
// copies (TMA): the prefill kernel (prefill_sm90.cu) and the decode kernel
// (decode_tma.cuh) read the cache in the same boxes.
#pragma once

#include <cuda.h>  // CUtensorMap

#include "params.hpp"

namespace attnreg::flash_attn {

/// Elements of one box row: 128 bytes of a 16-bit cache, the 128-byte
/// swizzle's width.
inline constexpr int kCacheBoxCols = 64;
/// Key rows of one box (block sizes are multiples of 16).
inline constexpr int kCacheBoxRows = 16;

/// Encodes the tensor map of one cache half at base (16-bit elements, bf16
/// when bf16 is set) as [num_blocks][block_size][num_kv_heads * head_size],
/// read in boxes of kCacheBoxRows slots x kCacheBoxCols elements with the
/// 128-byte swizzle; a box at block num_blocks reads zeros. False when the
/// driver has no encoder or refuses the layout (the caller then takes a
/// kernel without TMA). A host function only: no stream operation, legal
/// during graph capture.
bool encode_cache_map(CUtensorMap& map, void* base, const KernelParams& p, bool bf16);

}  // namespace attnreg::flash_attn
