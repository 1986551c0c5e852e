// attnreg/registry.hpp: the attention backend registry (vLLM's
// vllm.v1.attention.backends.registry).
//
// Two smart enums, one per table. A member's value() is its default class
// path; register_backend() overrides it at run time; get_path()/get_class()
// respect the override; clear_override() reverts to the default.
//
// Thread safety: every function here may be called from any thread.
// Reads (get_path, get_class, is_overridden, value, name, from_name) take no
// lock: an override is published as one atomic pointer to an immutable,
// never-freed path, so a reader sees either the old or the new path, never a
// torn one, and never waits for a writer. Each write (register_backend,
// clear_override) is one atomic store of such a pointer, so concurrent writes
// to a member are ordered by that atomic: the last one wins. The one
// exception to "no lock": the first get_class() for a path resolves it
// through the import system (its lock); later calls are lock-free.
#pragma once

#include <attnreg/backend.hpp>
#include <attnreg/classes.hpp>
#include <attnreg/detail/members.hpp>
#include <attnreg/detail/type_name.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attnreg {

#define ATTNREG_DETAIL_ID(name, path) name,

/// Enumeration of all supported attention backends.
class AttentionBackendEnum {
 public:
  enum class Id : std::uint8_t { ATTNREG_ATTENTION_BACKEND_MEMBERS(ATTNREG_DETAIL_ID) };

#define ATTNREG_DETAIL_CONSTANT(name, path) static const AttentionBackendEnum name;
  ATTNREG_ATTENTION_BACKEND_MEMBERS(ATTNREG_DETAIL_CONSTANT)
#undef ATTNREG_DETAIL_CONSTANT

  constexpr Id id() const noexcept { return id_; }
  constexpr operator Id() const noexcept { return id_; }  // lets `switch (backend)` work

  /// The member's name, e.g. "FLASH_ATTN".
  std::string_view name() const noexcept;
  /// The default class path; "" for TORCH_SDPA and CUSTOM.
  std::string_view value() const noexcept;
  /// The class path, respecting overrides. With include_classname=false, the
  /// module part (the path without its last dotted component).
  /// Throws ValueError when the member has no path (CUSTOM unregistered, TORCH_SDPA).
  std::string get_path(bool include_classname = true) const;
  /// The backend class, respecting overrides (see resolve_class for errors).
  const AttentionBackend& get_class() const;
  /// Whether register_backend has set an override that is still in force.
  bool is_overridden() const noexcept;
  /// Removes the override, reverting to the default path.
  void clear_override() const noexcept;

  /// The member called name (Python's Enum[name]). Throws ValueError:
  /// "Unknown attention backend: 'FOO'. Valid options are: ..." plus
  /// " Did you mean 'X'?" when a member is close.
  static AttentionBackendEnum from_name(std::string_view name);
  /// The first member whose default path equals path (Python's Enum(value)).
  static std::optional<AttentionBackendEnum> from_value(std::string_view path);
  /// Every member in declaration order.
  static std::span<const AttentionBackendEnum> members() noexcept;

  friend constexpr bool operator==(AttentionBackendEnum, AttentionBackendEnum) = default;

 private:
  constexpr explicit AttentionBackendEnum(Id id) noexcept : id_(id) {}
  Id id_;
};

/// Enumeration of all supported mamba attention backends.
class MambaAttentionBackendEnum {
 public:
  enum class Id : std::uint8_t { ATTNREG_MAMBA_BACKEND_MEMBERS(ATTNREG_DETAIL_ID) };

#define ATTNREG_DETAIL_CONSTANT(name, path) static const MambaAttentionBackendEnum name;
  ATTNREG_MAMBA_BACKEND_MEMBERS(ATTNREG_DETAIL_CONSTANT)
#undef ATTNREG_DETAIL_CONSTANT

  constexpr Id id() const noexcept { return id_; }
  constexpr operator Id() const noexcept { return id_; }

  std::string_view name() const noexcept;
  std::string_view value() const noexcept;
  std::string get_path(bool include_classname = true) const;
  const AttentionBackend& get_class() const;
  bool is_overridden() const noexcept;
  void clear_override() const noexcept;
  /// As AttentionBackendEnum::from_name: ValueError "Unknown attention backend:
  /// 'FOO'. Valid options are: MAMBA1, ..." (vLLM's two enums share that text).
  static MambaAttentionBackendEnum from_name(std::string_view name);
  static std::optional<MambaAttentionBackendEnum> from_value(std::string_view path);
  static std::span<const MambaAttentionBackendEnum> members() noexcept;

  friend constexpr bool operator==(MambaAttentionBackendEnum, MambaAttentionBackendEnum) = default;

 private:
  constexpr explicit MambaAttentionBackendEnum(Id id) noexcept : id_(id) {}
  Id id_;
};

#undef ATTNREG_DETAIL_ID

#define ATTNREG_DETAIL_DEFINE(name, path) \
  inline constexpr AttentionBackendEnum AttentionBackendEnum::name{AttentionBackendEnum::Id::name};
