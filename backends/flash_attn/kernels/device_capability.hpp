// The current CUDA device's compute capability, for host code that has no
// KernelParams to read it from (kernel preparation, the benchmark's C entry).
#pragma once

#include <cuda_runtime_api.h>

namespace attnreg::flash_attn {

/// Compute capability of the current device as 10 * major + minor (90 for
/// 9.0), 0 when it cannot be read. Attribute queries are no stream
/// operations, so this is legal during graph capture.
inline int current_device_capability() {
  int dev = 0, major = 0, minor = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) return 0;
  if (cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess) return 0;
  return 10 * major + minor;
}

/// Whether the current device is compute capability 9.0 (sm_90a code runs nowhere else).
inline bool device_is_sm90() { return current_device_capability() == 90; }

}  // namespace attnreg::flash_attn
