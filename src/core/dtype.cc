#include "quench/dtype.h"

#include <array>
#include <limits>

namespace quench {
namespace {

template <class T>
constexpr DTypeInfo row(std::string_view name) {
  return {name,
          8 * sizeof(T),
          std::numeric_limits<T>::is_iec559,
          std::numeric_limits<T>::is_signed,
          true,
          static_cast<double>(std::numeric_limits<T>::lowest()),
          static_cast<double>(std::numeric_limits<T>::max())};
}

constexpr DTypeInfo kUndefinedRow{"undefined", 0, false, false, false, 0, 0};

// Two's complement integers of `bits` bits, stored packed.
constexpr DTypeInfo packed_int(std::string_view name, int bits, bool is_signed) {
  const double levels = static_cast<double>(1 << bits);
  return {name,
          static_cast<uint8_t>(bits),
          false,
          is_signed,
          true,
          is_signed ? -levels / 2 : 0,
          is_signed ? levels / 2 - 1 : levels - 1};
}

constexpr DTypeInfo unsupported(std::string_view name, int bits, bool is_float) {
  return {name, static_cast<uint8_t>(bits), is_float, true, false, 0, 0};
}

constexpr std::array<DTypeInfo, 27> kTable = {
    kUndefinedRow,
    row<float>("float"),
    row<uint8_t>("uint8"),
    row<int8_t>("int8"),
    row<uint16_t>("uint16"),
    row<int16_t>("int16"),
    row<int32_t>("int32"),
    row<int64_t>("int64"),
    DTypeInfo{"string", 0, false, false, false, 0, 0},
    DTypeInfo{"bool", 8, false, false, true, 0, 1},
    DTypeInfo{"float16", 16, true, true, true, -65504.0, 65504.0},
    row<double>("double"),
    row<uint32_t>("uint32"),
    row<uint64_t>("uint64"),
    unsupported("complex64", 64, false),
    unsupported("complex128", 128, false),
    DTypeInfo{"bfloat16", 16, true, true, true, -3.3895313892515355e38, 3.3895313892515355e38},
    unsupported("float8e4m3fn", 8, true),
    unsupported("float8e4m3fnuz", 8, true),
    unsupported("float8e5m2", 8, true),
    unsupported("float8e5m2fnuz", 8, true),
    packed_int("uint4", 4, false),
    packed_int("int4", 4, true),
    unsupported("float4e2m1", 4, true),
    unsupported("float8e8m0", 8, true),
    packed_int("uint2", 2, false),
    packed_int("int2", 2, true),
};

static_assert(kTable[static_cast<int>(DType::kFloat32)].bits == 32);
static_assert(kTable[static_cast<int>(DType::kInt8)].lowest == -128.0);
static_assert(kTable[static_cast<int>(DType::kUInt8)].highest == 255.0);
static_assert(kTable[static_cast<int>(DType::kBFloat16)].bits == 16);
static_assert(kTable[static_cast<int>(DType::kInt4)].bits == 4);
static_assert(kTable[static_cast<int>(DType::kInt4)].lowest == -8.0);
static_assert(kTable[static_cast<int>(DType::kUInt4)].highest == 15.0);
static_assert(kTable[static_cast<int>(DType::kInt2)].lowest == -2.0);
static_assert(kTable[static_cast<int>(DType::kUInt2)].highest == 3.0);

}  // namespace

const DTypeInfo& dtype_info(DType t) {
  const auto i = static_cast<size_t>(t);
  return i < kTable.size() ? kTable[i] : kUndefinedRow;
}

bool dtype_is_known(int64_t code) { return code > 0 && code < static_cast<int64_t>(kTable.size()); }

}  // namespace quench
