#include <cstring>

#include "core/check.h"
#include "core/packing.h"
#include "core/resource_check.h"
#include "onnx/external_data.h"
#include "onnx/proto.h"

namespace quench::onnx_io {
namespace {

const char* proto_type_name(int32_t type) {
  return onnx::TensorProto_DataType_IsValid(type)
             ? onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(type))
                   .c_str()
             : "INVALID";
}

// Shape and element type checked before anything is allocated.
struct CheckedLayout {
  DType dtype;
  Shape shape;
  int64_t numel;
  uint64_t bytes;
};

CheckedLayout check_layout(const onnx::TensorProto& proto, const TensorSource& source) {
  const std::string& name = proto.name();
  QUENCH_CHECK(dtype_is_known(proto.data_type()), ErrorKind::kInvalidModel,
               "{}: tensor '{}' has invalid data type {}", source.origin, name, proto.data_type());
  const DType dtype = static_cast<DType>(proto.data_type());
  const DTypeInfo& info = dtype_info(dtype);
  QUENCH_CHECK(info.supported, ErrorKind::kUnsupported,
               "{}: tensor '{}' has data type {}, which quench does not support", source.origin,
               name, proto_type_name(proto.data_type()));
  CheckedLayout layout{dtype, Shape(proto.dims().begin(), proto.dims().end()), 0, 0};
  for (int64_t d : layout.shape) {
    QUENCH_CHECK(d >= 0, ErrorKind::kInvalidModel, "{}: tensor '{}' has a negative dimension: {}",
                 source.origin, name, shape_str(layout.shape));
  }
  check_tensor_fits(dtype, layout.shape, fmt::format("{}: tensor '{}'", source.origin, name));
  layout.numel = shape_numel(layout.shape);
  layout.bytes = storage_bytes(dtype, layout.numel);
  return layout;
}

template <class Dst, class Src>
void copy_typed(const Src& field, Tensor& t) {
  Dst* out = static_cast<Dst*>(t.raw_data());
  for (int i = 0; i < field.size(); ++i) out[i] = static_cast<Dst>(field.Get(i));
}

int typed_count(const onnx::TensorProto& p, DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return p.float_data_size();
    case DType::kInt64:
      return p.int64_data_size();
    case DType::kFloat64:
      return p.double_data_size();
    case DType::kUInt32:
    case DType::kUInt64:
      return p.uint64_data_size();
    default:
      return p.int32_data_size();
  }
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& proto, const TensorSource& source) {
  const std::string& name = proto.name();
  QUENCH_CHECK(!proto.has_segment(), ErrorKind::kUnsupported,
               "{}: tensor '{}' is segmented, which quench does not support", source.origin, name);
  const CheckedLayout layout = check_layout(proto, source);

  if (proto.data_location() == onnx::TensorProto_DataLocation_EXTERNAL) {
    std::string location;
    uint64_t offset = 0;
    int64_t length = -1;
    for (const auto& entry : proto.external_data()) {
      try {
        if (entry.key() == "location") location = entry.value();
        if (entry.key() == "offset") offset = std::stoull(entry.value());
        if (entry.key() == "length") length = std::stoll(entry.value());
      } catch (const std::exception&) {
        fail(ErrorKind::kInvalidModel,
             "{}: tensor '{}': external data field '{}' is not a number: '{}'", source.origin, name,
             entry.key(), entry.value());
      }
    }
    QUENCH_CHECK(length < 0 || static_cast<uint64_t>(length) == layout.bytes,
                 ErrorKind::kInvalidModel,
                 "{}: tensor '{}': external data length is {} bytes, but shape {} of {} needs {}",
                 source.origin, name, length, shape_str(layout.shape), dtype_name(layout.dtype),
                 layout.bytes);
    const auto file = resolve_external_path(source.base_dir, location, name);
    Tensor t = Tensor::empty(layout.dtype, layout.shape);
    read_external_bytes(file, offset, layout.bytes, t.raw_data(), name);
    return t;
  }

  if (proto.has_raw_data()) {
    QUENCH_CHECK(proto.raw_data().size() == layout.bytes, ErrorKind::kInvalidModel,
                 "{}: tensor '{}' has {} bytes of raw data, but shape {} of {} needs {}",
                 source.origin, name, proto.raw_data().size(), shape_str(layout.shape),
                 dtype_name(layout.dtype), layout.bytes);
    Tensor t = Tensor::empty(layout.dtype, layout.shape);
    if (layout.bytes) std::memcpy(t.raw_data(), proto.raw_data().data(), layout.bytes);
    return t;
  }

  QUENCH_CHECK(!is_packed_int(layout.dtype), ErrorKind::kUnsupported,
               "{}: tensor '{}' of type {} must store its packed values in raw_data", source.origin,
               name, dtype_name(layout.dtype));
  const int count = typed_count(proto, layout.dtype);
  QUENCH_CHECK(static_cast<int64_t>(count) == layout.numel, ErrorKind::kInvalidModel,
               "{}: tensor '{}' has {} values, but shape {} needs {}", source.origin, name, count,
               shape_str(layout.shape), layout.numel);
  Tensor t = Tensor::empty(layout.dtype, layout.shape);
  switch (layout.dtype) {
    case DType::kFloat32:
      copy_typed<float>(proto.float_data(), t);
      break;
    case DType::kFloat64:
      copy_typed<double>(proto.double_data(), t);
      break;
    case DType::kInt64:
      copy_typed<int64_t>(proto.int64_data(), t);
      break;
    case DType::kUInt32:
      copy_typed<uint32_t>(proto.uint64_data(), t);
      break;
    case DType::kUInt64:
      copy_typed<uint64_t>(proto.uint64_data(), t);
      break;
    case DType::kInt32:
      copy_typed<int32_t>(proto.int32_data(), t);
      break;
    case DType::kInt16:
      copy_typed<int16_t>(proto.int32_data(), t);
      break;
    case DType::kUInt16:
    case DType::kFloat16:
    case DType::kBFloat16:
      copy_typed<uint16_t>(proto.int32_data(), t);
      break;
    case DType::kInt8:
      copy_typed<int8_t>(proto.int32_data(), t);
      break;
    case DType::kUInt8:
      copy_typed<uint8_t>(proto.int32_data(), t);
      break;
    case DType::kBool: {
      uint8_t* out = static_cast<uint8_t*>(t.raw_data());
      for (int i = 0; i < count; ++i) out[i] = proto.int32_data(i) != 0;
      break;
    }
    default:
      fail(ErrorKind::kUnsupported, "{}: tensor '{}' of type {} is not supported", source.origin,
           name, dtype_name(layout.dtype));
  }
  return t;
}

void tensor_to_proto(const Tensor& tensor, onnx::TensorProto* proto) {
  proto->set_data_type(static_cast<int32_t>(tensor.dtype()));
  proto->clear_dims();
  for (int64_t d : tensor.shape()) proto->add_dims(d);
  proto->set_raw_data(tensor.raw_data(), tensor.nbytes());
}

}  // namespace quench::onnx_io
