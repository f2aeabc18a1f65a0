// MaxPool, AveragePool, LpPool and the global pools: hand-computed examples and errors.
#include "ops/op_registry.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;
using testing::run_node;
using testing::tensors_near;

// Maxima are exact; averages of a few small integers are exact in float.
constexpr double kExact = 0;
constexpr double kFloatTolerance = 1e-6;

using Ints = std::vector<int64_t>;
using Attrs = std::initializer_list<std::pair<std::string, AttributeValue>>;

Tensor f32(Shape shape, std::vector<float> values) {
  return Tensor::from_vector<float>(std::move(shape), values);
}

template <class Fn>
std::string error_of(Fn&& fn, ErrorKind kind) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no quench::Error thrown";
  return "";
}

Tensor pool(const std::string& op, const Tensor& x, Attrs attrs, int64_t opset = 17) {
  return run_node(make_node(op, {"X"}, {"Y"}, attrs), {x}, opset)[0];
}

TEST(MaxPool, Basic2d) {
  const Tensor x = f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_TRUE(tensors_near(pool("MaxPool", x, {{"kernel_shape", Ints{2, 2}}}),
                           f32({1, 1, 2, 2}, {5, 6, 8, 9}), kExact, 0));
}

TEST(MaxPool, PaddingNeverWins) {
  const Tensor x = f32({1, 1, 1, 2}, {-5, -3});
  EXPECT_TRUE(
      tensors_near(pool("MaxPool", x, {{"kernel_shape", Ints{1, 2}}, {"pads", Ints{0, 1, 0, 1}}}),
                   f32({1, 1, 1, 3}, {-5, -3, -3}), kExact, 0));
}

TEST(MaxPool, IndicesRowAndColumnMajor) {
  // Two channels of [[1, 2, 3], [4, 5, 6]] (the second one shifted by 10).
  const Tensor x = f32({1, 2, 2, 3}, {1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16});
  const Node row = make_node("MaxPool", {"X"}, {"Y", "I"}, {{"kernel_shape", Ints{2, 2}}});
  auto out = run_node(row, {x});
  EXPECT_TRUE(tensors_near(out[0], f32({1, 2, 1, 2}, {5, 6, 15, 16}), kExact, 0));
  EXPECT_TRUE(out[1].equals(Tensor::from_vector<int64_t>({1, 2, 1, 2}, {4, 5, 10, 11})));
  // Column major: (h, w) -> h + w * height, still offset by the plane.
  const Node column = make_node("MaxPool", {"X"}, {"Y", "I"},
                                {{"kernel_shape", Ints{2, 2}}, {"storage_order", int64_t{1}}});
  out = run_node(column, {x});
  EXPECT_TRUE(out[1].equals(Tensor::from_vector<int64_t>({1, 2, 1, 2}, {3, 5, 9, 11})));
}

TEST(MaxPool, IndicesSkipThePaddingAndTheFirstMaximumWins) {
  const Tensor x = f32({1, 1, 2, 2}, {4, 1, 2, 4});
  const Node node = make_node("MaxPool", {"X"}, {"Y", "I"},
                              {{"kernel_shape", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}});
  const auto out = run_node(node, {x});
  EXPECT_TRUE(tensors_near(out[0], f32({1, 1, 3, 3}, {4, 4, 1, 4, 4, 4, 2, 4, 4}), kExact, 0));
  EXPECT_TRUE(
      out[1].equals(Tensor::from_vector<int64_t>({1, 1, 3, 3}, {0, 0, 1, 0, 0, 3, 2, 3, 3})));
}

TEST(MaxPool, Uint8AndInt8) {
  const Tensor u8 = Tensor::from_vector<uint8_t>({1, 1, 2, 2}, {200, 10, 255, 0});
  const Tensor y = pool("MaxPool", u8, {{"kernel_shape", Ints{2, 2}}}, 12);
  EXPECT_TRUE(y.equals(Tensor::from_vector<uint8_t>({1, 1, 1, 1}, {255})));
  // The padding must not act as a zero among negative values.
  const Tensor i8 = Tensor::from_vector<int8_t>({1, 1, 1, 2}, {-128, -3});
  EXPECT_TRUE(pool("MaxPool", i8, {{"kernel_shape", Ints{1, 2}}, {"pads", Ints{0, 1, 0, 1}}}, 12)
                  .equals(Tensor::from_vector<int8_t>({1, 1, 1, 3}, {-128, -3, -3})));
}

TEST(MaxPool, Dilation) {
  const Tensor x = f32({1, 1, 5}, {1, 5, 2, 4, 3});
  EXPECT_TRUE(tensors_near(pool("MaxPool", x, {{"kernel_shape", Ints{2}}, {"dilations", Ints{2}}}),
                           f32({1, 1, 3}, {2, 5, 3}), kExact, 0));
  // Windows starting in the padding; the first channel is larger than anything in the second.
  const Tensor two = f32({1, 2, 5}, {9, 9, 9, 9, 9, -1, -5, -2, -4, -3});
  EXPECT_TRUE(
      tensors_near(pool("MaxPool", two,
                        {{"kernel_shape", Ints{2}}, {"dilations", Ints{2}}, {"pads", Ints{1, 1}}}),
                   f32({1, 2, 5}, {9, 9, 9, 9, 9, -5, -1, -4, -2, -4}), kExact, 0));
}

