// The AttentionImpl of NO_ATTENTION: forward checks the tensors it is given
// and writes nothing.
#pragma once

#include <attnreg/backend.hpp>

namespace attnreg::no_attention {

/// Forward of an attention-free layer. Stateless: any thread, concurrently.
class NoAttentionImpl final : public AttentionImpl {
 public:
  /// Checks, in this order, and throws ValueError naming the tensor:
  ///  - query: a CPU-readable (kDLCPU, kDLCUDAHost) or CUDA (kDLCUDA,
  ///    kDLCUDAManaged) tensor, 3 dimensions, dtype bfloat16, float16 or
  ///    float32, usable strides (tensor::expect_usable_strides);
  ///  - key, value, output: on the query's kind of device, 3 dimensions,
  ///    the query's dtype, usable strides; key/value with the query's number
  ///    of tokens, output with the query's shape.
  /// kv_cache and metadata are not read (the cache is empty, there is no batch
  /// to describe). Nothing is written: not the cache, not the output.
  void forward(const DLTensor& query, const DLTensor& key, const DLTensor& value, const DLTensor& kv_cache,
               const AttentionMetadata& metadata, const DLTensor& output) override;
};

}  // namespace attnreg::no_attention
