// python/bindings/impl.hpp: a layer implementation as Python holds it, and
// DLPack-capable Python tensors seen as DLTensors without copying.
#pragma once

#include <dlpack/dlpack.h>
#include <nanobind/ndarray.h>

#include <attnreg/backend.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace attnreg::python {

/// Any DLPack-capable object (numpy array, torch tensor), read-only, never converted.
using InTensor = nanobind::ndarray<nanobind::ro>;
/// A tensor the backend writes (kv_cache, output), never converted.
using OutTensor = nanobind::ndarray<>;

/// A DLTensor describing the same memory as t (shape and strides point into
/// t, so t must outlive the result).
template <class Array>
DLTensor as_dltensor(const Array& t) {
  DLTensor d{};
  d.data = const_cast<void*>(static_cast<const void*>(t.data()));
  d.device = DLDevice{static_cast<DLDeviceType>(t.device_type()), t.device_id()};
  d.ndim = static_cast<int>(t.ndim());
  const auto dt = t.dtype();
  d.dtype = DLDataType{dt.code, dt.bits, dt.lanes};
  d.shape = const_cast<std::int64_t*>(t.shape_ptr());
  d.strides = const_cast<std::int64_t*>(t.stride_ptr());
  d.byte_offset = 0;
  return d;
}

/// vLLM's per-step batch description, holding the Python tensors it refers to.
struct PyAttentionMetadata {
  InTensor query_start_loc, seq_lens, block_table, slot_mapping;
  int max_query_len = 0, max_seq_len = 0;
  bool causal = true;
};

/// One layer's implementation together with the per-head arrays its
/// parameters point to (the impl may keep those pointers for its lifetime).
struct PyAttentionImpl {
  std::vector<float> sinks, alibi_slopes;
  std::unique_ptr<AttentionImpl> impl;
};

/// backend.make_impl with Python-friendly arguments (see AttentionLayerParams).
std::unique_ptr<PyAttentionImpl> make_py_impl(const AttentionBackend& backend, int num_heads, int head_size,
                                              int num_kv_heads, float scale,
                                              std::optional<int> sliding_window, float logits_soft_cap,
                                              std::string kv_cache_dtype, const std::string& attn_type,
                                              std::optional<std::vector<float>> sinks,
                                              std::optional<std::vector<float>> alibi_slopes, float k_scale,
                                              float v_scale);

}  // namespace attnreg::python
