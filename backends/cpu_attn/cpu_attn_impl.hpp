// CpuAttentionImpl: CPU_ATTN's AttentionImpl. forward validates everything
// first (validate_forward_args), writes this step's keys/values into the paged
// cache, then runs the SIMD/OpenMP attention kernel.
//
// Thread safety: as every AttentionImpl, one forward at a time per object
// (the workspace is reused between calls); distinct objects may run
// concurrently.
#pragma once

#include <array>
#include <attnreg/backend.hpp>
#include <vector>

#include "kernels/attention_kernel.hpp"

namespace attnreg::cpu_attn {

/// One layer's CPU attention. Copies params (sinks and ALiBi slopes included),
/// so the caller's arrays need not outlive it.
class CpuAttentionImpl final : public AttentionImpl {
 public:
  /// params must already be validated (the backend's make_impl does it).
  explicit CpuAttentionImpl(const AttentionLayerParams& params);

  /// See AttentionImpl::forward. Throws ValueError (nothing written) for
  /// invalid inputs. Allocates only when a call needs more scratch than any
  /// earlier one.
  void forward(const DLTensor& query, const DLTensor& key, const DLTensor& value, const DLTensor& kv_cache,
               const AttentionMetadata& metadata, const DLTensor& output) override;

 private:
  AttentionLayerParams params_;
  std::vector<float> sinks_, alibi_slopes_;
  std::array<float, 256> fp8_k_lut_{}, fp8_v_lut_{};
  Workspace workspace_;
};

}  // namespace attnreg::cpu_attn
