#include <fmt/format.h>

#include <array>
#include <attnreg/errors.hpp>
#include <attnreg/forward_args.hpp>
#include <attnreg/numeric.hpp>
#include <attnreg/reference.hpp>
#include <attnreg/tensor.hpp>
#include <cstring>
#include <tuple>
#include <utility>

namespace attnreg::reference {

void write_kv_cache(const AttentionLayerParams& params, const DLTensor& key, const DLTensor& value,
                    const DLTensor& kv_cache, const DLTensor& slot_mapping) {
  validate_layer_params(params);
  constexpr std::string_view kKvDims = "num_tokens, num_kv_heads, head_size";
  constexpr std::string_view kCacheDims = "2, num_blocks, block_size, num_kv_heads, head_size";
  for (const auto& [t, name, ndim, dims] :
       {std::tuple{&key, "key", 3, kKvDims}, std::tuple{&value, "value", 3, kKvDims},
        std::tuple{&kv_cache, "kv_cache", 5, kCacheDims},
        std::tuple{&slot_mapping, "slot_mapping", 1, std::string_view("num_tokens")}}) {
    tensor::expect_device(*t, name, DeviceType::CPU);
    tensor::expect_ndim(*t, name, ndim, dims);
    tensor::expect_usable_strides(*t, name, dims);
  }
  const ScalarType dtype =
      tensor::expect_dtype(key, "key", {ScalarType::BFloat16, ScalarType::Float16, ScalarType::Float32});
  tensor::expect_dtype(value, "value", {dtype});
  const bool fp8 = params.kv_cache_dtype == "fp8_e4m3";
  tensor::expect_dtype(kv_cache, "kv_cache", {fp8 ? ScalarType::UInt8 : dtype});
  tensor::expect_dtype(slot_mapping, "slot_mapping", {ScalarType::Int64});
  const std::int64_t num_tokens = key.shape[0];
  const std::array<std::int64_t, 3> kv_shape{num_tokens, params.num_kv_heads, params.head_size};
  tensor::expect_shape(key, "key", kv_shape, kKvDims);
  tensor::expect_shape(value, "value", kv_shape, kKvDims);
  const std::int64_t num_blocks = kv_cache.shape[1], block_size = kv_cache.shape[2];
  const std::array<std::int64_t, 5> cache_shape{2, num_blocks, block_size, params.num_kv_heads,
                                                params.head_size};
  tensor::expect_shape(kv_cache, "kv_cache", cache_shape, kCacheDims);
  const std::array<std::int64_t, 1> slots_shape{num_tokens};
  tensor::expect_shape(slot_mapping, "slot_mapping", slots_shape, "num_tokens");

  const auto slots = tensor::TensorView::of(slot_mapping, ScalarType::Int64);
  for (std::int64_t t = 0; t < num_tokens; ++t) {
    const std::int64_t slot = *slots.ptr<const std::int64_t>(t);
    if (slot >= num_blocks * block_size)
      throw ValueError(
          fmt::format("slot_mapping: entry {} is {}; expected a negative (padding) slot or one in [0, {}) "
                      "(num_blocks {} * "
                      "block_size {})",
                      t, slot, num_blocks * block_size, num_blocks, block_size));
  }

  const auto cache = tensor::TensorView::of(kv_cache, fp8 ? ScalarType::Float8_E4M3 : dtype);
  const std::array<std::pair<tensor::TensorView, float>, 2> sources{
      {{tensor::TensorView::of(key, dtype), params.k_scale},
       {tensor::TensorView::of(value, dtype), params.v_scale}}};
  const int bytes = element_size(dtype);
  for (std::int64_t t = 0; t < num_tokens; ++t) {
    const std::int64_t slot = *slots.ptr<const std::int64_t>(t);
    if (slot < 0) continue;
    for (int kv = 0; kv < 2; ++kv) {
      const auto& [src, scale] = sources[kv];
      for (std::int64_t h = 0; h < params.num_kv_heads; ++h)
        for (std::int64_t d = 0; d < params.head_size; ++d) {
          std::byte* dst = cache.at(kv, slot / block_size, slot % block_size, h, d);
          const std::byte* from = src.at(t, h, d);
          if (fp8) {
            const auto x = static_cast<float>(numeric::load_as_double(from, dtype));
            numeric::store_from_float(dst, ScalarType::Float8_E4M3, x / scale);
          } else {
            std::memcpy(dst, from, bytes);
          }
        }
    }
  }
}

}  // namespace attnreg::reference
