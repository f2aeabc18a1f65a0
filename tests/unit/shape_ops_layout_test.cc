// Transpose, DepthToSpace, SpaceToDepth, Expand, Tile: hand-checked element orders.
#include <gtest/gtest.h>

#include "test_util.h"

namespace quench {
namespace {

using testing::make;
using testing::make_node;
using testing::run_node;
using testing::same;

Tensor iota_f32(Shape shape) {
  Tensor t = Tensor::empty(DType::kFloat32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

TEST(Transpose, DefaultPermReversesTheDims) {
  auto y = run_node(make_node("Transpose", {"x"}, {"y"}), {iota_f32({2, 3})});
  EXPECT_TRUE(same(y[0], make<float>({3, 2}, {0, 3, 1, 4, 2, 5})));
}

TEST(Transpose, ExplicitPerm) {
  // x[a][0][c] = 3a + c; y[c][a][0] = x[a][0][c].
  auto y = run_node(make_node("Transpose", {"x"}, {"y"}, {{"perm", std::vector<int64_t>{2, 0, 1}}}),
                    {iota_f32({2, 1, 3})});
  EXPECT_TRUE(same(y[0], make<float>({3, 2, 1}, {0, 3, 1, 4, 2, 5})));
}

TEST(Transpose, MovesSmallAndEmptyTypes) {
  auto y = run_node(make_node("Transpose", {"x"}, {"y"}),
                    {make<bool>({2, 2}, {true, true, false, false})});
  EXPECT_TRUE(same(y[0], make<bool>({2, 2}, {true, false, true, false})));
  y = run_node(make_node("Transpose", {"x"}, {"y"}), {make<int64_t>({1, 3}, {-1, 5, 1LL << 40})});
  EXPECT_TRUE(same(y[0], make<int64_t>({3, 1}, {-1, 5, 1LL << 40})));
  Tensor half = Tensor::empty(DType::kFloat16, {2, 1, 2});
  const uint16_t bits[] = {0x3c00, 0x4000, 0xc000, 0x7bff};  // 1, 2, -2, 65504
  for (int i = 0; i < 4; ++i) static_cast<uint16_t*>(half.raw_data())[i] = bits[i];
  y = run_node(make_node("Transpose", {"x"}, {"y"}, {{"perm", std::vector<int64_t>{2, 1, 0}}}),
               {half});
  ASSERT_EQ(y[0].dtype(), DType::kFloat16);
  const uint16_t* out = static_cast<const uint16_t*>(y[0].raw_data());
  EXPECT_EQ(out[0], bits[0]);
  EXPECT_EQ(out[1], bits[2]);
  EXPECT_EQ(out[2], bits[1]);
  EXPECT_EQ(out[3], bits[3]);
  y = run_node(make_node("Transpose", {"x"}, {"y"}), {Tensor::empty(DType::kUInt8, {0, 3})});
  EXPECT_EQ(y[0].shape(), (Shape{3, 0}));
}

TEST(Transpose, RejectsInvalidPerm) {
  for (std::vector<int64_t> perm : {std::vector<int64_t>{0, 0}, {0}, {0, 2}, {-1, 0}}) {
    EXPECT_THROW(
        run_node(make_node("Transpose", {"x"}, {"y"}, {{"perm", perm}}), {iota_f32({2, 2})}),
        Error);
  }
}

Tensor depth_to_space(const Tensor& x, const char* mode) {
  return run_node(make_node("DepthToSpace", {"x"}, {"y"},
                            {{"blocksize", int64_t{2}}, {"mode", std::string(mode)}}),
                  {x})[0];
}

TEST(DepthToSpace, DcrAndCrdOrderTheDepthDifferently) {
  // 8 channels, blocksize 2: 2 output channels over a 2x2 block. DCR reads channel
  // (by * 2 + bx) * 2 + c, CRD reads c * 4 + by * 2 + bx.
  const Tensor x = iota_f32({1, 8, 1, 1});
  EXPECT_TRUE(same(depth_to_space(x, "DCR"), make<float>({1, 2, 2, 2}, {0, 2, 4, 6, 1, 3, 5, 7})));
  EXPECT_TRUE(same(depth_to_space(x, "CRD"), make<float>({1, 2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7})));
}

TEST(DepthToSpace, InterleavesBlocksAcrossWidth) {
  const Tensor x = iota_f32({1, 4, 1, 2});
  const Tensor want = make<float>({1, 1, 2, 4}, {0, 2, 1, 3, 4, 6, 5, 7});
  EXPECT_TRUE(same(depth_to_space(x, "DCR"), want));
  // SpaceToDepth undoes DepthToSpace in DCR order.
  auto back =
      run_node(make_node("SpaceToDepth", {"x"}, {"y"}, {{"blocksize", int64_t{2}}}), {want});
  EXPECT_TRUE(same(back[0], x));
}

TEST(DepthToSpace, RejectsBadShapesAndModes) {
  EXPECT_THROW(depth_to_space(iota_f32({1, 6, 1, 1}), "DCR"), Error);  // 6 % 4
  EXPECT_THROW(depth_to_space(iota_f32({4, 1, 1}), "DCR"), Error);     // rank 3
  EXPECT_THROW(depth_to_space(iota_f32({1, 4, 1, 1}), "XYZ"), Error);
  EXPECT_THROW(run_node(make_node("SpaceToDepth", {"x"}, {"y"}, {{"blocksize", int64_t{2}}}),
                        {iota_f32({1, 1, 3, 2})}),
               Error);  // height 3
  EXPECT_THROW(run_node(make_node("SpaceToDepth", {"x"}, {"y"}, {{"blocksize", int64_t{0}}}),
                        {iota_f32({1, 1, 2, 2})}),
               Error);
}

Tensor expand(const Tensor& x, std::vector<int64_t> shape) {
  return run_node(make_node("Expand", {"x", "s"}, {"y"}),
                  {x, make<int64_t>({static_cast<int64_t>(shape.size())}, shape)})[0];
}

TEST(Expand, BroadcastsBothWays) {
  EXPECT_TRUE(same(expand(make<float>({3, 1}, {1, 2, 3}), {2, 1, 2}),
                   make<float>({2, 3, 2}, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3})));
  // The input's dims win over 1s in the shape.
  EXPECT_TRUE(same(expand(make<int64_t>({1, 3}, {4, 5, 6}), {2, 1}),
                   make<int64_t>({2, 3}, {4, 5, 6, 4, 5, 6})));
  EXPECT_TRUE(same(expand(make<bool>({1}, {true}), {3}), make<bool>({3}, {true, true, true})));
  EXPECT_EQ(expand(make<uint8_t>({1}, {9}), {0, 2}).shape(), (Shape{0, 2}));
}

TEST(Expand, RejectsIncompatibleShapes) {
  EXPECT_THROW(expand(make<float>({3}, {1, 2, 3}), {2}), Error);
  EXPECT_THROW(expand(make<float>({3}, {1, 2, 3}), {-1}), Error);
}

Tensor tile(const Tensor& x, std::vector<int64_t> repeats) {
  return run_node(make_node("Tile", {"x", "r"}, {"y"}),
                  {x, make<int64_t>({static_cast<int64_t>(repeats.size())}, repeats)})[0];
}

TEST(Tile, RepeatsEachDim) {
  const Tensor x = make<uint8_t>({2, 2}, {1, 2, 3, 4});
  EXPECT_TRUE(same(tile(x, {2, 3}), make<uint8_t>({4, 6}, {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4,
                                                           1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4})));
  EXPECT_TRUE(same(tile(x, {1, 1}), x));
  EXPECT_EQ(tile(x, {0, 2}).shape(), (Shape{0, 4}));
  EXPECT_TRUE(same(tile(make<int64_t>({1}, {-7}), {3}), make<int64_t>({3}, {-7, -7, -7})));
  EXPECT_THROW(tile(x, {2}), Error);
  EXPECT_THROW(tile(x, {1, -1}), Error);
}

}  // namespace
}  // namespace quench
