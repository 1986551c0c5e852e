#include <attnreg/version.hpp>

namespace attnreg {
std::uint32_t abi_version() noexcept { return ATTNREG_ABI_VERSION; }
}  // namespace attnreg
