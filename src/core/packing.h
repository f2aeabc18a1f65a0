// Sub-byte integers (int4, uint4, int2, uint2) as ONNX stores them: packed in bytes, the element
// of lower index in the lower bits (element i of a 4-bit tensor is bits [4(i mod 2), 4(i mod 2) +
// 4) of byte i / 2), signed types in two's complement. Kernels unpack them to int8 once (when a
// session is prepared) and run on 8-bit data.
#pragma once

#include <cstdint>

#include "quench/dtype.h"

namespace quench {

// Whether `t` is one of the packed sub-byte integer types.
inline bool is_packed_int(DType t) {
  return t == DType::kInt4 || t == DType::kUInt4 || t == DType::kInt2 || t == DType::kUInt2;
}

// Element `index` of packed data of type `t` (sign-extended for the signed types).
inline int8_t packed_element(const void* data, DType t, int64_t index) {
  const int bits = dtype_bits(t);
  const int per_byte = 8 / bits;
  const auto byte = static_cast<const uint8_t*>(data)[index / per_byte];
  const int shift = static_cast<int>(index % per_byte) * bits;
  const int mask = (1 << bits) - 1;
  int value = (byte >> shift) & mask;
  if (dtype_info(t).is_signed && value >= (1 << (bits - 1))) value -= 1 << bits;
  return static_cast<int8_t>(value);
}

// out[i] = element i, for `count` elements.
void unpack_to_int8(const void* packed, DType t, int64_t count, int8_t* out);

// Packs `count` values into storage_bytes(t, count) bytes (the unused high bits of the last byte
// are zero). kInvalidArgument when a value lies outside t's range.
void pack_from_int8(const int8_t* values, DType t, int64_t count, void* packed);

}  // namespace quench
