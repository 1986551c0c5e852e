// python/bindings/registry.cpp: both backend enums, addressed by member name.
// The Python Enum classes of attnreg.registry hold no state of their own: every
// override is read from and written to the C++ registry through these
// functions, so C++ and Python see the same overrides.
//
// Thread safety: as registry.hpp (every function may be called from any
// thread); get_class releases the GIL while a plugin may be loading.
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include <attnreg/registry.hpp>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"

namespace nb = nanobind;

namespace attnreg::python {
namespace {

/// Binds the functions of one enum under `prefix` ("attention_" or "mamba_").
template <class Enum>
void bind_table(nb::module_& m, const std::string& prefix) {
  m.def((prefix + "members").c_str(),
        [] {
          std::vector<std::pair<std::string, std::string>> out;
          for (Enum e : Enum::members()) out.emplace_back(std::string(e.name()), std::string(e.value()));
          return out;
        },
        "(name, default path) of every member, in declaration order; path '' when none.");
  m.def((prefix + "check_name").c_str(), [](std::string_view name) { (void)Enum::from_name(name); },
        nb::arg("name"), "Raises the registry's ValueError (with did-you-mean) for an unknown name.");
  m.def((prefix + "get_path").c_str(),
        [](std::string_view name, bool include_classname) {
          return Enum::from_name(name).get_path(include_classname);
        },
        nb::arg("name"), nb::arg("include_classname") = true, "The member's path, overrides respected.");
  m.def((prefix + "get_class").c_str(),
        [](std::string_view name) -> const AttentionBackend& { return Enum::from_name(name).get_class(); },
        nb::arg("name"), nb::rv_policy::reference, nb::call_guard<nb::gil_scoped_release>(),
        "The member's C++ class object (lives until exit).");
  m.def((prefix + "is_overridden").c_str(),
        [](std::string_view name) { return Enum::from_name(name).is_overridden(); }, nb::arg("name"));
  m.def((prefix + "clear_override").c_str(),
        [](std::string_view name) { Enum::from_name(name).clear_override(); }, nb::arg("name"));
  m.def((prefix + "register_backend").c_str(),
        [](std::string_view name, std::string_view class_path) {
          register_backend(Enum::from_name(name), class_path);
        },
        nb::arg("name"), nb::arg("class_path"),
        "Overrides the member's path (ValueError for a malformed path; nothing changes).");
}

}  // namespace

void bind_registry(nb::module_& m) {
  bind_table<AttentionBackendEnum>(m, "attention_");
  bind_table<MambaAttentionBackendEnum>(m, "mamba_");
  m.def(
      "mamba_type_map",
      [] {
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& [type, member] : MAMBA_TYPE_TO_BACKEND_MAP) out.emplace_back(type, member);
        return out;
      },
      "MAMBA_TYPE_TO_BACKEND_MAP as (mamba type, member name) pairs.");
}

}  // namespace attnreg::python
