// A HostBatch copied to the device, with DLTensor views for forward(), and
// the checks every device test applies to its result.
#pragma once

#include <attnreg/backend.hpp>
#include <memory>

#include "batch.hpp"
#include "device_util.hpp"

namespace attnreg::flash_attn::test {

/// Device copies of a batch; output starts poisoned with NaN.
struct DeviceBatch {
  explicit DeviceBatch(const HostBatch& b);
  DeviceBuffer q, k, v, cache, out, qsl, seq_lens, block_table, slots;
  TensorView tq, tk, tv, tcache, tout, tqsl, tseq, tbt, tslots;
  AttentionMetadata metadata;  ///< points at the views above; stream null
  /// Layer params matching the batch's spec.
  AttentionLayerParams params;
  /// Re-poisons the output with NaN.
  void poison_output() const;
};

/// The FLASH_ATTN backend, resolved through the registry (loads the plugin).
const AttentionBackend& flash_attn_backend();

/// Makes the implementation for batch b (sinks/window/softcap/fp8 from its spec).
std::unique_ptr<AttentionImpl> make_impl_for(const HostBatch& b, AttentionLayerParams* params = nullptr);

/// Checks out (device) against the float64 reference: request rows within the
/// per-dtype tolerance, padding rows still NaN; and the cache as expected.
void expect_matches_reference(const HostBatch& b, const DeviceBatch& d, float scale = 0.0f);

}  // namespace attnreg::flash_attn::test
