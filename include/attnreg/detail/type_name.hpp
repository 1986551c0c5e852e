// attnreg/detail/type_name.hpp: a class's qualified C++ name as a dotted
// class path, computed at compile time (the C++ analogue of Python's
// `cls.__module__ + "." + cls.__qualname__`).
#pragma once

#include <string>
#include <string_view>

namespace attnreg::detail {

/// The compiler's spelling of T, cut out of __PRETTY_FUNCTION__.
template <class T>
constexpr std::string_view pretty_type_name() noexcept {
  std::string_view f = __PRETTY_FUNCTION__;
#if defined(__clang__)
  constexpr std::string_view prefix = "[T = ";
#else
  constexpr std::string_view prefix = "[with T = ";
#endif
  const auto begin = f.find(prefix) + prefix.size();
  const auto end = f.find_first_of(";]", begin);
  return f.substr(begin, end - begin);
}

/// Turns "acme::gpu::MyAttn" into "acme.gpu.MyAttn". Anonymous-namespace
/// components ("(anonymous namespace)" on clang, "{anonymous}" on GCC) are
/// dropped: they have no name a path could spell.
std::string class_path_from_type_name(std::string_view cxx_name);

/// The auto path of T used by the decorator forms of register_backend.
template <class T>
std::string class_path_of() {
  return class_path_from_type_name(pretty_type_name<T>());
}

}  // namespace attnreg::detail
