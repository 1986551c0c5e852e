// python/bindings/classes.cpp: the import system (classes.hpp) as functions.
// Thread safety: as classes.hpp; resolve_class releases the GIL because it may
// load a plugin.
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include <attnreg/classes.hpp>

#include "bindings.hpp"

namespace nb = nanobind;

namespace attnreg::python {

void bind_classes(nb::module_& m) {
  m.def("resolve_class", &resolve_class, nb::arg("qualified_path"), nb::rv_policy::reference,
        nb::call_guard<nb::gil_scoped_release>(), "The C++ class object at a dotted path.");
  m.def("validate_class_path", &validate_class_path, nb::arg("path"),
        "Raises ValueError unless path is non-empty identifiers joined by single dots.");
  m.def("plugin_search_path", &plugin_search_path, "Plugin directories a lookup searches now, in order.");
  m.def("plugin_install_dir", &plugin_install_dir, "<dir of libattnreg>/attnreg/plugins.");
  m.def("available_modules", &available_modules, "Modules this build can provide, sorted.");
  m.def("known_class_paths", &known_class_paths, "Paths of every class known now, sorted.");
}

}  // namespace attnreg::python
