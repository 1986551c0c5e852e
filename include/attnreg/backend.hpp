// attnreg/backend.hpp: the backend contract, modelled on vLLM v1's
// AttentionBackend / AttentionImpl (vllm/v1/attention/backend.py).
//
// An AttentionBackend object is what a class path resolves to (the "class"
// of vLLM's registry): it describes what the backend supports, says why a
// configuration is not supported, gives the KV-cache layout, and makes an
// AttentionImpl for one layer. Every virtual except get_name() has a
// documented default, so a minimal backend is one method.
//
// Thread safety: backend objects are immutable after construction; every
// const method may be called from any thread. An AttentionImpl is used by
// one thread at a time (like a layer module), unless its backend says more.
#pragma once

#include <attnreg/dtype.hpp>

#include <dlpack/dlpack.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attnreg {

class DeviceMemory;  // attnreg/device_memory.hpp

/// vLLM's AttentionType.
enum class AttentionType { DECODER, ENCODER, ENCODER_ONLY, ENCODER_DECODER };

/// "decoder", "encoder", "encoder_only", "encoder_decoder" (vLLM's values).
std::string_view to_string(AttentionType type) noexcept;

/// Kind of device a backend runs on.
enum class DeviceType { CPU, CUDA };

/// "cpu" or "cuda".
std::string_view to_string(DeviceType type) noexcept;

/// CUDA compute capability (vLLM's DeviceCapability), e.g. {9, 0} for Hopper.
struct DeviceCapability {
  int major = 0;
  int minor = 0;
  /// major * 10 + minor, as vLLM's DeviceCapability.to_int().
  constexpr int to_int() const noexcept { return major * 10 + minor; }
  friend constexpr bool operator==(DeviceCapability, DeviceCapability) = default;
};

/// One rule of supported kernel block sizes: an exact value, or any multiple
/// of a base (vLLM's `int | MultipleOf`).
struct BlockSizeRule {
  int value = 1;
  bool multiple_of = false;
  static constexpr BlockSizeRule exactly(int v) noexcept { return {v, false}; }
  static constexpr BlockSizeRule multiple(int base) noexcept { return {base, true}; }
  constexpr bool accepts(int block_size) const noexcept {
    return multiple_of ? block_size > 0 && block_size % value == 0 : block_size == value;
  }
};

/// Everything vLLM's validate_configuration takes, plus the layer shape.
struct AttentionConfig {
  int head_size = 0;
  ScalarType dtype = ScalarType::BFloat16;
  std::string kv_cache_dtype = "auto";  ///< "auto" or "fp8_e4m3"
  std::optional<int> block_size;        ///< KV cache block size; nullopt = not yet chosen
  bool use_mla = false;
  bool has_sink = false;
  bool use_sparse = false;
  bool use_mm_prefix = false;
  bool use_per_head_quant_scales = false;
  DeviceType device = DeviceType::CPU;
  std::optional<DeviceCapability> device_capability;  ///< CUDA only
  AttentionType attn_type = AttentionType::DECODER;
  bool use_non_causal = false;
  bool use_batch_invariant = false;
  int num_heads = 0;
  int num_kv_heads = 0;  ///< 0 = same as num_heads
  std::optional<int> sliding_window;
  float logits_soft_cap = 0.0f;  ///< 0 = off
  bool has_alibi = false;
  bool has_attention = true;  ///< false for attention-free models (NO_ATTENTION)
};

/// Per-layer parameters of an AttentionImpl (pinned in api.md).
struct AttentionLayerParams {
  int num_heads = 0, head_size = 0, num_kv_heads = 0;
  float scale = 0.0f;                   ///< 0 means 1/sqrt(head_size)
  std::optional<int> sliding_window;    ///< query at position p sees keys p-W+1 .. p
  float logits_soft_cap = 0.0f;         ///< 0 = off; else s = cap * tanh(s / cap) after scaling
  std::string kv_cache_dtype = "auto";  ///< "auto" (= query dtype) or "fp8_e4m3"
  AttentionType attn_type = AttentionType::DECODER;
  const float* sinks = nullptr;          ///< [num_heads] extra softmax logit per head, or null
  const float* alibi_slopes = nullptr;   ///< [num_heads] bias slope * (key_pos - query_pos), or null
  float k_scale = 1.0f, v_scale = 1.0f;  ///< fp8 dequantisation scales
};

/// The configuration a layer's params describe (head size, heads, cache dtype,
/// window, soft cap, attention type; has_sink and has_alibi from whether
/// sinks and slopes are given) on `device`, for make_impl to pass to
/// validate_configuration. The model dtype is not known until forward, so
/// the caller names one that stands in. Pure; thread-safe.
AttentionConfig layer_config(const AttentionLayerParams& params, DeviceType device, ScalarType dtype);

/// Per-step batch description, vLLM's names and meanings (pinned in api.md).
struct AttentionMetadata {
  const DLTensor* query_start_loc = nullptr;  ///< int32 [num_reqs + 1]
  const DLTensor* seq_lens = nullptr;         ///< int32 [num_reqs]: cached tokens incl. this step's
  const DLTensor* block_table = nullptr;      ///< int32 [num_reqs, max_blocks_per_req]
  const DLTensor* slot_mapping = nullptr;     ///< int64 [num_tokens]; negative = padding, skipped
  int max_query_len = 0, max_seq_len = 0;
  bool causal = true;
  void* stream = nullptr;  ///< cudaStream_t for CUDA backends (null = default stream); ignored on CPU
};

