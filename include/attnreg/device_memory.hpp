// attnreg/device_memory.hpp: the optional device-memory service a backend may
// offer (AttentionBackend::device_memory()), so that a host program built
// without the backend's runtime (the `attnreg` CLI, tests, benchmarks) can put
// tensors where the backend's forward() reads them.
//
// api.md is silent on device memory; this is our extension of the contract.
// The core never implements it (it stays free of CUDA): a CUDA backend's
// plugin implements it with its own runtime. A backend whose forward() reads
// host memory needs none and returns nullptr (the default).
//
// Errors: every method that can fail throws attnreg::Error (never returns an
// error code) whose message names the operation and the runtime's error,
// e.g. "FLASH_ATTN device memory: cudaMalloc of 1048576 bytes failed with
// cudaErrorMemoryAllocation (out of memory)". A failure leaves no buffer
// allocated and no partial copy promised.
//
// Thread safety: a DeviceMemory is immutable; its methods may be called from
// any thread (the runtime serialises what it must). A DeviceBuffer is owned
// by one thread at a time.
#pragma once

#include <dlpack/dlpack.h>

#include <cstddef>
#include <memory>
#include <string>

namespace attnreg {

/// One allocation of device memory, freed by the destructor (RAII). Not
/// copyable; destroy it only after the work that uses it has completed
/// (DeviceMemory::synchronize).
class DeviceBuffer {
 public:
  virtual ~DeviceBuffer() = default;
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  /// The device address of the first byte, aligned to at least 256 bytes;
  /// valid until destruction. Never null (a 0-byte request gets a real
  /// allocation of at least 1 byte).
  virtual void* data() const noexcept = 0;
  /// The bytes requested from DeviceMemory::allocate.
  virtual std::size_t size() const noexcept = 0;
};

/// Allocation, copies and synchronisation on the device a backend runs on.
class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;

  /// The DLPack device that buffers of this service live on, for the
  /// DLTensors handed to forward() (e.g. {kDLCUDA, 0}: the calling thread's
  /// current CUDA device). Throws Error when there is no device.
  virtual DLDevice device() const = 0;

  /// A human-readable name of that device, e.g. "NVIDIA H100 80GB HBM3
  /// (cuda:0)". Throws Error when there is no device.
  virtual std::string device_name() const = 0;

  /// Allocates `bytes` of device memory (contents unspecified). Throws Error
  /// when there is no device or it has too little free memory.
  virtual std::unique_ptr<DeviceBuffer> allocate(std::size_t bytes) const = 0;

  /// Copies `bytes` from host address `src` to device address `dst`; returns
  /// once the copy is complete (ordered after work already enqueued on the
  /// device's default stream). Throws Error on failure.
  virtual void copy_to_device(void* dst, const void* src, std::size_t bytes) const = 0;

  /// Copies `bytes` from device address `src` to host address `dst`; returns
  /// once the data is on the host (ordered after work already enqueued on the
  /// device's default stream). Throws Error on failure.
  virtual void copy_to_host(void* dst, const void* src, std::size_t bytes) const = 0;

  /// Waits until all work enqueued on the device (every stream) has
  /// completed. Throws Error when that work failed (e.g. a kernel fault),
  /// naming the runtime's error.
  virtual void synchronize() const = 0;
};

}  // namespace attnreg
