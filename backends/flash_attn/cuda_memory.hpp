// FLASH_ATTN's device-memory service (attnreg/device_memory.hpp) on the CUDA
// runtime the plugin links statically: plain cudaMalloc allocations on the
// calling thread's current device, synchronous cudaMemcpy copies and
// cudaDeviceSynchronize. Lets `attnreg run` / `bench` (which link no CUDA)
// put a batch on the GPU.
//
// Thread safety: stateless; every method may be called from any thread.
#pragma once

#include <attnreg/device_memory.hpp>

namespace attnreg::flash_attn {

/// The service FlashAttentionBackend::device_memory() returns.
class CudaDeviceMemory final : public DeviceMemory {
 public:
  /// {kDLCUDA, current device}; Error "... no CUDA device: ..." without one.
  DLDevice device() const override;
  /// "NVIDIA H100 80GB HBM3 (cuda:0, capability 9.0)".
  std::string device_name() const override;
  std::unique_ptr<DeviceBuffer> allocate(std::size_t bytes) const override;
  void copy_to_device(void* dst, const void* src, std::size_t bytes) const override;
  void copy_to_host(void* dst, const void* src, std::size_t bytes) const override;
  void synchronize() const override;
};

}  // namespace attnreg::flash_attn
