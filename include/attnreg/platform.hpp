// attnreg/platform.hpp: the machine a backend is selected for (vLLM's
// current_platform, reduced to what backend selection needs).
//
// A Platform is a plain value: the selector reads its device type and compute
// capability and copies them into the AttentionConfig it validates against.
// Platform::cuda() builds a simulated CUDA platform, so selection for a GPU can
// be explained (and tested) on a machine without one.
#pragma once

#include <attnreg/backend.hpp>
#include <optional>
#include <string>

namespace attnreg {

/// The device kind, compute capability and human-readable name of a machine.
struct Platform {
  DeviceType device = DeviceType::CPU;
  /// Set for CUDA platforms only.
  std::optional<DeviceCapability> capability;
  /// "cpu", a CUDA device's name (e.g. "NVIDIA H100 80GB HBM3"), or
  /// "simulated cuda 9.0" for Platform::cuda().
  std::string name;

  /// The host CPU. Thread safety: pure, may be called from any thread.
  static Platform cpu();

  /// A simulated CUDA device of the given compute capability; nothing is
  /// probed. Thread safety: pure, may be called from any thread.
  static Platform cuda(DeviceCapability capability);

  /// The platform this process runs on: CUDA device 0 when the CUDA driver
  /// (libcuda.so.1, loaded at run time so the core never links CUDA) reports
  /// at least one device, else the CPU. Probed once per process; later calls
  /// return the cached result.
  /// Thread safety: may be called from any thread; concurrent first calls
  /// probe once (a function-local static).
  static Platform detect();
};

/// "cpu (cpu)", "NVIDIA H100 80GB HBM3 (cuda, capability 9.0)".
/// Thread safety: pure, may be called from any thread.
std::string to_string(const Platform& platform);

}  // namespace attnreg
