// Plain-C++ description of one attention launch, shared by the host side of
// the FLASH_ATTN plugin and its CUDA kernels (so no CUDA header is needed to
// fill it in). Every pointer is a device pointer; every stride is in elements.
#pragma once

#include <cstdint>

namespace attnreg::flash_attn {

/// Element type of query/key/value/output.
enum class Dtype : std::uint8_t { Float16, BFloat16 };

/// Everything the kernels need for one forward() call.
struct KernelParams {
  Dtype dtype = Dtype::BFloat16;
  bool cache_fp8 = false;  ///< KV cache holds fp8 e4m3 (dequantised with k_scale/v_scale)
  int head_size = 0;       ///< 64, 96, 128 or 256
  int num_heads = 0, num_kv_heads = 0;
  int num_tokens = 0, num_reqs = 0;
  int max_query_len = 0, max_seq_len = 0;
  int block_size = 0, num_blocks = 0, max_blocks_per_req = 0;
  bool causal = true;
  int window = 0;        ///< 0 = no sliding window, else keys p-window+1 .. p
  float scale = 1.0f;    ///< softmax scale
  float softcap = 0.0f;  ///< 0 = off
  float k_scale = 1.0f, v_scale = 1.0f;

  const void* q = nullptr;  ///< [T, H, D], strides q_stride_t / q_stride_h, unit stride in D
  std::int64_t q_stride_t = 0, q_stride_h = 0;
  void* out = nullptr;  ///< [T, H, D]
  std::int64_t o_stride_t = 0, o_stride_h = 0;
  void* k_cache = nullptr;  ///< block base of the K half; a block is [block_size, Hkv, D] contiguous
  void* v_cache = nullptr;  ///< block base of the V half
  std::int64_t cache_stride_block = 0;  ///< elements between consecutive blocks

  const int* query_start_loc = nullptr;  ///< [num_reqs + 1]
  const int* seq_lens = nullptr;         ///< [num_reqs]
  const int* block_table = nullptr;      ///< [num_reqs, max_blocks_per_req], row stride bt_stride
  std::int64_t bt_stride = 0;
  const float* sinks = nullptr;  ///< [H] device copy, or null

  float* scratch = nullptr;  ///< split-KV partials, scratch_floats floats
  std::int64_t scratch_floats = 0;
  int* error_flag = nullptr;  ///< set to nonzero when an index was out of range
  int num_sms = 132;
  /// Compute capability of the device the kernels run on, 10 * major + minor
  /// (90 for 9.0), known to the caller, so that the launchers ask the runtime
  /// for it on no forward; 0 = unknown (only the kernels every device runs).
  int compute_capability = 0;
  void* stream = nullptr;  ///< cudaStream_t
};

/// Arguments of reshape_and_cache: key/value [T, Hkv, D] into the cache.
struct CacheWriteParams {
  Dtype dtype = Dtype::BFloat16;
  bool cache_fp8 = false;
  int head_size = 0, num_kv_heads = 0, num_tokens = 0;
  int block_size = 0, num_blocks = 0;
  float k_scale = 1.0f, v_scale = 1.0f;
  const void* key = nullptr;
  std::int64_t k_stride_t = 0, k_stride_h = 0;
  const void* value = nullptr;
  std::int64_t v_stride_t = 0, v_stride_h = 0;
  void* k_cache = nullptr;
  void* v_cache = nullptr;
  std::int64_t cache_stride_block = 0;
  const std::int64_t* slot_mapping = nullptr;
  int* error_flag = nullptr;
  void* stream = nullptr;
};

/// Largest query length a request may have to be served by the decode kernel;
/// longer requests go to the tensor-core prefill kernel.
inline constexpr int kDecodeMaxQueryLen = 4;

/// Launches the cache write. Returns the CUDA error code of the launch (0 = ok).
int launch_reshape_and_cache(const CacheWriteParams& p);

/// Launches attention for a mixed batch: decode kernel (plus split-KV merge)
/// for requests with query length <= kDecodeMaxQueryLen, prefill kernel for
/// the others. No allocation, no host synchronisation. Returns the CUDA error
/// code of the first failing launch (0 = ok).
int launch_attention(const KernelParams& p);

/// How the decode kernel runs a batch, as the scheduler chooses it from
/// host-known sizes.
struct DecodePlan {
  int num_splits = 1;   ///< splits of each row's KV range (1 = none)
  int ring_stages = 3;  ///< ring depth of the 16-bit-cache kernels: 3, or 2 for long splits
  /// Whether the 16-bit-cache rings may be filled by bulk tensor copies (the
  /// Hopper kernel, where it serves the batch) rather than cp.async.
  bool copy_engine = true;
};

/// The scheduler's plan for p's decode rows; exposed for tests and benchmarks.
DecodePlan plan_decode(const KernelParams& p);

/// Shared memory per CTA, in bytes (dynamic plus static), that the kernels
/// serving head_size may use: the largest of the decode and prefill kernels
/// over dtypes and cache types; 0 for a head size no kernel serves.
/// Host-only arithmetic, no CUDA call.
int shared_memory_per_cta(int head_size);

/// Opts the kernels for head_size into the shared memory they need; call once
/// per head size before launching (not capture-sensitive). Returns a CUDA error code.
int prepare_kernels(int head_size);

}  // namespace attnreg::flash_attn
