// attnreg/legacy.hpp: the older generation of vLLM's registry
// (vllm.attention.backends.registry: _Backend, BACKEND_MAP,
// backend_name_to_enum, register_backend into BACKEND_MAPPING).
//
// BACKEND_MAP is the read-only table of default paths; BACKEND_MAPPING is the
// mutable overlay register_backend writes (overwriting allowed). Lookups read
// the overlay first, then BACKEND_MAP.
//
// Thread safety: every function may be called from any thread; lookups do not
// block on register_backend (same publication scheme as the current registry).
#pragma once

#include <attnreg/backend.hpp>
#include <attnreg/classes.hpp>
#include <attnreg/detail/members.hpp>
#include <attnreg/detail/type_name.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace attnreg::legacy {

#define ATTNREG_DETAIL_ID(name, path) name,
/// The legacy `_Backend` enum: the members of BACKEND_MAP plus IPEX and NO_ATTENTION.
enum class Backend : std::uint8_t { ATTNREG_LEGACY_BACKEND_MEMBERS(ATTNREG_DETAIL_ID) };
#undef ATTNREG_DETAIL_ID

/// Member name, e.g. "FLASH_ATTN". Throws ValueError for an invalid value:
/// "<value> is not a valid _Backend enum value."
std::string_view name(Backend backend);
/// Every member in declaration order.
std::span<const Backend> members() noexcept;

/// Read-only map from each BACKEND_MAP member to its default path.
class BackendMap {
 public:
  using map_type = std::map<Backend, std::string>;
  using const_iterator = map_type::const_iterator;
  explicit BackendMap(map_type entries) : entries_(std::move(entries)) {}
  /// Throws std::out_of_range for a member without an entry (IPEX, NO_ATTENTION).
  const std::string& at(Backend b) const { return entries_.at(b); }
  const_iterator find(Backend b) const { return entries_.find(b); }
  bool contains(Backend b) const { return entries_.count(b) != 0; }
  std::size_t size() const noexcept { return entries_.size(); }
  const_iterator begin() const noexcept { return entries_.begin(); }
  const_iterator end() const noexcept { return entries_.end(); }

 private:
  map_type entries_;
};

/// The default paths (18 entries), as the seed's BACKEND_MAP.
extern const BackendMap& BACKEND_MAP;

/// A snapshot-style view of the mutable overlay of registered paths.
class BackendMapping {
 public:
  /// The registered path for b, or nullopt.
  std::optional<std::string> get(Backend b) const;
  bool contains(Backend b) const { return get(b).has_value(); }
  /// Number of members with a registered path.
  std::size_t size() const;
  /// A copy of the overlay's entries.
  std::map<Backend, std::string> snapshot() const;
  /// Removes every registration (for tests and re-initialisation).
  void clear() const;
};
/// The overlay register_backend writes (vLLM's BACKEND_MAPPING).
extern const BackendMapping BACKEND_MAPPING;

/// The enum member for a backend name, stripping a trailing "_VLLM_V1";
/// nullopt for an unknown name (an out-of-tree backend).
std::optional<Backend> backend_name_to_enum(std::string_view backend_name);

/// Registers class_path for backend in BACKEND_MAPPING (overwriting allowed).
/// Throws ValueError for an invalid member value
/// ("<value> is not a valid _Backend enum value.") or a malformed path.
void register_backend(Backend backend, std::string_view class_path);

/// Decorator form: registers T in-process at its auto path and maps backend to it.
template <class T>
void register_backend(Backend backend) {
  (void)name(backend);  // validates the member before anything changes
  const std::string path = ::attnreg::detail::class_path_of<T>();
  validate_class_path(path);
  register_class<T>(path);
  register_backend(backend, path);
}

/// The class path for backend: BACKEND_MAPPING's entry, else BACKEND_MAP's.
/// Throws ValueError for an invalid member or a member with neither.
std::string backend_to_class_str(Backend backend);

/// The class object for backend_to_class_str(backend) (see resolve_class).
const AttentionBackend& backend_to_class(Backend backend);

/// "_Backend.FLASH_ATTN".
std::string to_string(Backend backend);
std::ostream& operator<<(std::ostream& os, Backend backend);

}  // namespace attnreg::legacy
