// Tensor: a dtype, a concrete shape and a reference-counted, 64-byte aligned buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "quench/dtype.h"
#include "quench/error.h"

namespace quench {

using Shape = std::vector<int64_t>;

// Largest tensor quench allocates (bytes); larger requests fail with ErrorKind::kResource
// before any allocation. Huge dims in a malicious model stop here.
inline constexpr uint64_t kMaxTensorBytes = uint64_t{1} << 36;

// Number of elements; throws kResource on negative dims or overflow.
int64_t shape_numel(std::span<const int64_t> shape);
std::string shape_str(std::span<const int64_t> shape);  // "[2,3,4]"

class Tensor {
 public:
  Tensor() = default;

  // Uninitialized storage for `shape`.
  static Tensor empty(DType dtype, Shape shape);
  static Tensor zeros(DType dtype, Shape shape);
  // A view of memory owned elsewhere; `owner` keeps it alive (may be empty for borrowed memory
  // whose lifetime the caller guarantees).
  static Tensor wrap(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner = {});

  template <class T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values);
  template <class T>
  static Tensor scalar(T value) {
    return from_vector<T>({}, std::vector<T>{value});
  }

  bool defined() const { return dtype_ != DType::kUndefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const { return shape_[axis < 0 ? axis + rank() : axis]; }
  int64_t numel() const { return numel_; }
  // Bytes of storage (sub-byte types packed, rounded up to whole bytes).
  size_t nbytes() const { return static_cast<size_t>(storage_bytes(dtype_, numel_)); }

  void* raw_data() { return data_.get(); }
  const void* raw_data() const { return data_.get(); }
  template <class T>
  T* data() {
    check_type(dtype_of<T>);
    return static_cast<T*>(data_.get());
  }
  template <class T>
  const T* data() const {
    check_type(dtype_of<T>);
    return static_cast<const T*>(data_.get());
  }
  template <class T>
  std::span<T> values() {
    return {data<T>(), static_cast<size_t>(numel_)};
  }
  template <class T>
  std::span<const T> values() const {
    return {data<T>(), static_cast<size_t>(numel_)};
  }
  // Elements converted to int64 / double (for shape-like and small constant tensors).
  std::vector<int64_t> to_int64_vector() const;
  std::vector<double> to_double_vector() const;

  // Same storage, other shape (same element count).
  Tensor reshaped(Shape shape) const;
  // A deep copy.
  Tensor clone() const;
  // Whether both have the same dtype, shape and bytes.
  bool equals(const Tensor& other) const;
  // The buffer's owner, for views that must keep it alive.
  const std::shared_ptr<void>& storage() const { return data_; }

 private:
  void check_type(DType want) const;

  DType dtype_ = DType::kUndefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<void> data_;
};

// 64-byte aligned allocation owned by a shared_ptr.
std::shared_ptr<void> aligned_alloc_shared(size_t bytes);

namespace detail {
// kInvalidArgument unless `values` values fill `tensor`.
void check_value_count(const Tensor& tensor, size_t values);
}  // namespace detail

template <class T>
Tensor Tensor::from_vector(Shape shape, const std::vector<T>& values) {
  Tensor t = empty(dtype_of<T>, std::move(shape));
  detail::check_value_count(t, values.size());
  T* out = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) out[i] = values[i];
  return t;
}

}  // namespace quench
