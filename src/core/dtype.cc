#include "quench/dtype.h"

#include <array>
#include <limits>

namespace quench {
namespace {

template <class T>
constexpr DTypeInfo row(std::string_view name) {
  return {name,
          sizeof(T),
          std::numeric_limits<T>::is_iec559,
          std::numeric_limits<T>::is_signed,
          true,
          static_cast<double>(std::numeric_limits<T>::lowest()),
          static_cast<double>(std::numeric_limits<T>::max())};
}

constexpr DTypeInfo kUndefinedRow{"undefined", 0, false, false, false, 0, 0};

constexpr std::array<DTypeInfo, 17> kTable = {
    kUndefinedRow,
    row<float>("float"),
    row<uint8_t>("uint8"),
    row<int8_t>("int8"),
    row<uint16_t>("uint16"),
    row<int16_t>("int16"),
    row<int32_t>("int32"),
    row<int64_t>("int64"),
    DTypeInfo{"string", 0, false, false, false, 0, 0},
    DTypeInfo{"bool", 1, false, false, true, 0, 1},
    DTypeInfo{"float16", 2, true, true, true, -65504.0, 65504.0},
    row<double>("double"),
    row<uint32_t>("uint32"),
    row<uint64_t>("uint64"),
    DTypeInfo{"complex64", 8, false, true, false, 0, 0},
    DTypeInfo{"complex128", 16, false, true, false, 0, 0},
    DTypeInfo{"bfloat16", 2, true, true, true, -3.3895313892515355e38, 3.3895313892515355e38},
};

static_assert(kTable[static_cast<int>(DType::kFloat32)].bytes == 4);
static_assert(kTable[static_cast<int>(DType::kInt8)].lowest == -128.0);
static_assert(kTable[static_cast<int>(DType::kUInt8)].highest == 255.0);
static_assert(kTable[static_cast<int>(DType::kBFloat16)].bytes == 2);

}  // namespace

const DTypeInfo& dtype_info(DType t) {
  const auto i = static_cast<size_t>(t);
  return i < kTable.size() ? kTable[i] : kUndefinedRow;
}

bool dtype_is_known(int64_t code) {
  return code > 0 && code < static_cast<int64_t>(kTable.size()) && code != 14 && code != 15;
}

}  // namespace quench
