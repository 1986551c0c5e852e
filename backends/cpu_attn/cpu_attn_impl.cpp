#include "cpu_attn_impl.hpp"

#include <attnreg/forward_args.hpp>
#include <attnreg/numeric.hpp>
#include <attnreg/tensor.hpp>

#include "kernels/kv_cache_write.hpp"

namespace attnreg::cpu_attn {

CpuAttentionImpl::CpuAttentionImpl(const AttentionLayerParams& params) : params_(params) {
  const auto heads = static_cast<std::size_t>(params.num_heads);
  if (params.sinks) sinks_.assign(params.sinks, params.sinks + heads);
  if (params.alibi_slopes) alibi_slopes_.assign(params.alibi_slopes, params.alibi_slopes + heads);
  params_.sinks = params.sinks ? sinks_.data() : nullptr;
  params_.alibi_slopes = params.alibi_slopes ? alibi_slopes_.data() : nullptr;
  for (int b = 0; b < 256; ++b) {
    const float x = numeric::fp8_e4m3_to_float(static_cast<std::uint8_t>(b));
    fp8_k_lut_[b] = x * params.k_scale;
    fp8_v_lut_[b] = x * params.v_scale;
  }
}

void CpuAttentionImpl::forward(const DLTensor& query, const DLTensor& key, const DLTensor& value,
                               const DLTensor& kv_cache, const AttentionMetadata& metadata,
                               const DLTensor& output) {
  const ForwardArgs z =
      validate_forward_args(params_, query, key, value, kv_cache, metadata, output, DeviceType::CPU, true);

  const auto cache = tensor::TensorView::of(kv_cache, z.cache_dtype);
  const auto slots = tensor::TensorView::of(*metadata.slot_mapping, ScalarType::Int64);
  CacheWriteArgs w;
  w.key = tensor::TensorView::of(key, z.dtype);
  w.value = tensor::TensorView::of(value, z.dtype);
  w.cache = cache;
  w.slot_mapping = slots.ptr<const std::int64_t>(0);
  w.slot_mapping_stride = slots.strides[0];
  w.num_tokens = z.num_tokens;
  w.num_kv_heads = z.num_kv_heads;
  w.head_size = z.head_size;
  w.block_size = z.block_size;
  w.k_scale = params_.k_scale;
  w.v_scale = params_.v_scale;
  write_kv_cache(w);

  const auto qsl = tensor::TensorView::of(*metadata.query_start_loc, ScalarType::Int32);
  const auto seq = tensor::TensorView::of(*metadata.seq_lens, ScalarType::Int32);
  const auto table = tensor::TensorView::of(*metadata.block_table, ScalarType::Int32);
  KernelArgs a;
  a.sizes = z;
  a.query = tensor::TensorView::of(query, z.dtype);
  a.output = tensor::TensorView::of(output, z.dtype);
  a.cache = cache;
  // 1-d metadata with more than one entry has stride 1 (validated); a single
  // entry is read at offset 0 whatever its stride.
  a.query_start_loc = qsl.ptr<const std::int32_t>(0);
  a.seq_lens = z.num_reqs > 0 ? seq.ptr<const std::int32_t>(0) : nullptr;
  a.block_table = table.ptr<const std::int32_t>(0, 0);
  a.block_table_stride = table.strides[0];
  a.sinks = params_.sinks;
  a.alibi_slopes = params_.alibi_slopes;
  a.logits_soft_cap = params_.logits_soft_cap;
  a.sliding_window = params_.sliding_window.value_or(0);
  a.fp8_k_lut = fp8_k_lut_.data();
  a.fp8_v_lut = fp8_v_lut_.data();
  a.k_scale = params_.k_scale;
  a.v_scale = params_.v_scale;
  run_attention(a, workspace_);
}

}  // namespace attnreg::cpu_attn
