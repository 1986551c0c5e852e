// Internal: finding a CUDA device through the driver library loaded at run
// time, so the core library never links CUDA.
#pragma once

#include <attnreg/platform.hpp>
#include <optional>

namespace attnreg::detail {

/// Loads the CUDA driver library `soname` with dlopen and asks it for device
/// 0's name and compute capability. nullopt when the library cannot be
/// loaded, lacks a needed entry point, fails cuInit, or reports no device.
/// The library stays loaded (an initialised driver must not be unloaded).
/// Thread safety: may be called from any thread.
std::optional<Platform> probe_cuda_driver(const char* soname);

}  // namespace attnreg::detail
