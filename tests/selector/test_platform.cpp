// Platform values and CUDA detection through the run-time-loaded driver.
#include <gtest/gtest.h>

#include <attnreg/platform.hpp>

#include "selector/cuda_probe.hpp"

namespace {

using attnreg::DeviceCapability;
using attnreg::DeviceType;
using attnreg::Platform;

TEST(Platform, CpuHasNoCapability) {
  const Platform p = Platform::cpu();
  EXPECT_EQ(p.device, DeviceType::CPU);
  EXPECT_FALSE(p.capability.has_value());
  EXPECT_EQ(p.name, "cpu");
}

TEST(Platform, SimulatedCudaCarriesItsCapability) {
  const Platform p = Platform::cuda({9, 0});
  EXPECT_EQ(p.device, DeviceType::CUDA);
  ASSERT_TRUE(p.capability.has_value());
  EXPECT_EQ(*p.capability, (DeviceCapability{9, 0}));
  EXPECT_EQ(p.name, "simulated cuda 9.0");
}

TEST(Platform, DescribesItselfWithCapabilityWhereItHasOne) {
  EXPECT_EQ(attnreg::to_string(Platform::cpu()), "cpu (cpu)");
  EXPECT_EQ(attnreg::to_string(Platform::cuda({10, 0})), "simulated cuda 10.0 (cuda, capability 10.0)");
}

TEST(Platform, ProbeWithoutDriverLibraryFindsNoDevice) {
  EXPECT_FALSE(attnreg::detail::probe_cuda_driver("libattnreg-no-such-driver.so.1").has_value());
}

TEST(Platform, ProbeOfLibraryWithoutDriverEntryPointsFindsNoDevice) {
  // libm loads but has no cuInit: the probe must refuse it, not crash.
  EXPECT_FALSE(attnreg::detail::probe_cuda_driver("libm.so.6").has_value());
}

TEST(Platform, DetectAgreesWithTheDriverProbe) {
  const Platform p = Platform::detect();
  const auto probed = attnreg::detail::probe_cuda_driver("libcuda.so.1");
  if (probed) {
    EXPECT_EQ(p.device, DeviceType::CUDA);
    EXPECT_EQ(p.capability, probed->capability);
    EXPECT_EQ(p.name, probed->name);
    EXPECT_GT(p.capability->major, 0);
  } else {
    EXPECT_EQ(p.device, DeviceType::CPU);
    EXPECT_FALSE(p.capability.has_value());
  }
}

TEST(Platform, DetectIsCached) {
  const Platform a = Platform::detect();
  const Platform b = Platform::detect();
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.name, b.name);
}

}  // namespace
