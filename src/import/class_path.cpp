// Class-path syntax: the one place that decides what a dotted path may look like.
#include <attnreg/classes.hpp>
#include <attnreg/detail/type_name.hpp>
#include <attnreg/errors.hpp>

#include <fmt/format.h>

namespace attnreg {
namespace {

bool is_identifier_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_identifier_char(char c) { return is_identifier_start(c) || (c >= '0' && c <= '9'); }

}  // namespace

void validate_class_path(std::string_view path) {
  const auto fail = [&](std::string_view why) {
    throw ValueError(
        fmt::format("Invalid class path '{}': {}. Expected dotted identifiers such as "
                    "'my.module.MyBackend'",
                    path, why));
  };
  if (path.empty()) fail("it is empty");
  if (path.front() == '.') fail("it starts with '.'");
  if (path.back() == '.') fail("it ends with '.'");
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto dot = path.find('.', start);
    const auto end = dot == std::string_view::npos ? path.size() : dot;
    const auto component = path.substr(start, end - start);
    if (component.empty()) fail(fmt::format("empty component at offset {} ('..')", start));
    if (!is_identifier_start(component.front()))
      fail(
          fmt::format("component '{}' is not an identifier (it must start with a letter or '_')", component));
    for (char c : component)
      if (!is_identifier_char(c))
        fail(fmt::format("component '{}' is not an identifier (character '{}' is not a letter, digit or '_')",
                         component, c));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
}

namespace detail {

std::string class_path_from_type_name(std::string_view cxx_name) {
  std::string path;
  std::size_t start = 0;
  while (start <= cxx_name.size()) {
    auto sep = cxx_name.find("::", start);
    const auto end = sep == std::string_view::npos ? cxx_name.size() : sep;
    const auto component = cxx_name.substr(start, end - start);
    const bool anonymous = component == "(anonymous namespace)" || component == "{anonymous}";
    if (!anonymous && !component.empty()) {
      if (!path.empty()) path += '.';
      path += component;
    }
    if (sep == std::string_view::npos) break;
    start = sep + 2;
  }
  return path;
}

}  // namespace detail
}  // namespace attnreg
