// AttentionBackend::device_memory() (attnreg/device_memory.hpp): the default
// is nullptr; a backend that offers a service returns the same object each
// time, and the interface is implementable without any device runtime (here
// on host memory, as tests and the CLI's DeviceBatch tests use it).
#include <gtest/gtest.h>

#include <attnreg/backend.hpp>
#include <attnreg/device_memory.hpp>
#include <attnreg/errors.hpp>
#include <attnreg/version.hpp>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace attnreg {
namespace {

class MinimalBackend final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "MINIMAL"; }
};

class HostBuffer final : public DeviceBuffer {
 public:
  explicit HostBuffer(std::size_t bytes)
      : size_(bytes), data_(std::aligned_alloc(256, ((bytes == 0 ? 1 : bytes) + 255) / 256 * 256)) {}
  ~HostBuffer() override { std::free(data_); }
  void* data() const noexcept override { return data_; }
  std::size_t size() const noexcept override { return size_; }

 private:
  std::size_t size_;
  void* data_;
};

class HostMemory final : public DeviceMemory {
 public:
  DLDevice device() const override { return {kDLCPU, 0}; }
  std::string device_name() const override { return "host"; }
  std::unique_ptr<DeviceBuffer> allocate(std::size_t bytes) const override {
    if (bytes > (std::size_t{1} << 40)) throw Error("host device memory: too large");
    return std::make_unique<HostBuffer>(bytes);
  }
  void copy_to_device(void* dst, const void* src, std::size_t n) const override { std::memcpy(dst, src, n); }
  void copy_to_host(void* dst, const void* src, std::size_t n) const override { std::memcpy(dst, src, n); }
  void synchronize() const override {}
};

class ServiceBackend final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "SERVICE"; }
  const DeviceMemory* device_memory() const noexcept override { return &memory_; }

 private:
  HostMemory memory_;
};

TEST(DeviceMemory, DefaultIsNone) {
  const MinimalBackend b;
  EXPECT_EQ(b.device_memory(), nullptr);
}

TEST(DeviceMemory, BackendReturnsItsService) {
  const ServiceBackend b;
  const AttentionBackend& base = b;
  ASSERT_NE(base.device_memory(), nullptr);
  EXPECT_EQ(base.device_memory(), base.device_memory());
  EXPECT_EQ(base.device_memory()->device().device_type, kDLCPU);
  EXPECT_EQ(base.device_memory()->device_name(), "host");
}

TEST(DeviceMemory, RoundTripThroughTheInterface) {
  const ServiceBackend b;
  const DeviceMemory& m = *b.device_memory();
  std::vector<int> in{1, 2, 3, 4, 5}, out(5, 0);
  auto buf = m.allocate(in.size() * sizeof(int));
  ASSERT_NE(buf->data(), nullptr);
  EXPECT_EQ(buf->size(), in.size() * sizeof(int));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(buf->data()) % 256, 0u);
  m.copy_to_device(buf->data(), in.data(), buf->size());
  m.synchronize();
  m.copy_to_host(out.data(), buf->data(), buf->size());
  EXPECT_EQ(in, out);
  EXPECT_NE(m.allocate(0)->data(), nullptr);
  EXPECT_THROW(m.allocate(std::size_t{1} << 41), Error);
}

TEST(DeviceMemory, AbiVersionStampsTheNewVirtual) {
  // device_memory() changed AttentionBackend's vtable: plugins built before it carry ABI 1.
  EXPECT_EQ(ATTNREG_ABI_VERSION, 2u);
  EXPECT_EQ(abi_version(), ATTNREG_ABI_VERSION);
}

}  // namespace
}  // namespace attnreg
