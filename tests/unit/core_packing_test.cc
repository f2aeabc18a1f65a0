// Sub-byte integer types: the dtype table's bit widths and ranges, storage sizes, and ONNX's
// packing (low bits first, two's complement) both ways.
#include <gtest/gtest.h>

#include <vector>

#include "core/packing.h"
#include "quench/error.h"
#include "quench/tensor.h"

namespace quench {
namespace {

TEST(SubByteTypes, TableHoldsBitWidthsAndRanges) {
  EXPECT_EQ(dtype_bits(DType::kInt4), 4);
  EXPECT_EQ(dtype_bits(DType::kUInt2), 2);
  EXPECT_EQ(dtype_bits(DType::kFloat32), 32);
  EXPECT_EQ(dtype_info(DType::kInt4).lowest, -8);
  EXPECT_EQ(dtype_info(DType::kInt4).highest, 7);
  EXPECT_EQ(dtype_info(DType::kUInt4).highest, 15);
  EXPECT_EQ(dtype_info(DType::kInt2).lowest, -2);
  EXPECT_EQ(dtype_name(DType::kUInt4), "uint4");
  EXPECT_EQ(dtype_size(DType::kInt4), 0u);  // no whole-byte element size
  EXPECT_EQ(dtype_size(DType::kInt16), 2u);
  EXPECT_TRUE(dtype_is_known(22));
  EXPECT_TRUE(dtype_is_known(17));                // float8: a type ONNX defines...
  EXPECT_FALSE(dtype_info(DType{17}).supported);  // ...that quench cannot hold
  EXPECT_FALSE(dtype_is_known(27));
}

TEST(SubByteTypes, StorageRoundsUpToWholeBytes) {
  EXPECT_EQ(storage_bytes(DType::kInt4, 7), 4u);
  EXPECT_EQ(storage_bytes(DType::kInt4, 8), 4u);
  EXPECT_EQ(storage_bytes(DType::kUInt2, 5), 2u);
  EXPECT_EQ(storage_bytes(DType::kFloat32, 3), 12u);
  EXPECT_EQ(Tensor::zeros(DType::kInt4, {3, 5}).nbytes(), 8u);
  EXPECT_EQ(Tensor::zeros(DType::kUInt2, {9}).nbytes(), 3u);
}

TEST(SubByteTypes, PackingIsLowBitsFirst) {
  // int4 [1, -2, 7, -8, 3]: bytes 0xE1 (1 low, -2 = 0xE high), 0x87, 0x03.
  const std::vector<int8_t> values{1, -2, 7, -8, 3};
  std::vector<uint8_t> packed(3, 0xff);
  pack_from_int8(values.data(), DType::kInt4, 5, packed.data());
  EXPECT_EQ(packed, (std::vector<uint8_t>{0xE1, 0x87, 0x03}));
  std::vector<int8_t> back(5);
  unpack_to_int8(packed.data(), DType::kInt4, 5, back.data());
  EXPECT_EQ(back, values);
  // uint2 [3, 0, 1, 2, 1]: 0b10'01'00'11 = 0x93, then 0x01.
  const std::vector<int8_t> twos{3, 0, 1, 2, 1};
  std::vector<uint8_t> packed2(2);
  pack_from_int8(twos.data(), DType::kUInt2, 5, packed2.data());
  EXPECT_EQ(packed2, (std::vector<uint8_t>{0x93, 0x01}));
  EXPECT_EQ(packed_element(packed2.data(), DType::kUInt2, 3), 2);
}

TEST(SubByteTypes, PackingRefusesValuesOutOfRange) {
  const std::vector<int8_t> values{8};
  uint8_t packed = 0;
  EXPECT_THROW(pack_from_int8(values.data(), DType::kInt4, 1, &packed), Error);
  const std::vector<int8_t> negative{-1};
  EXPECT_THROW(pack_from_int8(negative.data(), DType::kUInt4, 1, &packed), Error);
}

}  // namespace
}  // namespace quench
