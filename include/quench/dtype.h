// Element types: one table holds every property of every type (name, bit width, range, kind).
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
  kUInt4 = 21,  // packed two per byte, the first element in the low bits (ONNX's layout)
  kInt4 = 22,
  kUInt2 = 25,  // packed four per byte, likewise
  kInt2 = 26,
};

struct DTypeInfo {
  std::string_view name;  // ONNX spelling: "float", "uint8", ...
  uint8_t bits;           // 0 where elements have no fixed size (string) or the type is unknown
  bool is_float;
  bool is_signed;
  bool supported;  // quench can hold tensors of this type
  double lowest;   // smallest finite value
  double highest;  // largest finite value
};

// Properties of `t`; an unknown numeric value yields the kUndefined row.
const DTypeInfo& dtype_info(DType t);
inline int dtype_bits(DType t) { return dtype_info(t).bits; }
// Bytes per element of a whole-byte type; 0 for the packed sub-byte types (int4, int2) and types
// without a fixed size. Sizes of buffers come from storage_bytes.
inline size_t dtype_size(DType t) {
  const int bits = dtype_bits(t);
  return bits % 8 == 0 ? static_cast<size_t>(bits / 8) : 0;
}
// Bytes that hold `count` elements of `t` (packed types round up to whole bytes).
inline uint64_t storage_bytes(DType t, int64_t count) {
  return (static_cast<uint64_t>(count) * dtype_bits(t) + 7) / 8;
}
inline std::string_view dtype_name(DType t) { return dtype_info(t).name; }
// Whether `code` is an element type of the table (dtype_info(t).supported says whether tensors can
// hold it).
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
