// acme_cpp.attention: a minimal out-of-tree C++ backend class for the Python
// walkthrough. It only describes itself (CPU, float32, head sizes 64 and 128),
// which is all the selector needs to choose it; a real plugin also overrides
// make_impl (see examples/plugin for one that runs attention).
#include <attnreg/plugin.hpp>
#include <string_view>
#include <vector>

namespace acme_cpp {

/// A CPU-only float32 backend for head sizes 64 and 128.
class TinyCpuBackend final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "ACME_TINY_CPU"; }
  std::vector<attnreg::ScalarType> supported_dtypes() const override {
    return {attnreg::ScalarType::Float32};
  }
  std::vector<int> supported_head_sizes() const override { return {64, 128}; }
  std::vector<attnreg::DeviceType> supported_devices() const override { return {attnreg::DeviceType::CPU}; }
};

}  // namespace acme_cpp

ATTNREG_PLUGIN(m) { m.add_class<acme_cpp::TinyCpuBackend>("TinyCpuBackend"); }
