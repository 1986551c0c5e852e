// What the FLASH_ATTN plugin knows about the CUDA device it would run on.
// Asked through the CUDA runtime (linked statically), which answers with an
// error code rather than crashing when there is no driver or no GPU.
#pragma once

#include <attnreg/backend.hpp>
#include <string>
#include <variant>

namespace attnreg::flash_attn {

/// The current CUDA device as the runtime reports it.
struct CudaDevice {
  int ordinal = 0;
  DeviceCapability capability;
  int num_sms = 0;
};

/// The current device, or the reason there is none, e.g.
/// "no CUDA device: cudaGetDeviceCount failed with cudaErrorNoDevice (no CUDA-capable device is detected)".
/// Thread safety: may be called from any thread.
std::variant<CudaDevice, std::string> current_cuda_device();

/// "cudaErrorX (description)" for a CUDA runtime error code.
std::string cuda_error_text(int code);

}  // namespace attnreg::flash_attn
