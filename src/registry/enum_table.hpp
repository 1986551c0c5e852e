// Internal: everything one smart enum needs at run time, generic over the
// member count, so AttentionBackendEnum and MambaAttentionBackendEnum share
// one implementation and differ only in their member lists and wording.
#pragma once

#include <array>
#include <attnreg/backend.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "import/class_slot.hpp"
#include "registry/name_index.hpp"
#include "registry/name_lookup.hpp"
#include "registry/override_table.hpp"

namespace attnreg::detail {

/// The immutable part of an enum: its names, default paths and name index.
/// Thread-safe (never changes).
template <std::size_t N>
struct EnumSpec {
  consteval EnumSpec(const std::array<std::string_view, N>& names_,
                     const std::array<std::string_view, N>& paths_)
      : names(names_), paths(paths_), index(names_) {}

  std::array<std::string_view, N> names;
  std::array<std::string_view, N> paths;  ///< default class paths, "" for none
  NameIndex<N> index;

  /// Position of name; throws ValueError (unknown name, did-you-mean) otherwise.
  std::size_t position_of(std::string_view name) const {
    const int i = index.find(name);
    if (i < 0) throw_unknown_name(name, names);
    return static_cast<std::size_t>(i);
  }

  /// Position of the first member whose default path is path ("" matches none).
  std::optional<std::size_t> position_of_value(std::string_view path) const noexcept {
    if (path.empty()) return std::nullopt;
    for (std::size_t i = 0; i < N; ++i)
      if (paths[i] == path) return i;
    return std::nullopt;
  }
};

/// get_path for member i of table: respects overrides; throws ValueError when
/// the member has no path. Lock-free.
template <std::size_t N>
std::string path_of(const EnumSpec<N>& spec, const OverrideTable<N>& table, std::size_t i,
                    bool include_classname) {
  const std::string_view path = table.path(i);
  if (path.empty()) throw_unregistered(spec.names[i]);
  return std::string(include_classname ? path : module_part(path));
}

/// get_class for member i: the cached class of the slot in force, else a full
/// resolution. Lock-free once resolved.
template <std::size_t N>
const AttentionBackend& class_of(const EnumSpec<N>& spec, const OverrideTable<N>& table, std::size_t i) {
  const ClassSlot* slot = table.slot(i);
  if (slot == nullptr) throw_unregistered(spec.names[i]);
  return resolve_slot(*slot);
}

}  // namespace attnreg::detail
