#include "cuda_memory.hpp"

#include <cuda_runtime.h>
#include <fmt/format.h>

#include <attnreg/errors.hpp>
#include <variant>

#include "cuda_device.hpp"

namespace attnreg::flash_attn {
namespace {

[[noreturn]] void fail(const std::string& what, cudaError_t err) {
  cudaGetLastError();  // reported here; don't leave a non-sticky error for the next call
  throw Error(fmt::format("FLASH_ATTN device memory: {} failed with {}", what, cuda_error_text(err)));
}

CudaDevice require_device() {
  auto dev = current_cuda_device();
  if (auto* reason = std::get_if<std::string>(&dev)) throw Error("FLASH_ATTN device memory: " + *reason);
  return std::get<CudaDevice>(dev);
}

class CudaBuffer final : public DeviceBuffer {
 public:
  CudaBuffer(void* data, std::size_t size) : data_(data), size_(size) {}
  ~CudaBuffer() override { cudaFree(data_); }
  void* data() const noexcept override { return data_; }
  std::size_t size() const noexcept override { return size_; }

 private:
  void* data_;
  std::size_t size_;
};

}  // namespace

DLDevice CudaDeviceMemory::device() const { return {kDLCUDA, require_device().ordinal}; }

std::string CudaDeviceMemory::device_name() const {
  const CudaDevice dev = require_device();
  cudaDeviceProp prop{};
  if (const cudaError_t err = cudaGetDeviceProperties(&prop, dev.ordinal); err != cudaSuccess)
    fail("cudaGetDeviceProperties", err);
  return fmt::format("{} (cuda:{}, capability {}.{})", prop.name, dev.ordinal, dev.capability.major,
                     dev.capability.minor);
}

std::unique_ptr<DeviceBuffer> CudaDeviceMemory::allocate(std::size_t bytes) const {
  require_device();
  void* data = nullptr;
  if (const cudaError_t err = cudaMalloc(&data, bytes == 0 ? 1 : bytes); err != cudaSuccess)
    fail(fmt::format("cudaMalloc of {} bytes", bytes), err);
  return std::make_unique<CudaBuffer>(data, bytes);
}

void CudaDeviceMemory::copy_to_device(void* dst, const void* src, std::size_t bytes) const {
  if (bytes == 0) return;
  if (const cudaError_t err = cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice); err != cudaSuccess)
    fail(fmt::format("cudaMemcpy of {} bytes host to device", bytes), err);
}

void CudaDeviceMemory::copy_to_host(void* dst, const void* src, std::size_t bytes) const {
  if (bytes == 0) return;
  if (const cudaError_t err = cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost); err != cudaSuccess)
    fail(fmt::format("cudaMemcpy of {} bytes device to host", bytes), err);
}

void CudaDeviceMemory::synchronize() const {
  if (const cudaError_t err = cudaDeviceSynchronize(); err != cudaSuccess) fail("cudaDeviceSynchronize", err);
}

}  // namespace attnreg::flash_attn
