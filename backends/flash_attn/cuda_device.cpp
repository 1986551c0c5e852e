#include "cuda_device.hpp"

#include <cuda_runtime.h>
#include <fmt/format.h>

namespace attnreg::flash_attn {

std::string cuda_error_text(int code) {
  const auto err = static_cast<cudaError_t>(code);
  return fmt::format("{} ({})", cudaGetErrorName(err), cudaGetErrorString(err));
}

std::variant<CudaDevice, std::string> current_cuda_device() {
  int count = 0;
  if (const cudaError_t err = cudaGetDeviceCount(&count); err != cudaSuccess) {
    cudaGetLastError();  // the failure is reported here; don't leave it sticky for later calls
    return fmt::format("no CUDA device: cudaGetDeviceCount failed with {}", cuda_error_text(err));
  }
  if (count == 0) return std::string("no CUDA device: cudaGetDeviceCount found 0 devices");
  CudaDevice dev;
  if (const cudaError_t err = cudaGetDevice(&dev.ordinal); err != cudaSuccess)
    return fmt::format("no CUDA device: cudaGetDevice failed with {}", cuda_error_text(err));
  cudaDeviceGetAttribute(&dev.capability.major, cudaDevAttrComputeCapabilityMajor, dev.ordinal);
  cudaDeviceGetAttribute(&dev.capability.minor, cudaDevAttrComputeCapabilityMinor, dev.ordinal);
  cudaDeviceGetAttribute(&dev.num_sms, cudaDevAttrMultiProcessorCount, dev.ordinal);
  return dev;
}

}  // namespace attnreg::flash_attn
