#include <gtest/gtest.h>

#include <array>
#include <attnreg/errors.hpp>
#include <attnreg/tensor.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace attnreg::tensor {
namespace {

// A [2, 3, 4] float32 tensor over a local buffer.
struct Fixture {
  std::vector<float> data = std::vector<float>(24);
  std::array<std::int64_t, 3> shape{2, 3, 4};
  DLTensor t{data.data(), {kDLCPU, 0}, 3, {kDLFloat, 32, 1}, shape.data(), nullptr, 0};
};

template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const ValueError& e) {
    return e.what();
  }
  return "no ValueError";
}

TEST(Tensor, BasicProperties) {
  Fixture f;
  EXPECT_EQ(scalar_type(f.t), ScalarType::Float32);
  EXPECT_EQ(numel(f.t), 24);
  EXPECT_TRUE(is_host_accessible(f.t));
  EXPECT_FALSE(is_cuda(f.t));
  EXPECT_EQ(stride(f.t, 0), 12);
  EXPECT_EQ(stride(f.t, 1), 4);
  EXPECT_EQ(stride(f.t, 2), 1);
  EXPECT_EQ(shape_string(f.t), "[2, 3, 4]");
  EXPECT_EQ(device_string(f.t), "cpu");
  EXPECT_EQ(dtype_string(f.t), "float32");
  f.t.dtype = {kDLFloat, 8, 1};
  EXPECT_EQ(scalar_type(f.t), std::nullopt);
  EXPECT_EQ(dtype_string(f.t), "DLDataType(code=2, bits=8, lanes=1)");
}

TEST(Tensor, DeviceKinds) {
  Fixture f;
  f.t.device = {kDLCUDAHost, 1};
  EXPECT_TRUE(is_host_accessible(f.t));
  EXPECT_EQ(device_string(f.t), "cuda_host:1");
  f.t.device = {kDLCUDA, 2};
  EXPECT_TRUE(is_cuda(f.t));
  EXPECT_FALSE(is_host_accessible(f.t));
  EXPECT_EQ(device_string(f.t), "cuda:2");
  f.t.device = {kDLCUDAManaged, 0};
  EXPECT_TRUE(is_cuda(f.t));
  EXPECT_EQ(device_string(f.t), "cuda_managed:0");
  f.t.device = {kDLVulkan, 0};
  EXPECT_EQ(device_string(f.t), "device type 7:0");
}

TEST(Tensor, LayoutsThatKeepElementsApartAreAccepted) {
  Fixture f;
  EXPECT_NO_THROW(expect_no_internal_overlap(f.t, "t"));  // contiguous (null strides)
  for (const std::array<std::int64_t, 3>& strides :
       {std::array<std::int64_t, 3>{12, 4, 1}, std::array<std::int64_t, 3>{1, 2, 6},  // column-major
        std::array<std::int64_t, 3>{16, 5, 1},                                        // padded rows
        std::array<std::int64_t, 3>{12, 1, 3},                                        // permuted
        std::array<std::int64_t, 3>{-12, 4, 1}}) {                                    // flipped
    f.t.strides = const_cast<std::int64_t*>(strides.data());
    EXPECT_NO_THROW(expect_no_internal_overlap(f.t, "t")) << strides[0] << ", " << strides[1];
  }
  // A dimension of size 1 never steps, whatever its stride.
  const std::array<std::int64_t, 3> strides{0, 4, 1};
  f.t.strides = const_cast<std::int64_t*>(strides.data());
  f.shape[0] = 1;
  EXPECT_NO_THROW(expect_no_internal_overlap(f.t, "t"));
}

TEST(Tensor, LayoutsThatShareMemoryAreRejected) {
  Fixture f;
  auto error_with = [&](std::array<std::int64_t, 3> strides) {
    f.t.strides = strides.data();
    return message_of([&] { expect_no_internal_overlap(f.t, "output"); });
  };
  EXPECT_EQ(
      error_with({12, 2, 1}),
      "output: strides [12, 2, 1] let elements share memory (dimension 1 steps 2 elements, within the 4 "
      "that the dimensions of smaller stride span); expected strides that keep elements apart, e.g. the "
      "contiguous [12, 4, 1]");
  // Equal strides: the outer dimension is the one reported.
  EXPECT_EQ(
      error_with({4, 4, 1}),
      "output: strides [4, 4, 1] let elements share memory (dimension 0 steps 4 elements, within the 12 "
      "that the dimensions of smaller stride span); expected strides that keep elements apart, e.g. the "
      "contiguous [12, 4, 1]");
  EXPECT_EQ(error_with({0, 4, 1}),
            "output: strides [0, 4, 1] let elements share memory (dimension 0 has size 2 and stride 0); "
            "expected strides that keep elements apart, e.g. the contiguous [12, 4, 1]");
  EXPECT_EQ(
      error_with({12, -2, 1}),
      "output: strides [12, -2, 1] let elements share memory (dimension 1 steps 2 elements, within the 4 "
      "that the dimensions of smaller stride span); expected strides that keep elements apart, e.g. the "
      "contiguous [12, 4, 1]");
}

