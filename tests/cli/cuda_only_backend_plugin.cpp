// A test plugin for `attnreg run` refusing a backend that cannot read host
// memory: a CUDA-only backend, valid on a simulated CUDA platform, built as
// module attnreg.backends.triton_attn (TRITON_ATTN's default module, which
// this project never builds) into the CLI tests' own plugin directory.
#include <attnreg/plugin.hpp>

namespace {

class CudaOnlyBackend final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "TRITON_ATTN"; }
  // The default supported_devices() is {CUDA}: nothing else to declare.
};

}  // namespace

ATTNREG_PLUGIN(m) { m.add_class<CudaOnlyBackend>("TritonAttentionBackend"); }