TEST(MaxPool, CeilMode) {
  const Tensor x = f32({1, 1, 5}, {1, 2, 3, 4, 5});
  EXPECT_TRUE(tensors_near(pool("MaxPool", x, {{"kernel_shape", Ints{2}}, {"strides", Ints{2}}}),
                           f32({1, 1, 2}, {2, 4}), kExact, 0));
  EXPECT_TRUE(tensors_near(
      pool("MaxPool", x,
           {{"kernel_shape", Ints{2}}, {"strides", Ints{2}}, {"ceil_mode", int64_t{1}}}),
      f32({1, 1, 3}, {2, 4, 5}), kExact, 0));
}

TEST(MaxPool, CeilModeDropsAWindowStartingInTheEndPadding) {
  // ceil((4 + 1 - 2) / 2) + 1 = 3 windows, but the third would start at 4, in the end padding.
  const Tensor x = f32({1, 1, 4}, {1, 2, 3, 4});
  EXPECT_TRUE(tensors_near(pool("MaxPool", x,
                                {{"kernel_shape", Ints{2}},
                                 {"strides", Ints{2}},
                                 {"pads", Ints{0, 1}},
                                 {"ceil_mode", int64_t{1}}}),
                           f32({1, 1, 2}, {2, 4}), kExact, 0));
}

TEST(MaxPool, SameUpperAndLower) {
  const Tensor x = f32({1, 1, 4}, {1, 2, 3, 4});
  // One unit of padding: at the end for SAME_UPPER, at the start for SAME_LOWER.
  EXPECT_TRUE(tensors_near(
      pool("MaxPool", x, {{"kernel_shape", Ints{2}}, {"auto_pad", std::string("SAME_UPPER")}}),
      f32({1, 1, 4}, {2, 3, 4, 4}), kExact, 0));
  EXPECT_TRUE(tensors_near(
      pool("MaxPool", x, {{"kernel_shape", Ints{2}}, {"auto_pad", std::string("SAME_LOWER")}}),
      f32({1, 1, 4}, {1, 2, 3, 4}), kExact, 0));
}

TEST(MaxPool, ThreeDimensional) {
  const Tensor x = f32({1, 1, 2, 2, 2}, {1, 8, 3, 4, 5, 6, 7, 2});
  EXPECT_TRUE(tensors_near(pool("MaxPool", x, {{"kernel_shape", Ints{2, 1, 2}}}),
                           f32({1, 1, 1, 2, 1}, {8, 7}), kExact, 0));
}

TEST(AveragePool, CountIncludePadAtTheBorders) {
  const Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  const Attrs base = {{"kernel_shape", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}};
  EXPECT_TRUE(tensors_near(pool("AveragePool", x, base),
                           f32({1, 1, 3, 3}, {1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4}), kFloatTolerance,
                           0));
  EXPECT_TRUE(tensors_near(pool("AveragePool", x,
                                {{"kernel_shape", Ints{2, 2}},
                                 {"pads", Ints{1, 1, 1, 1}},
                                 {"count_include_pad", int64_t{1}}}),
                           f32({1, 1, 3, 3}, {0.25f, 0.75f, 0.5f, 1, 2.5f, 1.5f, 0.75f, 1.75f, 1}),
                           kFloatTolerance, 0));
}

TEST(AveragePool, CeilModeWindowPastThePaddingCountsOnlyThePadding) {
  // Windows [0, 3), [2, 5), [4, 7): the last one holds x[4], the pad at 5, and 6 past the pad.
  const Tensor x = f32({1, 1, 5}, {1, 2, 3, 4, 5});
  const Attrs attrs = {{"kernel_shape", Ints{3}},
                       {"strides", Ints{2}},
                       {"pads", Ints{0, 1}},
                       {"ceil_mode", int64_t{1}}};
  EXPECT_TRUE(
      tensors_near(pool("AveragePool", x, attrs), f32({1, 1, 3}, {2, 4, 5}), kFloatTolerance, 0));
  EXPECT_TRUE(tensors_near(pool("AveragePool", x,
                                {{"kernel_shape", Ints{3}},
                                 {"strides", Ints{2}},
                                 {"pads", Ints{0, 1}},
                                 {"ceil_mode", int64_t{1}},
                                 {"count_include_pad", int64_t{1}}}),
                           f32({1, 1, 3}, {2, 4, 2.5f}), kFloatTolerance, 0));
}

