// DeviceBatch (tools/attnreg/device_batch.hpp), the device copy behind
// `attnreg run` / `bench` on a CUDA backend, exercised without a GPU: a
// DeviceMemory on host memory stands in for the device, and an AttentionImpl
// built on the float64 reference checks that it is handed the copies (never
// the host batch's buffers) and that its results come back for the host
// batch's checks.
#include <gtest/gtest.h>

#include <attnreg/device_memory.hpp>
#include <attnreg/reference.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "device_batch.hpp"

namespace {

using namespace attnreg;
using attnreg::cli::DeviceBatch;
using attnreg::cli::tensor_extent_bytes;

class HostBuffer final : public DeviceBuffer {
 public:
  explicit HostBuffer(std::size_t bytes)
      : size_(bytes), data_(std::aligned_alloc(256, ((bytes == 0 ? 1 : bytes) + 255) / 256 * 256)) {
    std::memset(data_, 0xff, ((bytes == 0 ? 1 : bytes) + 255) / 256 * 256);  // NaN-ish garbage
  }
  ~HostBuffer() override { std::free(data_); }
  void* data() const noexcept override { return data_; }
  std::size_t size() const noexcept override { return size_; }

 private:
  std::size_t size_;
  void* data_;
};

class HostMemory final : public DeviceMemory {
 public:
  DLDevice device() const override { return {kDLCPU, 0}; }
  std::string device_name() const override { return "host stand-in"; }
  std::unique_ptr<DeviceBuffer> allocate(std::size_t bytes) const override {
    ++allocations;
    return std::make_unique<HostBuffer>(bytes);
  }
  void copy_to_device(void* dst, const void* src, std::size_t n) const override { std::memcpy(dst, src, n); }
  void copy_to_host(void* dst, const void* src, std::size_t n) const override { std::memcpy(dst, src, n); }
  void synchronize() const override { ++syncs; }
  mutable int allocations = 0, syncs = 0;
};

// fp32 forward through the reference; refuses the host batch's own buffers.
class ReferenceImpl final : public AttentionImpl {
 public:
  ReferenceImpl(const SyntheticBatch& host) : host_(host) {}
  void forward(const DLTensor& q, const DLTensor& k, const DLTensor& v, const DLTensor& cache,
               const AttentionMetadata& md, const DLTensor& out) override {
    EXPECT_NE(q.data, host_.query().data);
    EXPECT_NE(cache.data, host_.kv_cache().data);
    EXPECT_NE(out.data, host_.output().data);
    EXPECT_NE(md.block_table->data, host_.block_table().data);
    std::vector<double> ref(static_cast<std::size_t>(q.shape[0] * q.shape[1] * q.shape[2]));
    reference::forward(host_.params(), q, k, v, cache, md, out, ref);
    auto* o = static_cast<float*>(out.data);
    for (std::size_t i = 0; i < ref.size(); ++i) o[i] = static_cast<float>(ref[i]);
  }

 private:
  const SyntheticBatch& host_;
};

BatchSpec spec() {
  BatchSpec s;
  s.context_lens = {37, 0, 20};
  s.query_lens = {5, 9, 1};
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.head_size = 32;
  s.dtype = ScalarType::Float32;
  s.shuffle_blocks = true;
  s.seed = 7;
  return s;
}

TEST(DeviceBatch, ForwardOnTheCopiesAndResultsComeBack) {
  SyntheticBatch batch(spec());
  HostMemory memory;
  DeviceBatch device(batch, memory);
  EXPECT_EQ(memory.allocations, 9);
  ReferenceImpl impl(batch);
  batch.reset_cache();
  batch.poison_output();
  device.upload_cache_and_output();
  device.forward(impl);
  EXPECT_TRUE(batch.check_output().num_nonfinite > 0)
      << "the host output must stay poisoned until copied back";
  device.download_cache_and_output();
  EXPECT_GE(memory.syncs, 1);
  const auto c = batch.check_output();
  EXPECT_TRUE(c.passed) << c.first_failure;
  EXPECT_EQ(batch.check_kv_cache(), std::nullopt);
}

TEST(DeviceBatch, UploadRestoresThePoisonedOutputAndInitialCache) {
  SyntheticBatch batch(spec());
  HostMemory memory;
  DeviceBatch device(batch, memory);
  ReferenceImpl impl(batch);
  device.forward(impl);
  device.download_cache_and_output();
  ASSERT_TRUE(batch.check_output().passed);
  batch.reset_cache();
  batch.poison_output();
  device.upload_cache_and_output();
  device.download_cache_and_output();  // no forward in between: poison and the initial cache come back
  EXPECT_FALSE(batch.check_output().passed);
  EXPECT_NE(batch.check_kv_cache(), std::nullopt);
}

TEST(DeviceBatch, ExtentOfStridedAndEmptyTensors) {
  std::int64_t shape[3] = {2, 3, 4};
  DLTensor t{};
  t.ndim = 3;
  t.shape = shape;
  t.dtype = {kDLFloat, 16, 1};
  EXPECT_EQ(tensor_extent_bytes(t), 2u * 3 * 4 * 2);
  std::int64_t strides[3] = {40, 12, 1};  // padded rows and planes
  t.strides = strides;
  EXPECT_EQ(tensor_extent_bytes(t), (1u * 40 + 2 * 12 + 3 + 1) * 2);
  shape[1] = 0;
  EXPECT_EQ(tensor_extent_bytes(t), 0u);
  BatchSpec s = spec();
  s.strided_cache = true;
  SyntheticBatch strided(s);
  EXPECT_LE(tensor_extent_bytes(strided.kv_cache()), strided.cache_bytes().size());
}

}  // namespace
