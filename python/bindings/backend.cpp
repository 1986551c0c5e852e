// python/bindings/backend.cpp: AttentionBackend (what get_class returns for a
// C++ class) and AttentionConfig. Enum-valued fields travel as the strings
// vLLM uses ("bfloat16", "cuda", "decoder"); a capability is (major, minor).
//
// Thread safety: backend objects are immutable (backend.hpp), so their
// methods may be called from any Python thread. An AttentionConfig is a plain
// value: do not mutate one from two threads at once.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <attnreg/backend.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "conversions.hpp"
#include "impl.hpp"

namespace nb = nanobind;

namespace attnreg::python {
namespace {

using Capability = std::pair<int, int>;

std::optional<Capability> capability_to_py(const std::optional<DeviceCapability>& c) {
  if (!c) return std::nullopt;
  return Capability{c->major, c->minor};
}

std::optional<DeviceCapability> capability_from_py(const std::optional<Capability>& c) {
  if (!c) return std::nullopt;
  return DeviceCapability{c->first, c->second};
}

template <class T, class F>
std::vector<std::string> names_of(const std::vector<T>& values, F to_name) {
  std::vector<std::string> out;
  for (const T& v : values) out.emplace_back(to_name(v));
  return out;
}

void bind_config(nb::module_& m) {
  nb::class_<AttentionConfig>(
      m, "AttentionConfig",
      "Everything validate_configuration takes (vLLM's arguments plus the layer shape).")
      .def(
          "__init__",
          [](AttentionConfig* c, int head_size, std::string_view dtype, std::string kv_cache_dtype,
             std::optional<int> block_size, bool use_mla, bool has_sink, bool use_sparse, bool use_mm_prefix,
             bool use_per_head_quant_scales, std::string_view device,
             std::optional<Capability> device_capability, std::string_view attn_type, bool use_non_causal,
             bool use_batch_invariant, int num_heads, int num_kv_heads, std::optional<int> sliding_window,
             float logits_soft_cap, bool has_alibi, bool has_attention) {
            new (c) AttentionConfig{head_size,
                                    parse_dtype(dtype),
                                    std::move(kv_cache_dtype),
                                    block_size,
                                    use_mla,
                                    has_sink,
                                    use_sparse,
                                    use_mm_prefix,
                                    use_per_head_quant_scales,
                                    parse_device(device),
                                    capability_from_py(device_capability),
                                    parse_attn_type(attn_type),
                                    use_non_causal,
                                    use_batch_invariant,
                                    num_heads,
                                    num_kv_heads,
                                    sliding_window,
                                    logits_soft_cap,
                                    has_alibi,
                                    has_attention};
          },
          nb::kw_only(), nb::arg("head_size") = 0, nb::arg("dtype") = "bfloat16",
          nb::arg("kv_cache_dtype") = "auto", nb::arg("block_size") = nb::none(), nb::arg("use_mla") = false,
          nb::arg("has_sink") = false, nb::arg("use_sparse") = false, nb::arg("use_mm_prefix") = false,
          nb::arg("use_per_head_quant_scales") = false, nb::arg("device") = "cpu",
          nb::arg("device_capability") = nb::none(), nb::arg("attn_type") = "decoder",
          nb::arg("use_non_causal") = false, nb::arg("use_batch_invariant") = false, nb::arg("num_heads") = 0,
          nb::arg("num_kv_heads") = 0, nb::arg("sliding_window") = nb::none(),
          nb::arg("logits_soft_cap") = 0.0f, nb::arg("has_alibi") = false, nb::arg("has_attention") = true)
      .def("__copy__", [](const AttentionConfig& c) { return c; })
      .def_rw("head_size", &AttentionConfig::head_size)
      .def_prop_rw(
          "dtype", [](const AttentionConfig& c) { return std::string(to_string(c.dtype)); },
          [](AttentionConfig& c, std::string_view v) { c.dtype = parse_dtype(v); })
      .def_rw("kv_cache_dtype", &AttentionConfig::kv_cache_dtype)
      .def_rw("block_size", &AttentionConfig::block_size)
      .def_rw("use_mla", &AttentionConfig::use_mla)
      .def_rw("has_sink", &AttentionConfig::has_sink)
      .def_rw("use_sparse", &AttentionConfig::use_sparse)
      .def_rw("use_mm_prefix", &AttentionConfig::use_mm_prefix)
      .def_rw("use_per_head_quant_scales", &AttentionConfig::use_per_head_quant_scales)
      .def_prop_rw(
          "device", [](const AttentionConfig& c) { return std::string(to_string(c.device)); },
          [](AttentionConfig& c, std::string_view v) { c.device = parse_device(v); })
      .def_prop_rw(
          "device_capability", [](const AttentionConfig& c) { return capability_to_py(c.device_capability); },
          [](AttentionConfig& c, std::optional<Capability> v) {
            c.device_capability = capability_from_py(v);
          },
          nb::arg().none())
      .def_prop_rw(
          "attn_type", [](const AttentionConfig& c) { return std::string(to_string(c.attn_type)); },
          [](AttentionConfig& c, std::string_view v) { c.attn_type = parse_attn_type(v); })
      .def_rw("use_non_causal", &AttentionConfig::use_non_causal)
      .def_rw("use_batch_invariant", &AttentionConfig::use_batch_invariant)
      .def_rw("num_heads", &AttentionConfig::num_heads)
      .def_rw("num_kv_heads", &AttentionConfig::num_kv_heads)
      .def_rw("sliding_window", &AttentionConfig::sliding_window, nb::arg().none())
      .def_rw("logits_soft_cap", &AttentionConfig::logits_soft_cap)
      .def_rw("has_alibi", &AttentionConfig::has_alibi)
      .def_rw("has_attention", &AttentionConfig::has_attention);
}

}  // namespace

void bind_backend(nb::module_& m) {
  bind_config(m);
  nb::class_<AttentionBackend>(
      m, "AttentionBackend", "A C++ backend class object (what a class path resolves to); lives until exit.")
      .def("get_name", [](const AttentionBackend& b) { return std::string(b.get_name()); })
      .def("supported_dtypes",
           [](const AttentionBackend& b) {
             return names_of(b.supported_dtypes(), [](ScalarType t) { return to_string(t); });
           })
      .def("supported_kv_cache_dtypes", &AttentionBackend::supported_kv_cache_dtypes)
      .def(
          "supported_kernel_block_sizes",
          [](const AttentionBackend& b) {
            std::vector<std::pair<int, bool>> out;
            for (const BlockSizeRule& r : b.supported_kernel_block_sizes())
              out.emplace_back(r.value, r.multiple_of);
            return out;
          },
          "(value, multiple_of) pairs: exactly value, or any positive multiple of it.")
      .def("supported_head_sizes", &AttentionBackend::supported_head_sizes, "Empty means any.")
      .def("supported_attn_types",
           [](const AttentionBackend& b) {
             return names_of(b.supported_attn_types(), [](AttentionType t) { return to_string(t); });
           })
      .def("supported_devices",
           [](const AttentionBackend& b) {
             return names_of(b.supported_devices(), [](DeviceType t) { return to_string(t); });
           })
      .def(
          "supports_compute_capability",
          [](const AttentionBackend& b, Capability c) {
            return b.supports_compute_capability({c.first, c.second});
          },
          nb::arg("capability"))
      .def("supports_sink", &AttentionBackend::supports_sink)
      .def("is_mla", &AttentionBackend::is_mla)
      .def("is_sparse", &AttentionBackend::is_sparse)
      .def("supports_mm_prefix", &AttentionBackend::supports_mm_prefix)
      .def("supports_per_head_quant_scales", &AttentionBackend::supports_per_head_quant_scales)
      .def("supports_non_causal", &AttentionBackend::supports_non_causal)
      .def("supports_batch_invariant", &AttentionBackend::supports_batch_invariant)
      .def("supports_sliding_window", &AttentionBackend::supports_sliding_window)
      .def("supports_logits_soft_cap", &AttentionBackend::supports_logits_soft_cap)
      .def("supports_alibi", &AttentionBackend::supports_alibi)
      .def("supports_attention", &AttentionBackend::supports_attention)
      .def("validate_configuration", &AttentionBackend::validate_configuration, nb::arg("config"),
           "Every unmet constraint, one reason each; empty when valid.")
      .def("get_kv_cache_shape", &AttentionBackend::get_kv_cache_shape, nb::arg("num_blocks"),
           nb::arg("block_size"), nb::arg("num_kv_heads"), nb::arg("head_size"),
           nb::arg("cache_dtype") = "auto")
      .def("get_kv_cache_stride_order", &AttentionBackend::get_kv_cache_stride_order)
      .def("make_impl", &make_py_impl, nb::kw_only(), nb::arg("num_heads"), nb::arg("head_size"),
           nb::arg("num_kv_heads"), nb::arg("scale") = 0.0f, nb::arg("sliding_window") = nb::none(),
           nb::arg("logits_soft_cap") = 0.0f, nb::arg("kv_cache_dtype") = "auto",
           nb::arg("attn_type") = "decoder", nb::arg("sinks") = nb::none(),
           nb::arg("alibi_slopes") = nb::none(), nb::arg("k_scale") = 1.0f, nb::arg("v_scale") = 1.0f,
           "The layer implementation (AttentionLayerParams); ValueError when the backend cannot serve it.")
      .def("__repr__", [](const AttentionBackend& b) {
        return "<attnreg C++ backend " + std::string(b.get_name()) + ">";
      });
}

}  // namespace attnreg::python
