// What `run` and `bench` share: the backend choice for a run on host (CPU)
// tensors, the synthetic batch spec the flags describe, and timing.
#pragma once

#include <attnreg/selector.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <functional>
#include <vector>

#include "layer_options.hpp"
#include "workload.hpp"

namespace attnreg::cli {

/// The selection for a run on host tensors: select_backend with --backend as
/// the request, on --device (default cpu rather than the detected platform:
/// the batch lives in host memory). Throws the selector's ValueError when the
/// backend does not fit, and ValueError when it does not run on the CPU
/// (CUDA backends are driven by their plugin's own runners, which own the
/// device copies).
Selection select_for_host_run(const LayerOptions& options);

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
