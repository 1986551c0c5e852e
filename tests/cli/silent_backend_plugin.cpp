// A test plugin for the failing path of `attnreg run --check`: a CPU backend
// whose forward writes nothing, so the NaN-poisoned output and the unwritten
// cache must be reported as FAIL with exit status 1.
//
// It is built as module attnreg.backends.flex_attention (FLEX_ATTENTION's
// default module, which this project never builds) into a test-only
// directory that the tests put on ATTNREG_PLUGIN_PATH.
#include <attnreg/plugin.hpp>

namespace {

class SilentImpl final : public attnreg::AttentionImpl {
 public:
  // Deliberately writes neither the cache nor the output.
  void forward(const DLTensor&, const DLTensor&, const DLTensor&, const DLTensor&,
               const attnreg::AttentionMetadata&, const DLTensor&) override {}
};

class SilentBackend final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "FLEX_ATTENTION"; }
  std::vector<attnreg::DeviceType> supported_devices() const override { return {attnreg::DeviceType::CPU}; }
  std::vector<attnreg::ScalarType> supported_dtypes() const override {
    return {attnreg::ScalarType::Float32, attnreg::ScalarType::Float16, attnreg::ScalarType::BFloat16};
  }
  std::unique_ptr<attnreg::AttentionImpl> make_impl(const attnreg::AttentionLayerParams&) const override {
    return std::make_unique<SilentImpl>();
  }
};

}  // namespace

ATTNREG_PLUGIN(m) { m.add_class<SilentBackend>("FlexAttentionBackend"); }