/// One layer's attention computation.
class AttentionImpl {
 public:
  virtual ~AttentionImpl() = default;

  /// query/output [T, H, D]; key/value [T, Hkv, D] (this step's tokens);
  /// kv_cache [2, num_blocks, block_size, Hkv, D]. Writes key/value into the
  /// cache at slot_mapping, then attention into output. Request r's queries
  /// are its last q_r = query_start_loc[r+1]-query_start_loc[r] positions of
  /// seq_lens[r]; causal means query at position p sees keys 0..p.
  /// Invalid tensors or metadata throw ValueError before anything is written.
  virtual void forward(const DLTensor& query, const DLTensor& key, const DLTensor& value,
                       const DLTensor& kv_cache, const AttentionMetadata& metadata,
                       const DLTensor& output) = 0;

  /// Writes key/value [T, Hkv, D] into kv_cache at slot_mapping (int64 [T],
  /// negative = skipped), as vLLM's reshape_and_cache_flash.
  /// Default: throws NotImplementedError.
  virtual void reshape_and_cache(const DLTensor& key, const DLTensor& value, const DLTensor& kv_cache,
                                 const DLTensor& slot_mapping, void* stream = nullptr);
};

/// The "class" a backend path resolves to.
class AttentionBackend {
 public:
  virtual ~AttentionBackend() = default;

  /// The backend's name, e.g. "FLASH_ATTN" (vLLM's get_name()).
  virtual std::string_view get_name() const = 0;

  // ---- capabilities (vLLM's class attributes and supports_* classmethods) ----

  /// Model dtypes. Default: {Float16, BFloat16}.
  virtual std::vector<ScalarType> supported_dtypes() const;
  /// KV-cache dtypes. Default: {"auto"}.
  virtual std::vector<std::string> supported_kv_cache_dtypes() const;
  /// Kernel block sizes. Default: {multiple of 1}.
  virtual std::vector<BlockSizeRule> supported_kernel_block_sizes() const;
  /// Head sizes; empty means any. Default: empty.
  virtual std::vector<int> supported_head_sizes() const;
  /// Attention types. Default: {DECODER}.
  virtual std::vector<AttentionType> supported_attn_types() const;
  /// Devices. Default: {CUDA}.
  virtual std::vector<DeviceType> supported_devices() const;
  /// Whether a CUDA compute capability is supported. Default: true.
  virtual bool supports_compute_capability(DeviceCapability capability) const;
  /// Per-head attention sinks. Default: false.
  virtual bool supports_sink() const;
  /// MLA backend. Default: false.
  virtual bool is_mla() const;
  /// Sparse attention backend. Default: false.
  virtual bool is_sparse() const;
  /// Multimodal prefix (bidirectional image tokens). Default: false.
  virtual bool supports_mm_prefix() const;
  /// Per-head KV quantisation scales. Default: false.
  virtual bool supports_per_head_quant_scales() const;
  /// Non-causal attention. Default: false.
  virtual bool supports_non_causal() const;
  /// Batch-invariant numerics. Default: false.
  virtual bool supports_batch_invariant() const;
  /// Sliding-window attention. Default: true.
  virtual bool supports_sliding_window() const;
  /// Logits soft-cap. Default: true.
  virtual bool supports_logits_soft_cap() const;
  /// ALiBi slopes. Default: false.
  virtual bool supports_alibi() const;
  /// Whether it serves models with attention layers (false only for
  /// NO_ATTENTION-like backends). Default: true.
  virtual bool supports_attention() const;

  /// A constraint that spans several fields; nullopt when the combination is
  /// fine, else the reason. Default: nullopt.
  virtual std::optional<std::string> supports_combination(const AttentionConfig& config) const;

  /// Every unmet constraint of config, one reason each (e.g. "head_size not
  /// supported: 72 (supported: 64, 96, 128, 256)"); empty when valid.
  /// Default: runs the named checks of attnreg/checks.hpp in vLLM's order,
  /// then supports_combination.
  virtual std::vector<std::string> validate_configuration(const AttentionConfig& config) const;

  // ---- KV-cache layout ----

  /// Default: {2, num_blocks, block_size, num_kv_heads, head_size}.
  virtual std::vector<std::int64_t> get_kv_cache_shape(std::int64_t num_blocks, std::int64_t block_size,
                                                       std::int64_t num_kv_heads, std::int64_t head_size,
                                                       std::string_view cache_dtype = "auto") const;
  /// Physical order of the shape's dimensions. Default: identity.
  virtual std::vector<int> get_kv_cache_stride_order() const;

  // ---- implementation ----

  /// Makes the layer implementation. A params combination the backend cannot
  /// serve throws ValueError with the reasons of validate_configuration.
  /// Default: throws NotImplementedError.
  virtual std::unique_ptr<AttentionImpl> make_impl(const AttentionLayerParams& params) const;

  // ---- device memory (our extension; api.md is silent) ----

  /// The service that allocates and copies memory on the device this
  /// backend's forward() reads (attnreg/device_memory.hpp), so a host program
  /// without the backend's runtime can run it; owned by the backend, valid
  /// for as long as the backend object (until exit). nullptr when the backend
  /// offers none: a CPU backend (forward() reads host memory) or a device
  /// backend whose callers bring their own device tensors.
  /// Default: nullptr. Never throws; asking touches no device (the service's
  /// own methods report a missing one).
  virtual const DeviceMemory* device_memory() const noexcept;
};

}  // namespace attnreg
