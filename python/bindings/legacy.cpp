// python/bindings/legacy.cpp: the legacy tables the Python layer exposes as
// BACKEND_MAP and backend_name_to_enum (attnreg/legacy.hpp).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include <attnreg/legacy.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"

namespace nb = nanobind;

namespace attnreg::python {

void bind_legacy(nb::module_& m) {
  m.def(
      "legacy_backend_map",
      [] {
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& [backend, path] : legacy::BACKEND_MAP) {
          out.emplace_back(std::string(legacy::name(backend)), path);
        }
        return out;
      },
      "BACKEND_MAP as (member name, default path) pairs, in member order.");
  m.def(
      "legacy_backend_name_to_enum",
      [](std::string_view backend_name) -> std::optional<std::string> {
        const auto backend = legacy::backend_name_to_enum(backend_name);
        if (!backend) return std::nullopt;
        return std::string(legacy::name(*backend));
      },
      nb::arg("backend_name"), "The legacy member name for a backend name ('_VLLM_V1' stripped), or None.");
}

}  // namespace attnreg::python
