// Writing this step's keys and values into the paged KV cache (vLLM's
// reshape_and_cache_flash) for CPU_ATTN.
//
// Thread safety: writes only the cache; concurrent calls must not target the
// same slots.
#pragma once

#include <attnreg/tensor.hpp>
#include <cstdint>

namespace attnreg::cpu_attn {

/// Where and how to write.
struct CacheWriteArgs {
  tensor::TensorView key, value;               ///< [T, Hkv, D], the model dtype
  tensor::TensorView cache;                    ///< [2, num_blocks, block_size, Hkv, D], cache element type
  const std::int64_t* slot_mapping = nullptr;  ///< [T]; negative = padding, skipped
  std::int64_t slot_mapping_stride = 1;        ///< elements between entries
  std::int64_t num_tokens = 0, num_kv_heads = 0, head_size = 0, block_size = 0;
  /// fp8 caches store float_to_fp8_e4m3(x / scale), saturating; others copy.
  float k_scale = 1.0f, v_scale = 1.0f;
};

/// Copies (or quantises, for an fp8 cache) every non-padding token's key and
/// value rows into slot slot_mapping[t]: block slot / block_size, offset
/// slot % block_size. Slots must already be validated.
void write_kv_cache(const CacheWriteArgs& args);

}  // namespace attnreg::cpu_attn
