// MAMBA_TYPE_TO_BACKEND_MAP: a model's mamba type -> MambaAttentionBackendEnum member name.
#include <fmt/format.h>

#include <algorithm>
#include <attnreg/registry.hpp>
#include <stdexcept>

namespace attnreg {
namespace {

const MambaTypeMap& mamba_type_map() {
  // Function-local and never destroyed: safe to use from any static
  // initialiser or destructor.
  static const auto* map = new MambaTypeMap({{"mamba1", "MAMBA1"},
                                             {"mamba2", "MAMBA2"},
                                             {"short_conv", "SHORT_CONV"},
                                             {"linear_attention", "LINEAR"},
                                             {"gdn_attention", "GDN_ATTN"},
                                             {"custom", "CUSTOM"}});
  return *map;
}

}  // namespace

MambaTypeMap::const_iterator MambaTypeMap::find(std::string_view key) const {
  return std::find_if(entries_.begin(), entries_.end(), [&](const value_type& e) { return e.first == key; });
}

const std::string& MambaTypeMap::at(std::string_view key) const {
  const auto it = find(key);
  if (it == entries_.end()) {
    std::string keys;
    for (const auto& [k, v] : entries_) keys += (keys.empty() ? "" : ", ") + k;
    throw std::out_of_range(fmt::format("No mamba type '{}'. Known types: {}", key, keys));
  }
  return it->second;
}

const MambaTypeMap& MAMBA_TYPE_TO_BACKEND_MAP = mamba_type_map();

}  // namespace attnreg
