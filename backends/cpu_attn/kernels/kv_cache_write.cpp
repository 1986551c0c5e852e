#include "kernels/kv_cache_write.hpp"

#include <attnreg/numeric.hpp>
#include <cstring>

namespace attnreg::cpu_attn {
namespace {

/// One row of head_size elements into the cache: a copy when the types match,
/// else fp8 quantisation as the reference does it (a float division by scale).
void write_row(const std::byte* src, ScalarType src_type, std::byte* dst, ScalarType dst_type,
               std::int64_t head_size, float scale) {
  if (src_type == dst_type) {
    std::memcpy(dst, src, static_cast<std::size_t>(head_size * element_size(src_type)));
    return;
  }
  const int esize = element_size(src_type);
  for (std::int64_t i = 0; i < head_size; ++i) {
    const auto x = static_cast<float>(numeric::load_as_double(src + i * esize, src_type));
    dst[i] = static_cast<std::byte>(numeric::float_to_fp8_e4m3(x / scale));
  }
}

}  // namespace

void write_kv_cache(const CacheWriteArgs& a) {
  for (std::int64_t t = 0; t < a.num_tokens; ++t) {
    const std::int64_t slot = a.slot_mapping[t * a.slot_mapping_stride];
    if (slot < 0) continue;
    const std::int64_t block = slot / a.block_size, offset = slot % a.block_size;
    for (std::int64_t g = 0; g < a.num_kv_heads; ++g) {
      write_row(a.key.at(t, g, 0), a.key.dtype, a.cache.at(0, block, offset, g, 0), a.cache.dtype,
                a.head_size, a.k_scale);
      write_row(a.value.at(t, g, 0), a.value.dtype, a.cache.at(1, block, offset, g, 0), a.cache.dtype,
                a.head_size, a.v_scale);
    }
  }
}

}  // namespace attnreg::cpu_attn
