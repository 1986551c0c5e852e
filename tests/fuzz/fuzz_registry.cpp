// libFuzzer target: every string entry point of the registry. The first byte
// picks the entry point (and, for registration, the member); the rest is the
// string. Contract checked: no crash, no sanitizer report, every exception a
// ValueError, and each successful call consistent with its input.
//
// Memory note: every distinct valid path registered is interned for the life
// of the process (by design: readers hold pointers to it), so long runs grow
// slowly; libFuzzer's -rss_limit_mb bounds that.
#include <attnreg/errors.hpp>
#include <attnreg/legacy.hpp>
#include <attnreg/registry.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

[[noreturn]] void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "fuzz_registry: %s (input size %zu)\n", what, input.size());
  std::abort();
}

void check(bool ok, const char* what, std::string_view input) {
  if (!ok) fail(what, input);
}

template <class Enum>
void from_name(std::string_view s) {
  const Enum member = Enum::from_name(s);
  check(member.name() == s, "from_name returned a member with another name", s);
}

template <class Enum>
void from_value(std::string_view s) {
  if (const auto member = Enum::from_value(s)) check(member->value() == s, "from_value: wrong member", s);
}

void legacy_name(std::string_view s) {
  const auto b = attnreg::legacy::backend_name_to_enum(s);
  if (!b) return;
  const std::string_view name = attnreg::legacy::name(*b);
  check(s == name || s == std::string(name) + "_VLLM_V1", "backend_name_to_enum: wrong member", s);
}

template <class Enum>
void register_and_clear(std::uint8_t selector, std::string_view path) {
  const auto members = Enum::members();
  const Enum member = members[selector % members.size()];
  const std::string before = member.is_overridden() ? member.get_path() : std::string();
  try {
    attnreg::register_backend(member, path);
  } catch (const attnreg::ValueError&) {
    // Refused: nothing may have changed.
    check(member.is_overridden() == !before.empty(), "refused registration changed is_overridden", path);
    throw;
  }
  check(member.is_overridden(), "register_backend did not override", path);
  check(member.get_path() == path, "get_path differs from the registered path", path);
  member.clear_override();
  check(!member.is_overridden(), "clear_override left an override", path);
}

void legacy_register(std::uint8_t selector, std::string_view path) {
  const auto members = attnreg::legacy::members();
  // One value in eight is out of range, to exercise the invalid-member error.
  const auto raw = static_cast<std::uint8_t>(selector % 8 == 0 ? 200 : selector % members.size());
  const auto backend = static_cast<attnreg::legacy::Backend>(raw);
  attnreg::legacy::register_backend(backend, path);
  check(attnreg::legacy::backend_to_class_str(backend) == path, "legacy overlay lost the path", path);
  attnreg::legacy::BACKEND_MAPPING.clear();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t op = data[0], selector = data[1];
  const std::string_view s(reinterpret_cast<const char*>(data + 2), size - 2);
  try {
    switch (op % 9) {
      case 0:
        from_name<attnreg::AttentionBackendEnum>(s);
        break;
      case 1:
        from_name<attnreg::MambaAttentionBackendEnum>(s);
        break;
      case 2:
        legacy_name(s);
        break;
      case 3:
        attnreg::validate_class_path(s);
        break;
      case 4:
        register_and_clear<attnreg::AttentionBackendEnum>(selector, s);
        break;
      case 5:
        register_and_clear<attnreg::MambaAttentionBackendEnum>(selector, s);
        break;
      case 6:
        from_value<attnreg::AttentionBackendEnum>(s);
        break;
      case 7:
        from_value<attnreg::MambaAttentionBackendEnum>(s);
        break;
      default:
        legacy_register(selector, s);
        break;
    }
  } catch (const attnreg::ValueError&) {
    // The documented failure of every entry point above.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_registry: non-ValueError exception: %s\n", e.what());
    std::abort();
  } catch (...) {
    fail("non-std exception", s);
  }
  return 0;
}
