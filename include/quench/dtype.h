// Element types: one table holds every property of every type (name, size, range, kind).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace quench {

// The numeric values are those of onnx.TensorProto.DataType, so that a Cast node's `to`
// attribute and a serialized tensor's data_type map onto DType without a lookup table.
enum class DType : uint8_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kBFloat16 = 16,
};

struct DTypeInfo {
  std::string_view name;  // ONNX spelling: "float", "uint8", ...
  uint8_t bytes;          // 0 where elements have no fixed size (string) or the type is unknown
  bool is_float;
  bool is_signed;
  bool supported;  // quench can hold tensors of this type
  double lowest;   // smallest finite value
  double highest;  // largest finite value
};

// Properties of `t`; an unknown numeric value yields the kUndefined row.
const DTypeInfo& dtype_info(DType t);
inline size_t dtype_size(DType t) { return dtype_info(t).bytes; }
inline std::string_view dtype_name(DType t) { return dtype_info(t).name; }
// Whether `code` is a DType value quench knows (for data read from files).
bool dtype_is_known(int64_t code);

template <class T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::kFloat32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::kFloat64;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::kUInt8;
};
template <>
struct DTypeOf<int8_t> {
  static constexpr DType value = DType::kInt8;
};
template <>
struct DTypeOf<uint16_t> {
  static constexpr DType value = DType::kUInt16;
};
template <>
struct DTypeOf<int16_t> {
  static constexpr DType value = DType::kInt16;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::kInt32;
};
template <>
struct DTypeOf<uint32_t> {
  static constexpr DType value = DType::kUInt32;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::kInt64;
};
template <>
struct DTypeOf<uint64_t> {
  static constexpr DType value = DType::kUInt64;
};
template <>
struct DTypeOf<bool> {
  static constexpr DType value = DType::kBool;
};
template <class T>
inline constexpr DType dtype_of = DTypeOf<T>::value;

}  // namespace quench
