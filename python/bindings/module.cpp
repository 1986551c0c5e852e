// python/bindings/module.cpp: the attnreg._core extension module. The pure
// Python layer (attnreg/registry.py, attnreg/__init__.py) builds vLLM's API
// on top of these functions; all registry state lives in the C++ core.
#include <attnreg/version.hpp>

#include "bindings.hpp"

NB_MODULE(_core, m) {
  m.doc() = "attnreg C++ core: registry, import system, backends, selector";
  m.attr("abi_version") = attnreg::abi_version();
  attnreg::python::bind_errors(m);
  attnreg::python::bind_registry(m);
  attnreg::python::bind_classes(m);
  attnreg::python::bind_legacy(m);
  attnreg::python::bind_backend(m);
  attnreg::python::bind_impl(m);
  attnreg::python::bind_selector(m);
}
