// attnreg/errors.hpp: the exception types of the public API.
//
// The hierarchy mirrors the Python exceptions vLLM raises, so code ported from
// vLLM catches the same kinds of failure:
//
//   std::runtime_error
//     └─ Error                  every attnreg failure
//          ├─ ValueError        a bad argument: unknown name, malformed path,
//          │                    invalid tensor, unsupported configuration
//          ├─ ImportError       a class path that cannot be turned into a class
//          │    └─ ModuleNotFoundError  no module provides the path's module
//          └─ NotImplementedError       a backend that does not provide an operation
//
// Every message says what was wrong and what would be right.
#pragma once

#include <stdexcept>
#include <string>

namespace attnreg {

/// Base of every exception attnreg throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An argument has the right type but a wrong value (Python's ValueError).
class ValueError : public Error {
 public:
  using Error::Error;
};

/// A class path could not be imported (Python's ImportError).
class ImportError : public Error {
 public:
  using Error::Error;
};

/// No in-process module and no plugin on the search path provides the module
/// of a class path (Python's ModuleNotFoundError).
class ModuleNotFoundError : public ImportError {
 public:
  using ImportError::ImportError;
};

/// The backend does not implement the requested operation.
class NotImplementedError : public Error {
 public:
  using Error::Error;
};

}  // namespace attnreg