TEST(Tensor, ByteExtentOfAFlippedView) {
  Fixture f;
  const std::array<std::int64_t, 3> strides{-12, 4, 1};  // dimension 0 reversed: element [0, 0, 0] is 12
  f.t.strides = const_cast<std::int64_t*>(strides.data());
  f.t.byte_offset = 12 * 4;
  const auto e = byte_extent(f.t);
  EXPECT_EQ(e.begin, reinterpret_cast<std::uintptr_t>(f.data.data()));
  EXPECT_EQ(e.end, reinterpret_cast<std::uintptr_t>(f.data.data() + 24));
}

TEST(Tensor, ElementAddressUsesStridesAndByteOffset) {
  Fixture f;
  const std::array<std::int64_t, 3> index{1, 2, 3};
  EXPECT_EQ(element_address(f.t, index), reinterpret_cast<std::byte*>(f.data.data() + 23));
  const std::array<std::int64_t, 3> strides{1, 2, 6};  // column-major
  f.t.strides = const_cast<std::int64_t*>(strides.data());
  f.t.byte_offset = 4;
  EXPECT_EQ(stride(f.t, 2), 6);
  EXPECT_EQ(element_address(f.t, index), reinterpret_cast<std::byte*>(f.data.data() + 1 + 1 + 4 + 18));
  const auto view = TensorView::of(f.t, ScalarType::Float32);
  EXPECT_EQ(view.at(1, 2, 3), element_address(f.t, index));
  EXPECT_EQ(view.ptr<float>(0, 0, 0), f.data.data() + 1);
  EXPECT_EQ(view.ndim, 3);
  EXPECT_EQ(view.element_bytes, 4);
  EXPECT_EQ(TensorView::of(f.t, ScalarType::BFloat16).at(0, 0, 1),
            reinterpret_cast<std::byte*>(f.data.data()) + 4 + 6 * 2);
  EXPECT_EQ(view.shape[1], 3);
}

TEST(Tensor, ByteExtentAndOverlap) {
  Fixture f;
  const auto whole = byte_extent(f.t);
  EXPECT_EQ(whole.end - whole.begin, 24u * 4u);
  Fixture g;
  EXPECT_FALSE(whole.overlaps(byte_extent(g.t)));
  DLTensor tail = f.t;
  tail.byte_offset = 23 * 4;  // the last element only
  std::array<std::int64_t, 3> one{1, 1, 1};
  tail.shape = one.data();
  EXPECT_TRUE(whole.overlaps(byte_extent(tail)));
  tail.byte_offset = 24 * 4;  // just past the end
  EXPECT_FALSE(whole.overlaps(byte_extent(tail)));
  std::array<std::int64_t, 3> empty{0, 3, 4};
  tail.shape = empty.data();
  EXPECT_FALSE(whole.overlaps(byte_extent(tail)));
}

TEST(Tensor, ExpectDtype) {
  Fixture f;
  EXPECT_EQ(expect_dtype(f.t, "query", {ScalarType::BFloat16, ScalarType::Float32}), ScalarType::Float32);
  f.t.dtype = {kDLInt, 32, 1};
  EXPECT_EQ(message_of([&] {
              expect_dtype(f.t, "query", {ScalarType::BFloat16, ScalarType::Float16, ScalarType::Float32});
            }),
            "query: expected dtype bfloat16, float16 or float32, got int32");
  EXPECT_EQ(message_of([&] { expect_dtype(f.t, "key", {ScalarType::Float16}); }),
            "key: expected dtype float16, got int32");
  EXPECT_EQ(message_of([&] {
              expect_dtype(f.t, "key", {ScalarType::Float16, ScalarType::Float32});
            }),
            "key: expected dtype float16 or float32, got int32");
}

