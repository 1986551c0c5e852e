// The legacy registry (vllm.attention.backends.registry): _Backend,
// BACKEND_MAP and the BACKEND_MAPPING overlay. The overlay uses the same
// lock-free publication as the current registry (override_table.hpp), with
// BACKEND_MAP's paths as the defaults.
#include <fmt/format.h>

#include <array>
#include <attnreg/errors.hpp>
#include <attnreg/legacy.hpp>

#include "registry/name_index.hpp"
#include "registry/override_table.hpp"

namespace attnreg::legacy {
namespace {

#define ATTNREG_DETAIL_COUNT(name, path) +1
constexpr std::size_t kCount = 0 ATTNREG_LEGACY_BACKEND_MEMBERS(ATTNREG_DETAIL_COUNT);
#undef ATTNREG_DETAIL_COUNT

#define ATTNREG_DETAIL_NAME(name, path) #name,
#define ATTNREG_DETAIL_PATH(name, path) path,
#define ATTNREG_DETAIL_MEMBER(name, path) Backend::name,
constexpr std::array<std::string_view, kCount> kNames{ATTNREG_LEGACY_BACKEND_MEMBERS(ATTNREG_DETAIL_NAME)};
constexpr std::array<std::string_view, kCount> kPaths{ATTNREG_LEGACY_BACKEND_MEMBERS(ATTNREG_DETAIL_PATH)};
constexpr std::array<Backend, kCount> kMembers{ATTNREG_LEGACY_BACKEND_MEMBERS(ATTNREG_DETAIL_MEMBER)};
#undef ATTNREG_DETAIL_NAME
#undef ATTNREG_DETAIL_PATH
#undef ATTNREG_DETAIL_MEMBER

constexpr detail::NameIndex<kCount> kIndex{kNames};

// Constant-initialised: usable from other translation units' static initialisers.
constinit detail::OverrideTable<kCount> mapping{kPaths};

// The position of backend; ValueError for a value that names no member (as
// Python's _Backend(value)).
std::size_t checked(Backend backend) {
  const auto i = static_cast<std::size_t>(backend);
  if (i >= kCount)
    throw ValueError(fmt::format("{} is not a valid _Backend enum value.", static_cast<unsigned>(i)));
  return i;
}

// IPEX and NO_ATTENTION have no BACKEND_MAP entry; unregistered, they have no class.
[[noreturn]] void throw_no_path(std::size_t i) {
  throw ValueError(
      fmt::format("Backend {0} has no class path: it has no BACKEND_MAP entry and none was registered. Use "
                  "register_backend(_Backend.{0}, 'your.module.YourClass')",
                  kNames[i]));
}

const BackendMap& backend_map() {
  static const auto* map = [] {
    BackendMap::map_type entries;
    for (std::size_t i = 0; i < kCount; ++i)
      if (!kPaths[i].empty()) entries.emplace(kMembers[i], std::string(kPaths[i]));
    return new BackendMap(std::move(entries));  // never destroyed: usable during exit
  }();
  return *map;
}

}  // namespace

std::string_view name(Backend backend) { return kNames[checked(backend)]; }

std::span<const Backend> members() noexcept { return kMembers; }

const BackendMap& BACKEND_MAP = backend_map();

const BackendMapping BACKEND_MAPPING{};

std::optional<std::string> BackendMapping::get(Backend b) const {
  if (const detail::ClassSlot* s = mapping.override_slot(checked(b))) return s->path;
  return std::nullopt;
}

std::size_t BackendMapping::size() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < kCount; ++i) n += mapping.override_slot(i) != nullptr;
  return n;
}

std::map<Backend, std::string> BackendMapping::snapshot() const {
  std::map<Backend, std::string> out;
  for (std::size_t i = 0; i < kCount; ++i)
    if (const detail::ClassSlot* s = mapping.override_slot(i)) out.emplace(kMembers[i], s->path);
  return out;
}

void BackendMapping::clear() const {
  for (std::size_t i = 0; i < kCount; ++i) mapping.clear(i);
}

std::optional<Backend> backend_name_to_enum(std::string_view backend_name) {
  constexpr std::string_view kSuffix = "_VLLM_V1";
  if (backend_name.ends_with(kSuffix)) backend_name.remove_suffix(kSuffix.size());
  const int i = kIndex.find(backend_name);
  if (i < 0) return std::nullopt;
  return kMembers[static_cast<std::size_t>(i)];
}

void register_backend(Backend backend, std::string_view class_path) {
  mapping.set(checked(backend), class_path);
}

std::string backend_to_class_str(Backend backend) {
  const std::size_t i = checked(backend);
  const std::string_view path = mapping.path(i);
  if (path.empty()) throw_no_path(i);
  return std::string(path);
}

const AttentionBackend& backend_to_class(Backend backend) {
  const std::size_t i = checked(backend);
  const detail::ClassSlot* slot = mapping.slot(i);
  if (slot == nullptr) throw_no_path(i);
  return detail::resolve_slot(*slot);
}

std::string to_string(Backend backend) { return fmt::format("_Backend.{}", name(backend)); }

std::ostream& operator<<(std::ostream& os, Backend backend) { return os << to_string(backend); }

}  // namespace attnreg::legacy
