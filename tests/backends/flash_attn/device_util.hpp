// Test helpers for the FLASH_ATTN device tests: skipping without a GPU,
// device buffers, DLTensor views and host conversions of bf16/fp16/fp8.
#pragma once

#include <cuda_runtime.h>
#include <dlpack/dlpack.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace attnreg::flash_attn::test {

/// Empty when a CUDA device is usable, else why not ("no CUDA device: ...").
std::string why_no_device();

/// Skips the calling test with a clear message when there is no CUDA device.
#define FA_REQUIRE_DEVICE()                                                                 \
  do {                                                                                      \
    if (const std::string why = ::attnreg::flash_attn::test::why_no_device(); !why.empty()) \
      GTEST_SKIP() << why << " (FLASH_ATTN device tests run only on a CUDA GPU)";           \
  } while (0)

/// Asserts a CUDA call succeeded.
#define FA_CUDA_OK(expr) ASSERT_EQ(cudaSuccess, (expr)) << #expr

/// Owns device memory of a fixed byte size.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  void* get() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }
  /// Copies bytes() bytes from host.
  void upload(const void* host) const;
  /// Copies bytes() bytes to host.
  void download(void* host) const;

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

/// A DLTensor over memory it does not own, keeping its shape and strides alive.
struct TensorView {
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> strides;  // empty = compact
  DLTensor t{};
  TensorView() = default;
  TensorView(void* data, DLDataType dtype, std::vector<std::int64_t> shape_, DLDeviceType dev = kDLCUDA,
             std::vector<std::int64_t> strides_ = {});
  TensorView(const TensorView& o) { *this = o; }
  TensorView& operator=(const TensorView& o);
  operator const DLTensor&() const { return t; }
};

inline constexpr DLDataType kDlBf16{kDLBfloat, 16, 1};
inline constexpr DLDataType kDlF16{kDLFloat, 16, 1};
inline constexpr DLDataType kDlU8{kDLUInt, 8, 1};
inline constexpr DLDataType kDlI32{kDLInt, 32, 1};
inline constexpr DLDataType kDlI64{kDLInt, 64, 1};

/// Host conversions (round to nearest even), matching the device's.
std::uint16_t to_bits(float x, bool bf16);
float from_bits(std::uint16_t b, bool bf16);
std::uint8_t to_fp8(float x);
float from_fp8(std::uint8_t b);

}  // namespace attnreg::flash_attn::test