TEST(Tensor, ExpectNdimAndShape) {
  Fixture f;
  expect_ndim(f.t, "query", 3, "a, b, c");
  EXPECT_EQ(message_of([&] { expect_ndim(f.t, "query", 2, "a, b"); }),
            "query: expected 2 dimensions (a, b), got 3 (shape [2, 3, 4])");
  EXPECT_EQ(message_of([&] { expect_ndim(f.t, "lens", 1, "num_reqs"); }),
            "lens: expected 1 dimension (num_reqs), got 3 (shape [2, 3, 4])");
  const std::array<std::int64_t, 3> ok{2, 3, 4}, bad{2, 8, 4};
  expect_shape(f.t, "key", ok, "x");
  EXPECT_EQ(message_of([&] { expect_shape(f.t, "key", bad, "num_tokens, num_kv_heads, head_size"); }),
            "key: expected shape [2, 8, 4] (num_tokens, num_kv_heads, head_size), got [2, 3, 4]");
  const std::array<std::int64_t, 2> shorter{2, 3};
  EXPECT_EQ(message_of([&] { expect_shape(f.t, "key", shorter, "a, b"); }),
            "key: expected shape [2, 3] (a, b), got [2, 3, 4]");
}

TEST(Tensor, ExpectDevice) {
  Fixture f;
  expect_device(f.t, "query", DeviceType::CPU);
  EXPECT_EQ(message_of([&] { expect_device(f.t, "query", DeviceType::CUDA); }),
            "query: expected a cuda tensor (kDLCUDA or kDLCUDAManaged), got cpu");
  f.t.device = {kDLCUDA, 0};
  expect_device(f.t, "query", DeviceType::CUDA);
  EXPECT_EQ(message_of([&] { expect_device(f.t, "query", DeviceType::CPU); }),
            "query: expected a cpu tensor (kDLCPU or kDLCUDAHost), got cuda:0");
}

TEST(Tensor, ExpectUsableStrides) {
  Fixture f;
  expect_usable_strides(f.t, "t", "a, b, c");
  std::array<std::int64_t, 3> strides{12, 0, 1};
  f.t.strides = strides.data();
  EXPECT_EQ(message_of([&] { expect_usable_strides(f.t, "kv_cache", "a, b, c"); }),
            "kv_cache: stride 1 is 0; expected a positive stride (dimension 1 has size 3)");
  strides = {-12, 4, 1};
  EXPECT_EQ(message_of([&] { expect_usable_strides(f.t, "kv_cache", "a, b, c"); }),
            "kv_cache: stride 0 is -12; expected a positive stride (dimension 0 has size 2)");
  strides = {24, 8, 2};
  EXPECT_EQ(message_of([&] { expect_usable_strides(f.t, "query", "a, b, c"); }),
            "query: stride 2 is 2; expected 1 (the last dimension of (a, b, c) must be contiguous)");
  // A dimension of size 1 may have any stride: it is never stepped over.
  std::array<std::int64_t, 3> shape{2, 1, 4};
  f.t.shape = shape.data();
  strides = {4, 0, 1};
  expect_usable_strides(f.t, "t", "a, b, c");
  shape = {2, -1, 4};
  EXPECT_EQ(message_of([&] { expect_usable_strides(f.t, "t", "a, b, c"); }),
            "t: size of dimension 1 is -1; expected a non-negative size (shape [2, -1, 4])");
  shape = {2, 3, 4};
  f.t.strides = nullptr;
  f.t.data = nullptr;
  EXPECT_EQ(message_of([&] { expect_usable_strides(f.t, "t", "a, b, c"); }),
            "t: data is null but the shape [2, 3, 4] has 24 elements; expected a buffer");
  f.t.shape = nullptr;
  EXPECT_EQ(message_of([&] { expect_usable_strides(f.t, "t", "a, b, c"); }),
            "t: has ndim 3 but no shape; expected a shape of (a, b, c)");
}

TEST(Tensor, ViewRejectsTooManyDimensions) {
  std::array<std::int64_t, 7> shape{1, 1, 1, 1, 1, 1, 1};
  float x = 0;
  DLTensor t{&x, {kDLCPU, 0}, 7, {kDLFloat, 32, 1}, shape.data(), nullptr, 0};
  EXPECT_EQ(message_of([&] { TensorView::of(t, ScalarType::Float32); }),
            "tensor of shape [1, 1, 1, 1, 1, 1, 1]: expected at most 6 dimensions for a TensorView, got 7");
}

}  // namespace
}  // namespace attnreg::tensor
