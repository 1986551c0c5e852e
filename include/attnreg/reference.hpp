// attnreg/reference.hpp: the float64 reference implementation of
// AttentionImpl::forward that every backend is tested against, with the
// per-dtype tolerances and the comparison helper the tests use.
//
// The reference is written for clarity, not speed: everything in double, one
// query at a time, after each request's keys and values of one KV head are
// dequantised into contiguous arrays. It reads the same DLTensors a backend
// reads (any supported dtype, any strides, fp8 caches) and supports every
// feature of the contract: GQA, causal attention over a cached prefix plus the
// new tokens, non-causal (metadata.causal = false or an encoder attention
// type), sliding window, logits soft-cap, sinks, ALiBi, fp8 caches with
// k_scale/v_scale, and padding slots.
//
// Semantics, for query token j of request r (q_r tokens, seq_r = seq_lens[r])
// at position p = seq_r - q_r + j, head h, KV head h / (H / Hkv):
//  - visible keys: causal: 0..p; non-causal: 0..seq_r-1. A sliding window W
//    further keeps keys k with p - k < W (causal) or |p - k| < W (non-causal);
//  - logit s_k = scale * q.k (k and v dequantised as byte * k_scale / v_scale
//    for fp8 caches); with a soft-cap c, s_k = c * tanh(s_k / c); then ALiBi
//    adds slope_h * (k - p);
//  - out = sum_k softmax(s)_k v_k, where a sink adds exp(sink_h) to the
//    softmax denominator (a logit with no value).
//
// Thread safety: functions only touch their arguments; calls on distinct
// caches may run concurrently.
#pragma once

#include <dlpack/dlpack.h>

#include <attnreg/backend.hpp>
#include <attnreg/dtype.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace attnreg::reference {

/// Writes key/value [T, Hkv, D] into kv_cache at slot_mapping exactly as a
/// backend must: slot s goes to block s / block_size, offset s % block_size;
/// negative slots are skipped. An "auto" cache stores the values unchanged
/// (same dtype); an fp8_e4m3 cache stores float_to_fp8_e4m3(float(x) / scale)
/// (a float division by k_scale resp. v_scale, saturating to +-448, round to
/// nearest even). Validates first (host tensors; key/value [T, Hkv, D] of a
/// float dtype, kv_cache [2, num_blocks, block_size, Hkv, D] of the dtype
/// params.kv_cache_dtype implies, slot_mapping int64 [T] with every
/// non-negative slot < num_blocks * block_size); throws ValueError.
void write_kv_cache(const AttentionLayerParams& params, const DLTensor& key, const DLTensor& value,
                    const DLTensor& kv_cache, const DLTensor& slot_mapping);

/// The whole forward on the host: validates (validate_forward_args, CPU,
/// index ranges checked), writes key/value into kv_cache (write_kv_cache, so
/// pass a copy when the cache must stay untouched), then computes attention
/// from the cache into out, T * H * D doubles, row-major [T, H, D]. `output`
/// is only validated, never written. Throws ValueError for invalid inputs or
/// an out of the wrong size.
void forward(const AttentionLayerParams& params, const DLTensor& query, const DLTensor& key,
             const DLTensor& value, const DLTensor& kv_cache, const AttentionMetadata& metadata,
             const DLTensor& output, std::span<double> out);

/// Allowed error of a backend's output against the reference: element passes
/// when |actual - expected| <= atol + rtol * |expected|.
struct Tolerance {
  double atol = 0.0;
  double rtol = 0.0;
};

/// Per-dtype tolerances, for inputs of magnitude ~1 (as SyntheticBatch makes):
///  - float32: atol 2e-5, rtol 2e-5 (fp32 accumulation, fast exp);
///  - float16: atol 5e-3, rtol 5e-3 (2^-11 output rounding, fp16 P·V);
///  - bfloat16: atol 2e-2, rtol 2e-2 (2^-8 output rounding, bf16 P·V);
///  - kv_cache_dtype "fp8_e4m3": at least atol 6e-2, rtol 6e-2, since a
///    backend computing value/scale as value * (1/scale) may round a new
///    token's key or value to a neighbouring fp8 code (2^-3 relative steps).
Tolerance tolerance(ScalarType dtype, std::string_view kv_cache_dtype = "auto");

/// Result of compare().
struct Comparison {
  std::int64_t num_elements = 0;
  std::int64_t num_nonfinite = 0;   ///< NaN/Inf outputs (unwritten NaN-poisoned ones included)
  std::int64_t num_mismatched = 0;  ///< finite outputs outside the tolerance
  double max_abs_error = 0.0;       ///< over finite outputs
  double max_rel_error = 0.0;       ///< |a - e| / max(|e|, 1e-6), over finite outputs
  bool passed = false;              ///< no non-finite and no mismatched element
  std::string first_failure;        ///< e.g. "output[3, 1, 7] = nan, expected 0.25" (empty when passed)
};

/// Compares a backend's output [T, H, D] (host-accessible, any float dtype,
/// any strides) with the reference values `expected` (row-major, T * H * D).
/// Throws ValueError when the sizes differ or output is not on the host.
Comparison compare(const DLTensor& output, std::span<const double> expected, Tolerance tolerance);

}  // namespace attnreg::reference
