// A DLTensor that owns its shape and strides, so a test can copy a valid
// tensor and change one property of it.
#pragma once

#include <dlpack/dlpack.h>

#include <cstdint>
#include <vector>

namespace attnreg::testing {

class MutableTensor {
 public:
  explicit MutableTensor(const DLTensor& source)
      : tensor_(source), shape_(source.shape, source.shape + source.ndim) {
    tensor_.shape = shape_.data();
    if (source.strides != nullptr) set_strides({source.strides, source.strides + source.ndim});
  }
  MutableTensor(const MutableTensor&) = delete;
  MutableTensor& operator=(const MutableTensor&) = delete;

  void set_shape(std::vector<std::int64_t> shape) {
    shape_ = std::move(shape);
    tensor_.shape = shape_.data();
    tensor_.ndim = static_cast<std::int32_t>(shape_.size());
  }
  void set_strides(std::vector<std::int64_t> strides) {
    strides_ = std::move(strides);
    tensor_.strides = strides_.data();
  }
  DLTensor& operator*() noexcept { return tensor_; }
  DLTensor* operator->() noexcept { return &tensor_; }
  const DLTensor& get() const noexcept { return tensor_; }

 private:
  DLTensor tensor_;
  std::vector<std::int64_t> shape_, strides_;
};

}  // namespace attnreg::testing
