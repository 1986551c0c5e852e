// Python's str(member) for both enums: "AttentionBackendEnum.FLASH_ATTN".
#include <fmt/format.h>

#include <attnreg/registry.hpp>

namespace attnreg {

std::string to_string(AttentionBackendEnum backend) {
  return fmt::format("AttentionBackendEnum.{}", backend.name());
}

std::string to_string(MambaAttentionBackendEnum backend) {
  return fmt::format("MambaAttentionBackendEnum.{}", backend.name());
}

std::ostream& operator<<(std::ostream& os, AttentionBackendEnum backend) { return os << to_string(backend); }

std::ostream& operator<<(std::ostream& os, MambaAttentionBackendEnum backend) {
  return os << to_string(backend);
}

}  // namespace attnreg
