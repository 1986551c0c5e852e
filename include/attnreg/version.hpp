// attnreg/version.hpp: library version and plugin ABI version.
#pragma once

#include <cstdint>

/// Library version (semantic versioning).
#define ATTNREG_VERSION_MAJOR 0
#define ATTNREG_VERSION_MINOR 1
#define ATTNREG_VERSION_PATCH 0

/// Version of the binary interface between the core and plugins: the layout
/// of AttentionBackend's vtable, PluginModule and the plugin entry points.
/// Bump on any change to them; the loader refuses a plugin stamped with
/// another value. 2: AttentionBackend::device_memory() added.
#define ATTNREG_ABI_VERSION 2u

namespace attnreg {

/// The ABI version this copy of the core library was built with.
std::uint32_t abi_version() noexcept;

}  // namespace attnreg
