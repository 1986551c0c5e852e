#include "device_util.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstring>
#include <stdexcept>
#include <utility>

namespace attnreg::flash_attn::test {

std::string why_no_device() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return std::string("no CUDA device: cudaGetDeviceCount failed with ") + cudaGetErrorName(err);
  }
  if (n == 0) return "no CUDA device: cudaGetDeviceCount found 0 devices";
  return {};
}

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  if (cudaMalloc(&ptr_, bytes == 0 ? 16 : bytes) != cudaSuccess)
    throw std::runtime_error("cudaMalloc failed");
}

DeviceBuffer::~DeviceBuffer() { cudaFree(ptr_); }

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  std::swap(ptr_, o.ptr_);
  std::swap(bytes_, o.bytes_);
  return *this;
}

void DeviceBuffer::upload(const void* host) const {
  if (cudaMemcpy(ptr_, host, bytes_, cudaMemcpyHostToDevice) != cudaSuccess)
    throw std::runtime_error("cudaMemcpy to device failed");
}

void DeviceBuffer::download(void* host) const {
  if (cudaMemcpy(host, ptr_, bytes_, cudaMemcpyDeviceToHost) != cudaSuccess)
    throw std::runtime_error("cudaMemcpy to host failed");
}

TensorView::TensorView(void* data, DLDataType dtype, std::vector<std::int64_t> shape_, DLDeviceType dev,
                       std::vector<std::int64_t> strides_)
    : shape(std::move(shape_)), strides(std::move(strides_)) {
  t.data = data;
  t.device = {dev, 0};
  t.dtype = dtype;
  t.ndim = static_cast<int>(shape.size());
  t.shape = shape.data();
  t.strides = strides.empty() ? nullptr : strides.data();
  t.byte_offset = 0;
}

TensorView& TensorView::operator=(const TensorView& o) {
  shape = o.shape;
  strides = o.strides;
  t = o.t;
  t.shape = shape.data();
  t.strides = strides.empty() ? nullptr : strides.data();
  return *this;
}

std::uint16_t to_bits(float x, bool bf16) {
  if (bf16) return static_cast<__nv_bfloat16_raw>(__float2bfloat16_rn(x)).x;
  return static_cast<__half_raw>(__float2half_rn(x)).x;
}

float from_bits(std::uint16_t b, bool bf16) {
  if (bf16) {
    __nv_bfloat16_raw r;
    r.x = b;
    return __bfloat162float(__nv_bfloat16(r));
  }
  __half_raw r;
  r.x = b;
  return __half2float(__half(r));
}

std::uint8_t to_fp8(float x) {
  const __nv_fp8_e4m3 v(x);
  std::uint8_t b;
  std::memcpy(&b, &v, 1);
  return b;
}

float from_fp8(std::uint8_t b) {
  __nv_fp8_e4m3 v;
  std::memcpy(&v, &b, 1);
  return float(v);
}

}  // namespace attnreg::flash_attn::test
