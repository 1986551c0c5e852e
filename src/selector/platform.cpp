#include <dlfcn.h>
#include <fmt/format.h>

#include <array>
#include <attnreg/platform.hpp>

#include "selector/cuda_probe.hpp"

namespace attnreg {
namespace detail {
namespace {

// The few driver API entry points the probe needs, with the driver's ABI
// (CUresult and CUdevice are int; attributes are a C enum).
using CuInit = int (*)(unsigned int);
using CuDeviceGetCount = int (*)(int*);
using CuDeviceGet = int (*)(int*, int);
using CuDeviceGetAttribute = int (*)(int*, int, int);
using CuDeviceGetName = int (*)(char*, int, int);

constexpr int kCudaSuccess = 0;
constexpr int kAttrComputeCapabilityMajor = 75;  // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
constexpr int kAttrComputeCapabilityMinor = 76;  // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR

template <class Fn>
Fn symbol(void* lib, const char* name) {
  return reinterpret_cast<Fn>(dlsym(lib, name));
}

}  // namespace

std::optional<Platform> probe_cuda_driver(const char* soname) {
  void* lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return std::nullopt;
  const auto init = symbol<CuInit>(lib, "cuInit");
  const auto get_count = symbol<CuDeviceGetCount>(lib, "cuDeviceGetCount");
  const auto get_device = symbol<CuDeviceGet>(lib, "cuDeviceGet");
  const auto get_attribute = symbol<CuDeviceGetAttribute>(lib, "cuDeviceGetAttribute");
  const auto get_name = symbol<CuDeviceGetName>(lib, "cuDeviceGetName");
  if (!init || !get_count || !get_device || !get_attribute || !get_name) return std::nullopt;

  int count = 0;
  int device = 0;
  DeviceCapability cc;
  std::array<char, 256> name{};
  if (init(0) != kCudaSuccess || get_count(&count) != kCudaSuccess || count < 1 ||
      get_device(&device, 0) != kCudaSuccess ||
      get_attribute(&cc.major, kAttrComputeCapabilityMajor, device) != kCudaSuccess ||
      get_attribute(&cc.minor, kAttrComputeCapabilityMinor, device) != kCudaSuccess ||
      get_name(name.data(), static_cast<int>(name.size()) - 1, device) != kCudaSuccess)
    return std::nullopt;
  return Platform{DeviceType::CUDA, cc, std::string(name.data())};
}

}  // namespace detail

Platform Platform::cpu() { return Platform{DeviceType::CPU, std::nullopt, "cpu"}; }

Platform Platform::cuda(DeviceCapability capability) {
  return Platform{DeviceType::CUDA, capability,
                  fmt::format("simulated cuda {}.{}", capability.major, capability.minor)};
}

std::string to_string(const Platform& p) {
  if (!p.capability) return fmt::format("{} ({})", p.name, to_string(p.device));
  return fmt::format("{} ({}, capability {}.{})", p.name, to_string(p.device), p.capability->major,
                     p.capability->minor);
}

Platform Platform::detect() {
  static const Platform detected = detail::probe_cuda_driver("libcuda.so.1").value_or(Platform::cpu());
  return detected;
}

}  // namespace attnreg
