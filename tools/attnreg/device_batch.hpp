// A device copy of a SyntheticBatch for `attnreg run` and `bench` on a
// backend whose forward() reads device memory: every tensor is allocated and
// copied through the backend's DeviceMemory service (attnreg/device_memory.hpp),
// so the CLI links no device runtime. The host batch stays the source of the
// inputs and the place the results are copied back to, so its reference
// checks (check_output, check_kv_cache) judge the device run unchanged.
//
// Thread safety: one thread at a time.
#pragma once

#include <array>
#include <attnreg/backend.hpp>
#include <attnreg/device_memory.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <memory>

namespace attnreg::cli {

/// Bytes a DLTensor's elements span from data + byte_offset (strides
/// honoured; 0 for an empty tensor).
std::size_t tensor_extent_bytes(const DLTensor& t);

/// The device copy of one host batch (see the file comment).
class DeviceBatch {
 public:
  /// Allocates every tensor of `host` on memory.device() and copies it there.
  /// `host` and `memory` must outlive this object. Throws the service's Error.
  DeviceBatch(SyntheticBatch& host, const DeviceMemory& memory);
  DeviceBatch(const DeviceBatch&) = delete;
  DeviceBatch& operator=(const DeviceBatch&) = delete;

  /// Copies the host batch's cache and output to the device again (after
  /// SyntheticBatch::reset_cache / poison_output).
  void upload_cache_and_output();
  /// Waits for the device, then copies its cache and output into the host
  /// batch's buffers.
  void download_cache_and_output();
  /// Enqueues impl.forward on the device tensors (default stream); returns
  /// without waiting.
  void forward(AttentionImpl& impl) const;
  /// Waits for every enqueued forward (DeviceMemory::synchronize).
  void synchronize() const { memory_.synchronize(); }

 private:
  enum Slot {
    kQuery,
    kKey,
    kValue,
    kCache,
    kOutput,
    kQueryStartLoc,
    kSeqLens,
    kBlockTable,
    kSlotMapping,
    kNum
  };
  static const DLTensor& host_tensor(const SyntheticBatch& batch, Slot slot);
  void copy_slot_to_device(Slot slot);
  void copy_slot_to_host(Slot slot);

  SyntheticBatch& host_;
  const DeviceMemory& memory_;
  std::array<std::unique_ptr<DeviceBuffer>, kNum> buffers_;
  std::array<DLTensor, kNum> tensors_{};
  AttentionMetadata metadata_;
};

}  // namespace attnreg::cli
