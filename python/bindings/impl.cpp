// python/bindings/impl.cpp: AttentionImpl.forward / reshape_and_cache on
// DLPack tensors. nanobind's ndarray takes the caller's buffer as it is (no
// dtype, layout or device constraint is declared, so nothing is converted or
// copied); the backend's own validation then refuses a wrong dtype, shape,
// stride or device with ValueError before anything is written.
//
// Thread safety: forward releases the GIL, so several Python threads may run
// different impls at once; one impl is used by one thread at a time
// (backend.hpp), as a layer module is.
#include "impl.hpp"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <utility>

#include "bindings.hpp"
#include "conversions.hpp"

namespace nb = nanobind;

namespace attnreg::python {

std::unique_ptr<PyAttentionImpl> make_py_impl(const AttentionBackend& backend, int num_heads, int head_size,
                                              int num_kv_heads, float scale,
                                              std::optional<int> sliding_window, float logits_soft_cap,
                                              std::string kv_cache_dtype, const std::string& attn_type,
                                              std::optional<std::vector<float>> sinks,
                                              std::optional<std::vector<float>> alibi_slopes, float k_scale,
                                              float v_scale) {
  auto out = std::make_unique<PyAttentionImpl>();
  AttentionLayerParams params;
  params.num_heads = num_heads;
  params.head_size = head_size;
  params.num_kv_heads = num_kv_heads;
  params.scale = scale;
  params.sliding_window = sliding_window;
  params.logits_soft_cap = logits_soft_cap;
  params.kv_cache_dtype = std::move(kv_cache_dtype);
  params.attn_type = parse_attn_type(attn_type);
  params.k_scale = k_scale;
  params.v_scale = v_scale;
  // The vectors live in `out`, so the pointers stay valid as long as the impl.
  if (sinks) {
    out->sinks = std::move(*sinks);
    params.sinks = out->sinks.data();
  }
  if (alibi_slopes) {
    out->alibi_slopes = std::move(*alibi_slopes);
    params.alibi_slopes = out->alibi_slopes.data();
  }
  out->impl = backend.make_impl(params);
  return out;
}

void bind_impl(nb::module_& m) {
  nb::class_<PyAttentionMetadata>(m, "AttentionMetadata",
                                  "vLLM's per-step batch description over DLPack tensors (held, not copied).")
      .def(nb::init<InTensor, InTensor, InTensor, InTensor, int, int, bool>(), nb::kw_only(),
           nb::arg("query_start_loc"), nb::arg("seq_lens"), nb::arg("block_table"), nb::arg("slot_mapping"),
           nb::arg("max_query_len"), nb::arg("max_seq_len"), nb::arg("causal") = true)
      .def_ro("query_start_loc", &PyAttentionMetadata::query_start_loc)
      .def_ro("seq_lens", &PyAttentionMetadata::seq_lens)
      .def_ro("block_table", &PyAttentionMetadata::block_table)
      .def_ro("slot_mapping", &PyAttentionMetadata::slot_mapping)
      .def_ro("max_query_len", &PyAttentionMetadata::max_query_len)
      .def_ro("max_seq_len", &PyAttentionMetadata::max_seq_len)
      .def_ro("causal", &PyAttentionMetadata::causal);

  nb::class_<PyAttentionImpl>(m, "AttentionImpl", "One layer's attention computation (AttentionImpl).")
      .def(
          "forward",
          [](PyAttentionImpl& self, const InTensor& query, const InTensor& key, const InTensor& value,
             const OutTensor& kv_cache, const PyAttentionMetadata& md, const OutTensor& output) {
            const DLTensor q = as_dltensor(query), k = as_dltensor(key), v = as_dltensor(value);
            const DLTensor cache = as_dltensor(kv_cache), out = as_dltensor(output);
            const DLTensor qsl = as_dltensor(md.query_start_loc), sl = as_dltensor(md.seq_lens);
            const DLTensor bt = as_dltensor(md.block_table), sm = as_dltensor(md.slot_mapping);
            AttentionMetadata meta;
            meta.query_start_loc = &qsl;
            meta.seq_lens = &sl;
            meta.block_table = &bt;
            meta.slot_mapping = &sm;
            meta.max_query_len = md.max_query_len;
            meta.max_seq_len = md.max_seq_len;
            meta.causal = md.causal;
            nb::gil_scoped_release release;
            self.impl->forward(q, k, v, cache, meta, out);
          },
          nb::arg("query"), nb::arg("key"), nb::arg("value"), nb::arg("kv_cache"), nb::arg("attn_metadata"),
          nb::arg("output"),
          "Writes key/value into kv_cache at slot_mapping, then attention into output (both in place).")
      .def(
          "reshape_and_cache",
          [](PyAttentionImpl& self, const InTensor& key, const InTensor& value, const OutTensor& kv_cache,
             const InTensor& slot_mapping) {
            const DLTensor k = as_dltensor(key), v = as_dltensor(value);
            const DLTensor cache = as_dltensor(kv_cache), sm = as_dltensor(slot_mapping);
            nb::gil_scoped_release release;
            self.impl->reshape_and_cache(k, v, cache, sm);
          },
          nb::arg("key"), nb::arg("value"), nb::arg("kv_cache"), nb::arg("slot_mapping"),
          "Writes key/value [T, Hkv, D] into kv_cache at slot_mapping (negative slots skipped), in place.");
}

}  // namespace attnreg::python
