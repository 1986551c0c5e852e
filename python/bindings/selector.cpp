// python/bindings/selector.cpp: Platform and select_backend. Members travel
// by name; attnreg/__init__.py turns them into AttentionBackendEnum members.
//
// Thread safety: as selector.hpp (no state; may be called from any thread).
// select_backend releases the GIL while candidate classes are resolved.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include <attnreg/selector.hpp>
#include <optional>
#include <string>
#include <utility>

#include "bindings.hpp"

namespace nb = nanobind;

namespace attnreg::python {
namespace {

std::optional<AttentionBackendEnum> member_of(const std::optional<std::string>& name) {
  if (!name) return std::nullopt;
  return AttentionBackendEnum::from_name(*name);
}

}  // namespace

void bind_selector(nb::module_& m) {
  nb::class_<Platform>(m, "Platform", "The machine a backend is selected for.")
      .def_static("cpu", &Platform::cpu)
      .def_static(
          "cuda",
          [](int major, int minor) {
            return Platform::cuda({major, minor});
          },
          nb::arg("major"), nb::arg("minor"), "A simulated CUDA device of compute capability major.minor.")
      .def_static("detect", &Platform::detect)
      .def_prop_ro("device", [](const Platform& p) { return std::string(to_string(p.device)); })
      .def_prop_ro("capability",
                   [](const Platform& p) -> std::optional<std::pair<int, int>> {
                     if (!p.capability) return std::nullopt;
                     return std::pair{p.capability->major, p.capability->minor};
                   })
      .def_ro("name", &Platform::name)
      .def("__repr__", [](const Platform& p) { return "Platform(" + p.name + ")"; });

  nb::class_<CandidateReport>(m, "CandidateReport", "One candidate the selector considered, and its verdict.")
      .def_prop_ro("member", [](const CandidateReport& c) { return std::string(c.member.name()); })
      .def_ro("path", &CandidateReport::path)
      .def_prop_ro("origin", [](const CandidateReport& c) { return std::string(to_string(c.origin)); })
      .def_ro("valid", &CandidateReport::valid)
      .def_ro("selected", &CandidateReport::selected)
      .def_ro("reasons", &CandidateReport::reasons)
      .def_ro("verdict", &CandidateReport::verdict);

  nb::class_<Selection>(m, "Selection", "The chosen backend and every candidate with its reasons.")
      .def_prop_ro("chosen", [](const Selection& s) { return std::string(s.chosen.name()); })
      .def_prop_ro("origin", [](const Selection& s) { return std::string(to_string(s.origin)); })
      .def_ro("platform", &Selection::platform)
      .def_ro("config", &Selection::config)
      .def_ro("candidates", &Selection::candidates)
      .def("backend", &Selection::backend, nb::rv_policy::reference)
      .def("explain", &Selection::explain);

  m.def(
      "select_backend",
      [](const AttentionConfig& config, const Platform& platform,
         const std::optional<std::string>& requested) {
        const auto member = member_of(requested);
        nb::gil_scoped_release release;
        return select_backend(config, platform, member);
      },
      nb::arg("config"), nb::arg("platform"), nb::arg("requested") = nb::none(),
      "Chooses a backend (ValueError with vLLM's text when the request or every candidate is invalid).");
  m.def(
      "judge_candidates",
      [](const AttentionConfig& config, const Platform& platform,
         const std::optional<std::string>& requested) {
        const auto member = member_of(requested);
        nb::gil_scoped_release release;
        return judge_candidates(config, platform, member);
      },
      nb::arg("config"), nb::arg("platform"), nb::arg("requested") = nb::none(),
      "Every candidate judged, none chosen; never raises for invalid candidates.");
}

}  // namespace attnreg::python
