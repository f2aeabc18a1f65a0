#include "core/packing.h"

#include <cstring>

#include "core/check.h"

namespace quench {

void unpack_to_int8(const void* packed, DType t, int64_t count, int8_t* out) {
  QUENCH_CHECK(is_packed_int(t), ErrorKind::kInternal, "{} is not a packed integer type",
               dtype_name(t));
  for (int64_t i = 0; i < count; ++i) out[i] = packed_element(packed, t, i);
}

void pack_from_int8(const int8_t* values, DType t, int64_t count, void* packed) {
  QUENCH_CHECK(is_packed_int(t), ErrorKind::kInternal, "{} is not a packed integer type",
               dtype_name(t));
  const DTypeInfo& info = dtype_info(t);
  const int bits = info.bits;
  const int per_byte = 8 / bits;
  const int mask = (1 << bits) - 1;
  auto* bytes = static_cast<uint8_t*>(packed);
  std::memset(bytes, 0, storage_bytes(t, count));
  for (int64_t i = 0; i < count; ++i) {
    QUENCH_CHECK(values[i] >= info.lowest && values[i] <= info.highest, ErrorKind::kInvalidArgument,
                 "value {} at {} is outside the range [{}, {}] of {}", values[i], i, info.lowest,
                 info.highest, info.name);
    const int shift = static_cast<int>(i % per_byte) * bits;
    bytes[i / per_byte] = static_cast<uint8_t>(bytes[i / per_byte] | ((values[i] & mask) << shift));
  }
}

}  // namespace quench
