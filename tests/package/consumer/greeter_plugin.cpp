// The consumer's plugin: one backend class, module consumer.greeter.
#include <attnreg/plugin.hpp>

namespace {

/// A CPU backend that only describes itself; enough to prove the plugin
/// loaded and its virtual functions dispatch across the library boundary.
class GreeterBackend final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "GREETER"; }
  std::vector<attnreg::DeviceType> supported_devices() const override { return {attnreg::DeviceType::CPU}; }
  std::vector<int> supported_head_sizes() const override { return {64, 128}; }
};

}  // namespace

ATTNREG_PLUGIN(m) { m.add_class<GreeterBackend>("GreeterBackend"); }
