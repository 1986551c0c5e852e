// What `run` and `bench` share: the backend choice (and, for a device
// backend, its device-memory service), the synthetic batch spec the flags
// describe, and timing.
#pragma once

#include <attnreg/device_memory.hpp>
#include <attnreg/selector.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <functional>
#include <vector>

#include "layer_options.hpp"
#include "workload.hpp"

namespace attnreg::cli {

/// Where `run` / `bench` run the chosen backend.
struct RunTarget {
  Selection selection;
  /// The backend's device-memory service when the batch is copied to its
  /// device; nullptr when forward() runs on the host batch itself.
  const DeviceMemory* device_memory = nullptr;
};

/// The backend and memory for a run: select_backend with --backend as the
/// request, on this platform:
///  - --device given: that device (to_platform);
///  - otherwise cpu (the batch is built in host memory), unless the requested
///    backend (--backend, else ATTNREG_ATTENTION_BACKEND) cannot run on the
///    cpu: then the detected CUDA device, or, on a machine without one, a
///    CUDA platform with no capability ("cuda (no device detected)"), so the
///    backend's own validate_configuration says why it cannot run (FLASH_ATTN:
///    "no CUDA device: ...").
/// Throws the selector's ValueError when the backend does not fit. A backend
/// that runs on the cpu runs on the host batch; one that does not must offer
/// AttentionBackend::device_memory(), else ValueError ("... offers no device
/// memory ...").
RunTarget select_for_run(const LayerOptions& options);

/// A BatchSpec with the layer flags filled in (shape, dtypes, block size,
/// window, soft-cap, sinks, seed) and no requests yet.
BatchSpec layer_batch_spec(const LayerOptions& options, std::uint64_t seed);

/// The requests of spec as the workload counters see them.
std::vector<RequestShape> request_shapes(const BatchSpec& spec);

/// The layer dimensions and element sizes of spec.
LayerShape layer_shape(const BatchSpec& spec);

/// Median wall time in seconds of one call of fn, over at least min_iters
/// calls and at least min_seconds in total (after one untimed warm-up call).
double median_seconds(const std::function<void()>& fn, int min_iters, double min_seconds);

}  // namespace attnreg::cli
