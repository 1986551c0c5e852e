#include "device_batch.hpp"

namespace attnreg::cli {

std::size_t tensor_extent_bytes(const DLTensor& t) {
  std::int64_t last = 0;  // element offset of the last element
  std::int64_t row_major = 1;
  for (int i = t.ndim - 1; i >= 0; --i) {
    if (t.shape[i] == 0) return 0;
    const std::int64_t stride = t.strides != nullptr ? t.strides[i] : row_major;
    last += (t.shape[i] - 1) * stride;
    row_major *= t.shape[i];
  }
  const std::size_t element_bytes = (static_cast<std::size_t>(t.dtype.bits) * t.dtype.lanes + 7) / 8;
  return static_cast<std::size_t>(last + 1) * element_bytes;
}

const DLTensor& DeviceBatch::host_tensor(const SyntheticBatch& b, Slot slot) {
  switch (slot) {
    case kQuery:
      return b.query();
    case kKey:
      return b.key();
    case kValue:
      return b.value();
    case kCache:
      return b.kv_cache();
    case kOutput:
      return b.output();
    case kQueryStartLoc:
      return b.query_start_loc();
    case kSeqLens:
      return b.seq_lens();
    case kBlockTable:
      return b.block_table();
    case kSlotMapping:
      return b.slot_mapping();
    case kNum:
      break;
  }
  return b.query();
}

DeviceBatch::DeviceBatch(SyntheticBatch& host, const DeviceMemory& memory) : host_(host), memory_(memory) {
  const DLDevice device = memory_.device();
  for (int s = 0; s < kNum; ++s) {
    const auto slot = static_cast<Slot>(s);
    const DLTensor& h = host_tensor(host_, slot);
    buffers_[s] = memory_.allocate(tensor_extent_bytes(h));
    DLTensor& d = tensors_[s];
    d = h;  // shape, strides, dtype: the host batch's arrays, which outlive this object
    d.data = buffers_[s]->data();
    d.byte_offset = 0;
    d.device = device;
    copy_slot_to_device(slot);
  }
  metadata_ = host_.metadata();
  metadata_.query_start_loc = &tensors_[kQueryStartLoc];
  metadata_.seq_lens = &tensors_[kSeqLens];
  metadata_.block_table = &tensors_[kBlockTable];
  metadata_.slot_mapping = &tensors_[kSlotMapping];
  metadata_.stream = nullptr;  // the default stream, which the service's copies are ordered with
}

void DeviceBatch::copy_slot_to_device(Slot slot) {
  const DLTensor& h = host_tensor(host_, slot);
  memory_.copy_to_device(buffers_[slot]->data(), static_cast<const char*>(h.data) + h.byte_offset,
                         buffers_[slot]->size());
}

void DeviceBatch::copy_slot_to_host(Slot slot) {
  const DLTensor& h = host_tensor(host_, slot);
  memory_.copy_to_host(static_cast<char*>(h.data) + h.byte_offset, buffers_[slot]->data(),
                       buffers_[slot]->size());
}

void DeviceBatch::upload_cache_and_output() {
  copy_slot_to_device(kCache);
  copy_slot_to_device(kOutput);
}

void DeviceBatch::download_cache_and_output() {
  memory_.synchronize();
  copy_slot_to_host(kCache);
  copy_slot_to_host(kOutput);
}

void DeviceBatch::forward(AttentionImpl& impl) const {
  impl.forward(tensors_[kQuery], tensors_[kKey], tensors_[kValue], tensors_[kCache], metadata_,
               tensors_[kOutput]);
}

}  // namespace attnreg::cli
