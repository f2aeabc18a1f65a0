#include "data/elements.h"

#include <bit>
#include <cstring>

#include "core/check.h"
#include "core/half.h"
#include "quench/error.h"

namespace quench {
namespace {

uint8_t byte_swap(uint8_t v) { return v; }
uint16_t byte_swap(uint16_t v) { return __builtin_bswap16(v); }
uint32_t byte_swap(uint32_t v) { return __builtin_bswap32(v); }
uint64_t byte_swap(uint64_t v) { return __builtin_bswap64(v); }

// The element at `index` of type T, byte-swapped from big-endian if needed.
template <class T>
T load(const void* src, int64_t index, bool big_endian) {
  using Bits = std::conditional_t<
      sizeof(T) == 1, uint8_t,
      std::conditional_t<sizeof(T) == 2, uint16_t,
                         std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;
  Bits bits;
  std::memcpy(&bits, static_cast<const char*>(src) + index * sizeof(T), sizeof(T));
  if (big_endian) bits = byte_swap(bits);
  return std::bit_cast<T>(bits);
}

template <class T, class Out>
void convert(const void* src, int64_t count, bool big_endian, Out* dst) {
  for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<Out>(load<T>(src, i, big_endian));
}

}  // namespace

bool image_dtype_ok(DType dtype) {
  return dtype == DType::kUInt8 || dtype == DType::kFloat32 || dtype == DType::kFloat64 ||
         dtype == DType::kFloat16;
}

void convert_to_float(const void* src, int64_t count, ElementFormat format, float byte_scale,
                      float* dst) {
  const bool be = format.big_endian;
  switch (format.dtype) {
    case DType::kUInt8: {
      const auto* bytes = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<float>(bytes[i]) * byte_scale;
      return;
    }
    case DType::kFloat32:
      if (!be) {
        std::memcpy(dst, src, static_cast<size_t>(count) * sizeof(float));
        return;
      }
      return convert<float>(src, count, be, dst);
    case DType::kFloat64:
      return convert<double>(src, count, be, dst);
    case DType::kFloat16:
      for (int64_t i = 0; i < count; ++i) dst[i] = half_to_float(load<uint16_t>(src, i, be));
      return;
    default:
      fail(ErrorKind::kInternal, "convert_to_float: unexpected type {}", dtype_name(format.dtype));
  }
}

bool label_dtype_ok(DType dtype) {
  switch (dtype) {
    case DType::kUInt8:
    case DType::kInt8:
    case DType::kUInt16:
    case DType::kInt16:
    case DType::kUInt32:
    case DType::kInt32:
    case DType::kInt64:
    case DType::kUInt64:
    case DType::kBool:
      return true;
    default:
      return false;
  }
}

void convert_to_int64(const void* src, int64_t count, ElementFormat format, int64_t* dst) {
  const bool be = format.big_endian;
  switch (format.dtype) {
    case DType::kUInt8:
    case DType::kBool:
      return convert<uint8_t>(src, count, be, dst);
    case DType::kInt8:
      return convert<int8_t>(src, count, be, dst);
    case DType::kUInt16:
      return convert<uint16_t>(src, count, be, dst);
    case DType::kInt16:
      return convert<int16_t>(src, count, be, dst);
    case DType::kUInt32:
      return convert<uint32_t>(src, count, be, dst);
    case DType::kInt32:
      return convert<int32_t>(src, count, be, dst);
    case DType::kInt64:
      return convert<int64_t>(src, count, be, dst);
    // Labels beyond INT64_MAX are not meaningful; they wrap and fail the caller's range check.
    case DType::kUInt64:
      return convert<uint64_t>(src, count, be, dst);
    default:
      fail(ErrorKind::kInternal, "convert_to_int64: unexpected type {}", dtype_name(format.dtype));
  }
}

}  // namespace quench