ATTNREG_ATTENTION_BACKEND_MEMBERS(ATTNREG_DETAIL_DEFINE)
#undef ATTNREG_DETAIL_DEFINE
#define ATTNREG_DETAIL_DEFINE(name, path)                                     \
  inline constexpr MambaAttentionBackendEnum MambaAttentionBackendEnum::name{ \
      MambaAttentionBackendEnum::Id::name};
ATTNREG_MAMBA_BACKEND_MEMBERS(ATTNREG_DETAIL_DEFINE)
#undef ATTNREG_DETAIL_DEFINE

/// Overrides backend's class path (vLLM's register_backend(backend, class_path)).
/// Later calls overwrite; clear_override() reverts. Throws ValueError for a
/// malformed class_path and changes nothing.
void register_backend(AttentionBackendEnum backend, std::string_view class_path);
/// As above, for the mamba table (vLLM's is_mamba=True).
void register_backend(MambaAttentionBackendEnum backend, std::string_view class_path);

/// Decorator form: registers T as the in-process class at its auto path
/// (T's qualified name with "::" as ".") and overrides backend with it.
template <class T>
void register_backend(AttentionBackendEnum backend) {
  const std::string path = detail::class_path_of<T>();
  validate_class_path(path);
  register_class<T>(path);
  register_backend(backend, path);
}
template <class T>
void register_backend(MambaAttentionBackendEnum backend) {
  const std::string path = detail::class_path_of<T>();
  validate_class_path(path);
  register_class<T>(path);
  register_backend(backend, path);
}

/// A read-only map from a model's mamba type to a MambaAttentionBackendEnum
/// member name (vLLM's MAMBA_TYPE_TO_BACKEND_MAP). Iteration keeps the
/// entries' order, as a Python dict keeps its insertion order.
class MambaTypeMap {
 public:
  using value_type = std::pair<const std::string, std::string>;
  using entries_type = std::vector<value_type>;
  using const_iterator = entries_type::const_iterator;
  /// entries: distinct keys, in iteration order.
  explicit MambaTypeMap(entries_type entries) : entries_(std::move(entries)) {}
  /// Throws std::out_of_range for an unknown key, as std::map::at.
  const std::string& at(std::string_view key) const;
  /// The entry of key, or end() (a handful of entries: searched in order).
  const_iterator find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != end(); }
  std::size_t size() const noexcept { return entries_.size(); }
  const_iterator begin() const noexcept { return entries_.begin(); }
  const_iterator end() const noexcept { return entries_.end(); }

 private:
  entries_type entries_;
};

/// "mamba1"->"MAMBA1", "mamba2"->"MAMBA2", "short_conv"->"SHORT_CONV",
/// "linear_attention"->"LINEAR", "gdn_attention"->"GDN_ATTN", "custom"->"CUSTOM".
extern const MambaTypeMap& MAMBA_TYPE_TO_BACKEND_MAP;

/// "AttentionBackendEnum.FLASH_ATTN", as Python's str(member).
std::string to_string(AttentionBackendEnum backend);
/// "MambaAttentionBackendEnum.MAMBA1".
std::string to_string(MambaAttentionBackendEnum backend);
std::ostream& operator<<(std::ostream& os, AttentionBackendEnum backend);
std::ostream& operator<<(std::ostream& os, MambaAttentionBackendEnum backend);

}  // namespace attnreg

template <>
struct std::hash<attnreg::AttentionBackendEnum> {
  std::size_t operator()(attnreg::AttentionBackendEnum b) const noexcept {
    return static_cast<std::size_t>(b.id());
  }
};
template <>
struct std::hash<attnreg::MambaAttentionBackendEnum> {
  std::size_t operator()(attnreg::MambaAttentionBackendEnum b) const noexcept {
    return static_cast<std::size_t>(b.id());
  }
};

#if __has_include(<fmt/format.h>)
#include <fmt/format.h>
template <>
struct fmt::formatter<attnreg::AttentionBackendEnum> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(attnreg::AttentionBackendEnum b, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(attnreg::to_string(b), ctx);
  }
};
template <>
struct fmt::formatter<attnreg::MambaAttentionBackendEnum> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(attnreg::MambaAttentionBackendEnum b, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(attnreg::to_string(b), ctx);
  }
};
#endif

/// Registers Class for member at load time (namespace scope), as
/// `@register_backend(member)` on a Python class:
///   ATTNREG_REGISTER_BACKEND(attnreg::AttentionBackendEnum::CUSTOM, acme::MyAttn);
#define ATTNREG_REGISTER_BACKEND(member, Class) ATTNREG_DETAIL_REGISTER_BACKEND_(member, Class, __COUNTER__)
#define ATTNREG_DETAIL_REGISTER_BACKEND_(member, Class, n) ATTNREG_DETAIL_REGISTER_BACKEND__(member, Class, n)
#define ATTNREG_DETAIL_REGISTER_BACKEND__(member, Class, n)                \
  [[maybe_unused]] static const bool attnreg_registered_backend_##n = [] { \
    ::attnreg::register_backend<Class>(member);                            \
    return true;                                                           \
  }()
