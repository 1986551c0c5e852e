// In-process backend classes for the selector tests, and a fixture that puts
// the registry and the environment back as they were after each test.
#pragma once

#include <gtest/gtest.h>

#include <attnreg/errors.hpp>
#include <attnreg/registry.hpp>
#include <attnreg/selector.hpp>
#include <cstdlib>

namespace selector_test {

/// A CUDA backend for Ampere and later (FLASH_ATTN-like).
class FakeFlash : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "FAKE_FLASH"; }
  bool supports_compute_capability(attnreg::DeviceCapability cc) const override { return cc.major >= 8; }
};

/// A CPU backend for head sizes 64 and 128 only.
class FakeCpu : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "FAKE_CPU"; }
  std::vector<attnreg::DeviceType> supported_devices() const override { return {attnreg::DeviceType::CPU}; }
  std::vector<int> supported_head_sizes() const override { return {64, 128}; }
};

/// A backend for attention-free models on every device (NO_ATTENTION-like).
class FakeNoAttention : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "FAKE_NO_ATTENTION"; }
  std::vector<attnreg::DeviceType> supported_devices() const override {
    return {attnreg::DeviceType::CPU, attnreg::DeviceType::CUDA};
  }
  bool supports_attention() const override { return false; }
};

/// A backend valid everywhere, for CUSTOM.
class FakeAnywhere : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "FAKE_ANYWHERE"; }
  std::vector<attnreg::DeviceType> supported_devices() const override {
    return {attnreg::DeviceType::CPU, attnreg::DeviceType::CUDA};
  }
};

/// Clears every override and the backend environment variable before and
/// after each test, so tests do not see each other's registrations.
class SelectorTest : public ::testing::Test {
 protected:
  void SetUp() override { reset(); }
  void TearDown() override { reset(); }

  static void reset() {
    for (const auto member : attnreg::AttentionBackendEnum::members()) member.clear_override();
    unsetenv(attnreg::kBackendEnvVar);
  }

  /// A decoder layer shape every fake accepts.
  static attnreg::AttentionConfig config() {
    attnreg::AttentionConfig c;
    c.head_size = 128;
    c.num_heads = 32;
    c.num_kv_heads = 8;
    c.dtype = attnreg::ScalarType::BFloat16;
    return c;
  }

  /// What get_class() throws for member now, as the selector should report it.
  static std::string import_reason(attnreg::AttentionBackendEnum member) {
    try {
      member.get_class();
    } catch (const attnreg::Error& e) {
      return std::string("not available: ") + e.what();
    }
    return "";
  }
};

}  // namespace selector_test
