#include "no_attention_impl.hpp"

#include <fmt/format.h>

#include <array>
#include <attnreg/errors.hpp>
#include <attnreg/tensor.hpp>
#include <tuple>
#include <utility>

namespace attnreg::no_attention {

void NoAttentionImpl::forward(const DLTensor& query, const DLTensor& key, const DLTensor& value,
                              const DLTensor&, const AttentionMetadata&, const DLTensor& output) {
  constexpr std::string_view kTokenDims = "num_tokens, num_heads, head_size";
  constexpr std::string_view kKvDims = "num_tokens, num_kv_heads, head_size";
  if (!tensor::is_host_accessible(query) && !tensor::is_cuda(query))
    throw ValueError(
        fmt::format("query: expected a cpu or cuda tensor, got {}", tensor::device_string(query)));
  const DeviceType device = tensor::is_cuda(query) ? DeviceType::CUDA : DeviceType::CPU;
  tensor::expect_ndim(query, "query", 3, kTokenDims);
  const ScalarType dtype =
      tensor::expect_dtype(query, "query", {ScalarType::BFloat16, ScalarType::Float16, ScalarType::Float32});
  tensor::expect_usable_strides(query, "query", kTokenDims);
  for (const auto& [t, name, dims] : {std::tuple{&key, "key", kKvDims}, std::tuple{&value, "value", kKvDims},
                                      std::tuple{&output, "output", kTokenDims}}) {
    tensor::expect_device(*t, name, device);
    tensor::expect_ndim(*t, name, 3, dims);
    tensor::expect_dtype(*t, name, {dtype});
    tensor::expect_usable_strides(*t, name, dims);
  }
  for (const auto& [t, name] : {std::pair{&key, "key"}, std::pair{&value, "value"}})
    if (t->shape[0] != query.shape[0])
      throw ValueError(fmt::format("{}: expected {} tokens (the query's num_tokens), got shape {}", name,
                                   query.shape[0], tensor::shape_string(*t)));
  const std::array<std::int64_t, 3> shape{query.shape[0], query.shape[1], query.shape[2]};
  tensor::expect_shape(output, "output", shape, kTokenDims);
}

}  // namespace attnreg::no_attention
