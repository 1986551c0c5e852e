// python/bindings/errors.cpp: attnreg's exceptions become Python's own, so code
// written against vLLM catches the same types (errors.hpp mirrors them).
#include <attnreg/errors.hpp>

#include "bindings.hpp"

namespace nb = nanobind;

namespace attnreg::python {

void bind_errors(nb::module_& /*m*/) {
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    // Most derived first: ModuleNotFoundError is an ImportError.
    try {
      std::rethrow_exception(p);
    } catch (const ModuleNotFoundError& e) {
      PyErr_SetString(PyExc_ModuleNotFoundError, e.what());
    } catch (const ImportError& e) {
      PyErr_SetString(PyExc_ImportError, e.what());
    } catch (const ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const NotImplementedError& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what());
    } catch (const Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
}

}  // namespace attnreg::python
