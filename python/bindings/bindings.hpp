// python/bindings/bindings.hpp: the pieces of the attnreg._core extension, one
// binder per area, each defined in its own .cpp and called from module.cpp.
#pragma once

#include <nanobind/nanobind.h>

namespace attnreg::python {

/// Maps attnreg's exception types to Python's (ValueError, ImportError, ...).
void bind_errors(nanobind::module_& m);
/// Both backend enums by member name, overrides, MAMBA_TYPE_TO_BACKEND_MAP.
void bind_registry(nanobind::module_& m);
/// The import system: resolve_class, validate_class_path, search path.
void bind_classes(nanobind::module_& m);
/// The legacy tables (BACKEND_MAP, backend_name_to_enum).
void bind_legacy(nanobind::module_& m);
/// AttentionBackend, AttentionConfig and their string-valued enums.
void bind_backend(nanobind::module_& m);
/// AttentionImpl, AttentionMetadata and forward over DLPack tensors.
void bind_impl(nanobind::module_& m);
/// Platform and select_backend with per-candidate reports.
void bind_selector(nanobind::module_& m);

}  // namespace attnreg::python
