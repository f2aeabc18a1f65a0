#include "quench/tensor.h"

#include <cstdlib>
#include <cstring>

#include "core/check.h"
#include "core/half.h"
#include "core/resource_check.h"

namespace quench {

int64_t shape_numel(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    QUENCH_CHECK(d >= 0, ErrorKind::kInvalidArgument, "shape {} has a negative dimension",
                 shape_str(shape));
    if (d != 0 && n > INT64_MAX / d) {
      fail(ErrorKind::kResource, "shape {} has more elements than can be counted",
           shape_str(shape));
    }
    n *= d;
  }
  return n;
}

std::string shape_str(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::shared_ptr<void> aligned_alloc_shared(size_t bytes) {
  constexpr size_t kAlign = 64;
  check_buffer_bytes(bytes, "a buffer");
  const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, rounded == 0 ? kAlign : rounded);
  if (p == nullptr) fail(ErrorKind::kResource, "out of memory allocating {} bytes", bytes);
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

Tensor Tensor::empty(DType dtype, Shape shape) {
  const DTypeInfo& info = dtype_info(dtype);
  QUENCH_CHECK(info.supported, ErrorKind::kUnsupported, "tensors of type {} are not supported",
               info.name);
  Tensor t;
  t.numel_ = shape_numel(shape);
  // numel < 2^63 and bits <= 64 would overflow 64 bits: check in elements first.
  if (t.numel_ > static_cast<int64_t>(kMaxTensorBytes)) {
    fail(ErrorKind::kResource, "tensor of type {} and shape {} has more than {} elements",
         info.name, shape_str(shape), kMaxTensorBytes);
  }
  const uint64_t bytes = storage_bytes(dtype, t.numel_);
  check_tensor_fits(dtype, shape, "a tensor");
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = aligned_alloc_shared(bytes);
  return t;
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t = empty(dtype, std::move(shape));
  std::memset(t.raw_data(), 0, t.nbytes());
  return t;
}

Tensor Tensor::wrap(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner) {
  Tensor t;
  t.numel_ = shape_numel(shape);
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = std::shared_ptr<void>(std::move(owner), data);
  return t;
}

void Tensor::check_type(DType want) const {
  QUENCH_CHECK(dtype_ == want, ErrorKind::kInternal, "tensor holds {} but was read as {}",
               dtype_name(dtype_), dtype_name(want));
}

Tensor Tensor::reshaped(Shape shape) const {
  const int64_t n = shape_numel(shape);
  QUENCH_CHECK(n == numel_, ErrorKind::kInvalidArgument, "cannot reshape {} to {}",
               shape_str(shape_), shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  if (!defined()) return {};
  Tensor t = empty(dtype_, shape_);
  if (nbytes() != 0) std::memcpy(t.raw_data(), raw_data(), nbytes());
  return t;
}

bool Tensor::equals(const Tensor& other) const {
  return dtype_ == other.dtype_ && shape_ == other.shape_ &&
         (nbytes() == 0 || std::memcmp(raw_data(), other.raw_data(), nbytes()) == 0);
}

namespace {

template <class Out, class Fn>
std::vector<Out> convert_all(const Tensor& t, Fn&& cast) {
  std::vector<Out> out(static_cast<size_t>(t.numel()));
  const void* p = t.raw_data();
  for (size_t i = 0; i < out.size(); ++i) {
    switch (t.dtype()) {
      case DType::kFloat32:
        out[i] = cast(static_cast<const float*>(p)[i]);
        break;
      case DType::kFloat64:
        out[i] = cast(static_cast<const double*>(p)[i]);
        break;
      case DType::kFloat16:
        out[i] = cast(half_to_float(static_cast<const uint16_t*>(p)[i]));
        break;
      case DType::kBFloat16:
        out[i] = cast(bfloat16_to_float(static_cast<const uint16_t*>(p)[i]));
        break;
      case DType::kInt8:
        out[i] = cast(static_cast<const int8_t*>(p)[i]);
        break;
      case DType::kUInt8:
        out[i] = cast(static_cast<const uint8_t*>(p)[i]);
        break;
      case DType::kInt16:
        out[i] = cast(static_cast<const int16_t*>(p)[i]);
        break;
      case DType::kUInt16:
        out[i] = cast(static_cast<const uint16_t*>(p)[i]);
        break;
      case DType::kInt32:
        out[i] = cast(static_cast<const int32_t*>(p)[i]);
        break;
      case DType::kUInt32:
        out[i] = cast(static_cast<const uint32_t*>(p)[i]);
        break;
      case DType::kInt64:
        out[i] = cast(static_cast<const int64_t*>(p)[i]);
        break;
      case DType::kUInt64:
        out[i] = cast(static_cast<const uint64_t*>(p)[i]);
        break;
      case DType::kBool:
        out[i] = cast(static_cast<const uint8_t*>(p)[i] != 0);
        break;
      default:
        fail(ErrorKind::kUnsupported, "cannot read elements of type {}", dtype_name(t.dtype()));
    }
  }
  return out;
}

}  // namespace

std::vector<int64_t> Tensor::to_int64_vector() const {
  return convert_all<int64_t>(*this, [](auto v) { return static_cast<int64_t>(v); });
}

std::vector<double> Tensor::to_double_vector() const {
  return convert_all<double>(*this, [](auto v) { return static_cast<double>(v); });
}

namespace detail {
void check_value_count(const Tensor& tensor, size_t values) {
  QUENCH_CHECK(static_cast<size_t>(tensor.numel()) == values, ErrorKind::kInvalidArgument,
               "Tensor::from_vector: shape {} holds {} elements, got {} values",
               shape_str(tensor.shape()), tensor.numel(), values);
}
}  // namespace detail

}  // namespace quench
