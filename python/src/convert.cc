#include "convert.h"

#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "quench/error.h"

namespace quench::py {

std::atomic<int64_t> g_input_copies{0};

namespace {

using Code = nb::dlpack::dtype_code;

nb::dlpack::dtype to_dlpack(DType t) {
  const DTypeInfo& info = dtype_info(t);
  uint8_t code = static_cast<uint8_t>(info.is_float    ? Code::Float
                                      : info.is_signed ? Code::Int
                                                       : Code::UInt);
  if (t == DType::kBool) code = static_cast<uint8_t>(Code::Bool);
  if (t == DType::kBFloat16) code = static_cast<uint8_t>(Code::Bfloat);
  return nb::dlpack::dtype{code, info.bits, 1};
}

std::string dlpack_name(nb::dlpack::dtype t) {
  const DType d = dtype_from_dlpack(t);
  if (d != DType::kUndefined) return numpy_name(d);
  return fmt::format("dtype (code {}, {} bits)", t.code, t.bits);
}

// Copies a strided array (strides in elements) into contiguous `out`, one row at a time.
void copy_strided(const uint8_t* src, const std::vector<int64_t>& shape,
                  const std::vector<int64_t>& strides, size_t elem, uint8_t* out, size_t dim,
                  size_t& offset) {
  if (dim == shape.size()) {
    std::memcpy(out + offset, src, elem);
    offset += elem;
    return;
  }
  for (int64_t i = 0; i < shape[dim]; ++i) {
    copy_strided(src + i * strides[dim] * static_cast<int64_t>(elem), shape, strides, elem, out,
                 dim + 1, offset);
  }
}

}  // namespace

std::string numpy_name(DType t) {
  if (t == DType::kFloat32) return "float32";
  if (t == DType::kFloat64) return "float64";
  return std::string(dtype_name(t));
}

DType dtype_from_dlpack(nb::dlpack::dtype t) {
  if (t.lanes != 1) return DType::kUndefined;
  switch (static_cast<Code>(t.code)) {
    case Code::Float:
      return t.bits == 32   ? DType::kFloat32
             : t.bits == 64 ? DType::kFloat64
             : t.bits == 16 ? DType::kFloat16
                            : DType::kUndefined;
    case Code::Int:
      return t.bits == 8    ? DType::kInt8
             : t.bits == 16 ? DType::kInt16
             : t.bits == 32 ? DType::kInt32
             : t.bits == 64 ? DType::kInt64
                            : DType::kUndefined;
    case Code::UInt:
      return t.bits == 8    ? DType::kUInt8
             : t.bits == 16 ? DType::kUInt16
             : t.bits == 32 ? DType::kUInt32
             : t.bits == 64 ? DType::kUInt64
                            : DType::kUndefined;
    case Code::Bfloat:
      return t.bits == 16 ? DType::kBFloat16 : DType::kUndefined;
    case Code::Bool:
      return t.bits == 8 ? DType::kBool : DType::kUndefined;
    default:
      return DType::kUndefined;
  }
}

nb::ndarray<nb::ro> as_ndarray(nb::handle object, const std::string& what) {
  nb::ndarray<nb::ro> array;
  if (nb::try_cast(object, array, /*convert=*/false)) return array;
  // Objects that are not arrays but convert to one (lists, torch tensors through __array__).
  if (nb::hasattr(object, "__array__")) {
    nb::object converted = object.attr("__array__")();
    if (nb::try_cast(converted, array, false)) return array;
  }
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("{}: expected a NumPy array (or an object with __array__), got {}", what,
                          nb::type_name(object.type()).c_str()));
}

Tensor tensor_from_array(const nb::ndarray<nb::ro>& array, DType expected,
                         const std::string& what) {
  const DType got = dtype_from_dlpack(array.dtype());
  if (got != expected) {
    throw Error(
        ErrorKind::kInvalidArgument,
        fmt::format("{}: expected dtype {}, got {} (quench does not convert silently; "
                    "pass array.astype(numpy.{}))",
                    what, numpy_name(expected), dlpack_name(array.dtype()), numpy_name(expected)));
  }
  if (array.device_type() != nb::device::cpu::value) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("{}: the array is not in CPU memory", what));
  }
  Shape shape(array.ndim());
  std::vector<int64_t> strides(array.ndim());
  bool contiguous = true;
  int64_t expect_stride = 1;
  for (size_t d = array.ndim(); d-- > 0;) {
    shape[d] = static_cast<int64_t>(array.shape(d));
    strides[d] = array.stride(d);
    if (shape[d] != 1 && strides[d] != expect_stride) contiguous = false;
    expect_stride *= shape[d];
  }
  if (contiguous) return Tensor::wrap(expected, shape, const_cast<void*>(array.data()));
  ++g_input_copies;
  Tensor copy = Tensor::empty(expected, shape);
  if (copy.numel() == 0) return copy;
  size_t offset = 0;
  copy_strided(static_cast<const uint8_t*>(array.data()), shape, strides, dtype_size(expected),
               static_cast<uint8_t*>(copy.raw_data()), 0, offset);
  return copy;
}

nb::object to_numpy(Tensor tensor) {
  const DType t = tensor.dtype();
  if (t == DType::kBFloat16) {  // NumPy has no bfloat16: widen exactly to float32
    Tensor wide = Tensor::empty(DType::kFloat32, tensor.shape());
    const auto* in = static_cast<const uint16_t*>(tensor.raw_data());
    auto* out = static_cast<uint32_t*>(wide.raw_data());
    for (int64_t i = 0; i < tensor.numel(); ++i) out[i] = static_cast<uint32_t>(in[i]) << 16;
    tensor = std::move(wide);
  } else if (dtype_size(t) == 0 || t == DType::kString) {
    throw Error(ErrorKind::kUnsupported,
                fmt::format("an output of type {} cannot be handed to NumPy", dtype_name(t)));
  }
  std::vector<size_t> shape(tensor.shape().begin(), tensor.shape().end());
  auto* owned = new Tensor(std::move(tensor));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
  nb::ndarray<nb::numpy> array(owned->raw_data(), shape.size(), shape.data(), owner, nullptr,
                               to_dlpack(owned->dtype()));
  return nb::cast(array, nb::rv_policy::reference);
}

}  // namespace quench::py
