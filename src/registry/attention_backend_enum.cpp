// AttentionBackendEnum: names, default paths, overrides and lookups.
#include <array>
#include <attnreg/registry.hpp>

#include "registry/enum_table.hpp"

namespace attnreg {
namespace {

#define ATTNREG_DETAIL_COUNT(name, path) +1
constexpr std::size_t kCount = 0 ATTNREG_ATTENTION_BACKEND_MEMBERS(ATTNREG_DETAIL_COUNT);
#undef ATTNREG_DETAIL_COUNT

#define ATTNREG_DETAIL_NAME(name, path) #name,
#define ATTNREG_DETAIL_PATH(name, path) path,
#define ATTNREG_DETAIL_MEMBER(name, path) AttentionBackendEnum::name,
constexpr detail::EnumSpec<kCount> kSpec{{ATTNREG_ATTENTION_BACKEND_MEMBERS(ATTNREG_DETAIL_NAME)},
                                         {ATTNREG_ATTENTION_BACKEND_MEMBERS(ATTNREG_DETAIL_PATH)}};
constexpr std::array<AttentionBackendEnum, kCount> kMembers{
    ATTNREG_ATTENTION_BACKEND_MEMBERS(ATTNREG_DETAIL_MEMBER)};
#undef ATTNREG_DETAIL_NAME
#undef ATTNREG_DETAIL_PATH
#undef ATTNREG_DETAIL_MEMBER

// Constant-initialised, so registrations from static initialisers of other
// translation units (ATTNREG_REGISTER_BACKEND) find it ready.
constinit detail::OverrideTable<kCount> overrides{kSpec.paths};

std::size_t at(AttentionBackendEnum b) noexcept { return static_cast<std::size_t>(b.id()); }

}  // namespace

std::string_view AttentionBackendEnum::name() const noexcept { return kSpec.names[at(*this)]; }
std::string_view AttentionBackendEnum::value() const noexcept { return kSpec.paths[at(*this)]; }

std::string AttentionBackendEnum::get_path(bool include_classname) const {
  return detail::path_of(kSpec, overrides, at(*this), include_classname);
}

const AttentionBackend& AttentionBackendEnum::get_class() const {
  return detail::class_of(kSpec, overrides, at(*this));
}

bool AttentionBackendEnum::is_overridden() const noexcept {
  return overrides.override_slot(at(*this)) != nullptr;
}

void AttentionBackendEnum::clear_override() const noexcept { overrides.clear(at(*this)); }

AttentionBackendEnum AttentionBackendEnum::from_name(std::string_view name) {
  return kMembers[kSpec.position_of(name)];
}

std::optional<AttentionBackendEnum> AttentionBackendEnum::from_value(std::string_view path) {
  if (const auto i = kSpec.position_of_value(path)) return kMembers[*i];
  return std::nullopt;
}

std::span<const AttentionBackendEnum> AttentionBackendEnum::members() noexcept { return kMembers; }

void register_backend(AttentionBackendEnum backend, std::string_view class_path) {
  overrides.set(at(backend), class_path);
}

}  // namespace attnreg
