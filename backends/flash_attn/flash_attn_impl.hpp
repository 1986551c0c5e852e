// FlashAttentionImpl: FLASH_ATTN's AttentionImpl on one CUDA device.
//
// forward() validates every tensor on the host (shapes, dtypes, strides,
// alignment, devices) and throws ValueError before anything is launched; then
// it enqueues reshape_and_cache and the attention kernels on metadata.stream
// and returns. It never allocates and never synchronises, so it can be
// captured in a CUDA graph. The split-KV scratch (kScratchBytes) is allocated
// once in the constructor; when a batch would need more, fewer splits are used.
//
// Values inside device-resident metadata (block-table entries, slots,
// seq_lens, query_start_loc) cannot be read on the host without a sync. The
// kernels guard every index (never touching memory outside the tensors) and
// raise a sticky flag in host-mapped memory instead; the affected output
// rows are unspecified. The next forward() or reshape_and_cache() that starts
// after the offending kernels have completed throws ValueError naming what
// was out of range, and clears the flag.
//
// Thread safety: one thread at a time (like a layer module).
#pragma once

#include <attnreg/backend.hpp>

#include "cuda_device.hpp"
#include "kernels/params.hpp"

namespace attnreg::flash_attn {

/// Bytes of split-KV scratch each implementation preallocates.
inline constexpr long long kScratchBytes = 64ll << 20;

/// The CUDA implementation of one attention layer.
class FlashAttentionImpl final : public AttentionImpl {
 public:
  /// params must already be validated by FlashAttentionBackend::make_impl.
  /// Allocates the scratch, the sticky error flag and the sinks on `device`.
  FlashAttentionImpl(const AttentionLayerParams& params, const CudaDevice& device);
  ~FlashAttentionImpl() override;
  FlashAttentionImpl(const FlashAttentionImpl&) = delete;
  FlashAttentionImpl& operator=(const FlashAttentionImpl&) = delete;

  void forward(const DLTensor& query, const DLTensor& key, const DLTensor& value, const DLTensor& kv_cache,
               const AttentionMetadata& metadata, const DLTensor& output) override;

  void reshape_and_cache(const DLTensor& key, const DLTensor& value, const DLTensor& kv_cache,
                         const DLTensor& slot_mapping, void* stream = nullptr) override;

 private:
  /// Throws ValueError (and clears the flag) when an earlier launch saw an
  /// out-of-range index.
  void raise_pending_device_error();
  /// Validates kv_cache and fills the cache fields of a launch.
  void describe_cache(const DLTensor& kv_cache, DLDataType model_dtype, int* block_size, int* num_blocks,
                      void** k_cache, void** v_cache, std::int64_t* stride_block) const;
  /// Validates key/value/slot_mapping against the cache and builds the write.
  CacheWriteParams describe_cache_write(const DLTensor& key, const DLTensor& value, const DLTensor& kv_cache,
                                        const DLTensor& slot_mapping, void* stream) const;

  AttentionLayerParams params_;
  CudaDevice device_;
  float* scratch_ = nullptr;
  float* sinks_ = nullptr;
  int* error_flag_host_ = nullptr;  // host-mapped, written by kernels
  int* error_flag_device_ = nullptr;
};

}  // namespace attnreg::flash_attn