TEST(AveragePool, Float64AndUnsupportedIntegers) {
  const Tensor x = Tensor::from_vector<double>({1, 1, 3}, {1, 2, 4});
  EXPECT_TRUE(tensors_near(pool("AveragePool", x, {{"kernel_shape", Ints{2}}}),
                           Tensor::from_vector<double>({1, 1, 2}, {1.5, 3}), kExact, 0));
  error_of(
      [] {
        pool("AveragePool", Tensor::from_vector<uint8_t>({1, 1, 2}, {1, 2}),
             {{"kernel_shape", Ints{2}}});
      },
      ErrorKind::kUnsupported);
}

TEST(LpPool, NormsOfWindows) {
  const Tensor x = f32({1, 1, 3}, {-3, 4, 0});
  EXPECT_TRUE(tensors_near(pool("LpPool", x, {{"kernel_shape", Ints{2}}}), f32({1, 1, 2}, {5, 4}),
                           kFloatTolerance, 0));
  EXPECT_TRUE(tensors_near(pool("LpPool", x, {{"kernel_shape", Ints{2}}, {"p", int64_t{1}}}),
                           f32({1, 1, 2}, {7, 4}), kFloatTolerance, 0));
  // Opset 1 has a float p.
  EXPECT_TRUE(tensors_near(pool("LpPool", x, {{"kernel_shape", Ints{2}}, {"p", 1.f}}, 1),
                           f32({1, 1, 2}, {7, 4}), kFloatTolerance, 0));
}

TEST(GlobalPools, ReduceEverySpatialDim) {
  const Tensor x = f32({1, 2, 2, 2}, {1, 2, 3, 6, -1, -2, -3, -4});
  EXPECT_TRUE(tensors_near(pool("GlobalAveragePool", x, {}), f32({1, 2, 1, 1}, {3, -2.5f}),
                           kFloatTolerance, 0));
  EXPECT_TRUE(tensors_near(pool("GlobalMaxPool", x, {}), f32({1, 2, 1, 1}, {6, -1}), kExact, 0));
  EXPECT_TRUE(tensors_near(pool("GlobalLpPool", f32({1, 1, 2}, {3, -4}), {}), f32({1, 1, 1}, {5}),
                           kFloatTolerance, 0));
  const Tensor x3 = f32({2, 1, 1, 2, 1}, {1, 3, 5, 9});
  EXPECT_TRUE(tensors_near(pool("GlobalAveragePool", x3, {}), f32({2, 1, 1, 1, 1}, {2, 7}),
                           kFloatTolerance, 0));
}

TEST(Pool, InfersShapesWithUnknownDims) {
  const Node node = make_node("MaxPool", {"X"}, {"Y", "I"},
                              {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}});
  const ValueInfo x{DType::kFloat32, SymbolicShape{Dim("N"), 3, Dim(), 10}, ""};
  std::vector<ValueInfo> outputs(2);
  InferContext ctx(node, 17, {&x}, {}, outputs);
  op_registry().find("", "MaxPool")->infer(ctx);
  EXPECT_EQ(outputs[0].dtype, DType::kFloat32);
  EXPECT_EQ(*outputs[0].shape, (SymbolicShape{Dim("N"), 3, Dim(), 4}));
  EXPECT_EQ(outputs[1].dtype, DType::kInt64);
  EXPECT_EQ(*outputs[1].shape, *outputs[0].shape);
}

TEST(Pool, InvalidAttributesAreErrors) {
  const Tensor x = f32({1, 1, 3, 3}, std::vector<float>(9));
  EXPECT_NE(error_of(
                [&] {
                  pool("MaxPool", x, {{"kernel_shape", Ints{5, 5}}});
                },
                ErrorKind::kInvalidModel)
                .find("kernel 5x5 is larger than the padded input 3x3"),
            std::string::npos);
  error_of([&] { pool("MaxPool", x, {}); }, ErrorKind::kInvalidModel);
  EXPECT_NE(error_of(
                [&] {
                  pool("AveragePool", x, {{"kernel_shape", Ints{2}}});
                },
                ErrorKind::kInvalidModel)
                .find("attribute 'kernel_shape' has 1 values, expected 2"),
            std::string::npos);
  error_of(
      [&] {
        pool("MaxPool", x, {{"kernel_shape", Ints{2, 2}}, {"storage_order", int64_t{2}}});
      },
      ErrorKind::kInvalidModel);
  error_of(
      [&] {
        pool("MaxPool", x, {{"kernel_shape", Ints{2, 2}}, {"pads", Ints{1, 1}}});
      },
      ErrorKind::kInvalidModel);
  error_of(
      [&] {
        pool("LpPool", x, {{"kernel_shape", Ints{2, 2}}, {"p", int64_t{0}}});
      },
      ErrorKind::kInvalidModel);
  error_of([&] { pool("GlobalMaxPool", f32({1, 3}, {1, 2, 3}), {}); }, ErrorKind::kInvalidModel);
  // Only MaxPool has a second output.
  error_of(
      [&] {
        run_node(make_node("AveragePool", {"X"}, {"Y", "I"}, {{"kernel_shape", Ints{2, 2}}}), {x});
      },
      ErrorKind::kInvalidModel);
}

}  // namespace
}  // namespace quench
