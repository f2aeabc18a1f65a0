// Conv and ConvTranspose: hand-computed examples, shape inference with unknown dims, errors.
#include <random>

#include "kernels/ref/conv.h"
#include "ops/op_registry.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;
using testing::run_node;
using testing::tensors_near;

// Sums of a few small integers are exact in float; longer random sums are not.
constexpr double kExact = 0;
constexpr double kFloatSumTolerance = 1e-5;

Tensor f32(Shape shape, std::vector<float> values) {
  return Tensor::from_vector<float>(std::move(shape), values);
}

// The message of the quench::Error that `fn` throws; fails the test unless it throws one of
// `kind`.
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

// Runs shape inference of `node` alone on inputs of the given types and shapes.
std::vector<ValueInfo> infer(const Node& node, std::vector<ValueInfo> inputs, int64_t opset = 17) {
  std::vector<const ValueInfo*> ptrs;
  for (const ValueInfo& v : inputs) ptrs.push_back(&v);
  std::vector<ValueInfo> outputs(node.outputs.size());
  InferContext ctx(node, opset, ptrs, {}, outputs);
  op_registry().find("", node.op_type)->infer(ctx);
  return outputs;
}

ValueInfo float_value(SymbolicShape shape) { return ValueInfo{DType::kFloat32, shape, ""}; }

Tensor conv(const Tensor& x, const Tensor& w,
            std::initializer_list<std::pair<std::string, AttributeValue>> attrs = {},
            const Tensor& bias = Tensor()) {
  const Node node = make_node("Conv", {"X", "W", bias.defined() ? "B" : ""}, {"Y"}, attrs);
  return run_node(node, {x, w, bias})[0];
}

Tensor conv_transpose(const Tensor& x, const Tensor& w,
                      std::initializer_list<std::pair<std::string, AttributeValue>> attrs = {},
                      const Tensor& bias = Tensor()) {
  const Node node = make_node("ConvTranspose", {"X", "W", bias.defined() ? "B" : ""}, {"Y"}, attrs);
  return run_node(node, {x, w, bias})[0];
}

using Ints = std::vector<int64_t>;

TEST(Conv, HandComputed2dWithBias) {
  const Tensor x = f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const Tensor w = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  // y(0,0) = 1*1 + 2*2 + 4*3 + 5*4 = 37, and so on.
  EXPECT_TRUE(tensors_near(conv(x, w, {}, f32({1}, {0.5f})),
                           f32({1, 1, 2, 2}, {37.5f, 47.5f, 67.5f, 77.5f}), kExact, 0));
  EXPECT_TRUE(tensors_near(conv(x, w), f32({1, 1, 2, 2}, {37, 47, 67, 77}), kExact, 0));
}

TEST(Conv, SymmetricPaddingSumsNeighbourhoods) {
  const Tensor x = f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const Tensor ones = f32({1, 1, 3, 3}, std::vector<float>(9, 1.f));
  EXPECT_TRUE(tensors_near(conv(x, ones, {{"pads", Ints{1, 1, 1, 1}}}),
                           f32({1, 1, 3, 3}, {12, 21, 16, 27, 45, 33, 24, 39, 28}), kExact, 0));
}

TEST(Conv, AsymmetricPads) {
  const Tensor x = f32({1, 1, 1, 4}, {1, 2, 3, 4});
  const Tensor w = f32({1, 1, 1, 2}, {1, 10});
  // pads are [top, left, bottom, right].
  EXPECT_TRUE(tensors_near(conv(x, w, {{"pads", Ints{0, 1, 0, 0}}}),
                           f32({1, 1, 1, 4}, {10, 21, 32, 43}), kExact, 0));
  EXPECT_TRUE(tensors_near(conv(x, w, {{"pads", Ints{0, 0, 0, 1}}}),
                           f32({1, 1, 1, 4}, {21, 32, 43, 4}), kExact, 0));
  EXPECT_TRUE(tensors_near(conv(x, w, {{"pads", Ints{1, 0, 0, 0}}}),
                           f32({1, 1, 2, 3}, {0, 0, 0, 21, 32, 43}), kExact, 0));
}

TEST(Conv, SameUpperAndLowerPutTheOddPadAtOppositeEnds) {
  const Tensor x = f32({1, 1, 1, 4}, {1, 2, 3, 4});
  const Tensor w = f32({1, 1, 1, 2}, {1, 10});
  // Total padding (4 - 1) * 1 + 2 - 4 = 1.
  EXPECT_TRUE(tensors_near(conv(x, w, {{"auto_pad", std::string("SAME_UPPER")}}),
                           f32({1, 1, 1, 4}, {21, 32, 43, 4}), kExact, 0));
  EXPECT_TRUE(tensors_near(conv(x, w, {{"auto_pad", std::string("SAME_LOWER")}}),
                           f32({1, 1, 1, 4}, {10, 21, 32, 43}), kExact, 0));
  // Strided: output ceil(5 / 2) = 3, total padding 2 * 2 + 2 - 5 = 1.
  const Tensor x5 = f32({1, 1, 1, 5}, {1, 2, 3, 4, 5});
  EXPECT_TRUE(
      tensors_near(conv(x5, w, {{"auto_pad", std::string("SAME_UPPER")}, {"strides", Ints{1, 2}}}),
                   f32({1, 1, 1, 3}, {21, 43, 5}), kExact, 0));
  EXPECT_TRUE(
      tensors_near(conv(x5, w, {{"auto_pad", std::string("SAME_LOWER")}, {"strides", Ints{1, 2}}}),
                   f32({1, 1, 1, 3}, {10, 32, 54}), kExact, 0));
  EXPECT_TRUE(tensors_near(conv(x5, w, {{"auto_pad", std::string("VALID")}}),
                           f32({1, 1, 1, 4}, {21, 32, 43, 54}), kExact, 0));
}

TEST(Conv, StrideLargerThanKernel) {
  const Tensor x = f32({1, 1, 1, 7}, {1, 2, 3, 4, 5, 6, 7});
  EXPECT_TRUE(tensors_near(conv(x, f32({1, 1, 1, 1}, {1}), {{"strides", Ints{1, 3}}}),
                           f32({1, 1, 1, 3}, {1, 4, 7}), kExact, 0));
  EXPECT_TRUE(tensors_near(conv(x, f32({1, 1, 1, 2}, {1, 10}), {{"strides", Ints{1, 3}}}),
                           f32({1, 1, 1, 2}, {21, 54}), kExact, 0));
}

TEST(Conv, Dilation) {
  const Tensor x = f32({1, 1, 5}, {1, 2, 3, 4, 5});
  EXPECT_TRUE(tensors_near(conv(x, f32({1, 1, 2}, {1, 1}), {{"dilations", Ints{2}}}),
                           f32({1, 1, 3}, {4, 6, 8}), kExact, 0));
  // With padding, windows start in the padding: padded x is [0, 0, 1, 2, 3, 4, 5, 0, 0]. Two
  // depthwise channels, so that a read before the second one would see the first one.
  EXPECT_TRUE(tensors_near(
      conv(f32({1, 2, 5}, {1, 2, 3, 4, 5, 10, 20, 30, 40, 50}), f32({2, 1, 2}, {1, 1, 1, 1}),
           {{"dilations", Ints{2}}, {"pads", Ints{2, 2}}, {"group", int64_t{2}}}),
      f32({1, 2, 7}, {1, 2, 4, 6, 8, 4, 5, 10, 20, 40, 60, 80, 40, 50}), kExact, 0));
  // 2-D, x(i, j) = 5i + j: y(i, j) = x(i,j) + x(i,j+2) + x(i+2,j) + x(i+2,j+2) = 20i + 4j + 24.
  std::vector<float> xs(25), want;
  for (int i = 0; i < 25; ++i) xs[i] = static_cast<float>(i);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) want.push_back(static_cast<float>(20 * i + 4 * j + 24));
  }
  EXPECT_TRUE(tensors_near(
      conv(f32({1, 1, 5, 5}, xs), f32({1, 1, 2, 2}, {1, 1, 1, 1}), {{"dilations", Ints{2, 2}}}),
      f32({1, 1, 3, 3}, want), kExact, 0));
}

TEST(Conv, Groups) {
  const Tensor x = f32({1, 4, 1, 1}, {1, 2, 3, 4});
  // Group 0 reads channels 0-1, group 1 channels 2-3.
  EXPECT_TRUE(tensors_near(conv(x, f32({2, 2, 1, 1}, {1, 10, 100, 1000}), {{"group", int64_t{2}}}),
                           f32({1, 2, 1, 1}, {21, 4300}), kExact, 0));
  // Two output channels per group, each picking one input channel.
  EXPECT_TRUE(
      tensors_near(conv(x, f32({4, 2, 1, 1}, {1, 0, 0, 1, 1, 0, 0, 1}), {{"group", int64_t{2}}}),
                   f32({1, 4, 1, 1}, {1, 2, 3, 4}), kExact, 0));
}

TEST(Conv, Depthwise) {
  const Tensor x = f32({1, 3, 1, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const Tensor w = f32({3, 1, 1, 2}, {1, 1, 1, -1, 2, 0});
  EXPECT_TRUE(tensors_near(conv(x, w, {{"group", int64_t{3}}}, f32({3}, {0, 0, 1})),
                           f32({1, 3, 1, 2}, {3, 5, -1, -1, 15, 17}), kExact, 0));
}

TEST(Conv, OneDimensional) {
  const Tensor x = f32({1, 1, 5}, {1, 2, 3, 4, 5});
  EXPECT_TRUE(tensors_near(conv(x, f32({1, 1, 3}, {1, 0, -1}), {{"pads", Ints{1, 1}}}),
                           f32({1, 1, 5}, {-2, -2, -2, -2, 4}), kExact, 0));
}

TEST(Conv, ThreeDimensional) {
  const Tensor x = f32({1, 1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  const Tensor ones = f32({2, 1, 2, 2, 2}, std::vector<float>(16, 1.f));
  EXPECT_TRUE(
      tensors_near(conv(x, ones, {}, f32({2}, {0, 1})), f32({1, 2, 1, 1, 1}, {36, 37}), kExact, 0));
  // With padding on the depth only: the two output planes see one input plane each.
  EXPECT_TRUE(
      tensors_near(conv(x, f32({1, 1, 2, 1, 1}, {1, 1}), {{"pads", Ints{1, 0, 0, 1, 0, 0}}}),
                   f32({1, 1, 3, 2, 2}, {1, 2, 3, 4, 6, 8, 10, 12, 5, 6, 7, 8}), kExact, 0));
}

TEST(Conv, Float64) {
  const Tensor x = Tensor::from_vector<double>({1, 1, 1, 3}, {1, 2, 3});
  const Tensor w = Tensor::from_vector<double>({1, 1, 1, 2}, {0.5, 0.25});
  const Tensor y = conv(x, w);
  ASSERT_EQ(y.dtype(), DType::kFloat64);
  EXPECT_TRUE(tensors_near(y, Tensor::from_vector<double>({1, 1, 1, 2}, {1, 1.75}), kExact, 0));
}

TEST(Conv, EmptyBatch) {
  const Tensor y = conv(f32({0, 1, 3, 3}, {}), f32({2, 1, 2, 2}, std::vector<float>(8, 1.f)));
  EXPECT_EQ(y.shape(), (Shape{0, 2, 2, 2}));
}

// The N-D loop nest must agree with the 2-D one on every 2-D configuration.
TEST(Conv, NdPathMatches2dPath) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(-1.f, 1.f);
  ref::ConvGeometry g;
  g.batch = 2;
  g.group = 2;
  g.in_channels = 4;
  g.out_channels = 6;
  g.in_size = {7, 6};
  g.kernel = {3, 2};
  g.strides = {2, 1};
  g.dilations = {1, 2};
  g.pads_begin = {1, 0};
  // One unit of end padding along each dim: (7 + 1 + 1 - 3) / 2 + 1 = 4 and 6 + 1 - 3 + 1 = 5.
  g.out_size = {4, 5};
  std::vector<float> x(2 * 4 * 7 * 6), w(6 * 2 * 3 * 2), bias(6);
  for (float& v : x) v = value(rng);
  for (float& v : w) v = value(rng);
  for (float& v : bias) v = value(rng);
  std::vector<float> y_2d(2 * 6 * 4 * 5), y_nd(y_2d.size());
  ref::conv(g, x.data(), w.data(), bias.data(), y_2d.data());
  ref::conv_nd(g, x.data(), w.data(), bias.data(), y_nd.data());
  EXPECT_TRUE(tensors_near(f32({int64_t(y_nd.size())}, y_nd), f32({int64_t(y_2d.size())}, y_2d),
                           kFloatSumTolerance, 0));
}

TEST(Conv, InfersShapesWithUnknownDims) {
  const Node node = make_node("Conv", {"X", "W"}, {"Y"}, {{"strides", Ints{2, 2}}});
  auto out = infer(node, {float_value({Dim("N"), 3, Dim(), 10}), float_value({4, 3, 3, 3})});
  EXPECT_EQ(out[0].dtype, DType::kFloat32);
  ASSERT_TRUE(out[0].shape.has_value());
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N"), 4, Dim(), 4}));
  // Unknown weights: only the rank and the batch are known.
  out = infer(node, {float_value({Dim("N"), 3, 8, 8}), ValueInfo{DType::kFloat32, {}, ""}});
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N"), Dim(), Dim(), Dim()}));
  // Unknown input: the output channels come from W.
  out = infer(node, {ValueInfo{DType::kFloat32, {}, ""}, float_value({4, 3, 3, 3})});
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim(), 4, Dim(), Dim()}));
  // SAME padding on an unknown size leaves that size unknown.
  const Node same = make_node("Conv", {"X", "W"}, {"Y"}, {{"auto_pad", std::string("SAME_UPPER")}});
  out = infer(same, {float_value({1, 3, Dim(), 10}), float_value({4, 3, 3, 3})});
  EXPECT_EQ(*out[0].shape, (SymbolicShape{1, 4, Dim(), 10}));
}

TEST(Conv, ChannelMismatchIsAnError) {
  const std::string message = error_of(
      [] {
        conv(f32({1, 3, 4, 4}, std::vector<float>(48)), f32({2, 2, 3, 3}, std::vector<float>(36)));
      },
      ErrorKind::kInvalidModel);
  EXPECT_NE(message.find("'Conv_under_test'"), std::string::npos) << message;
  EXPECT_NE(message.find("X has 3 channels, expected W.shape[1] * group = 2 * 1 = 2"),
            std::string::npos)
      << message;
}

TEST(Conv, OutputChannelsNotDivisibleByGroupIsAnError) {
  const std::string message = error_of(
      [] {
        conv(f32({1, 2, 3, 3}, std::vector<float>(18)), f32({3, 1, 1, 1}, {1, 1, 1}),
             {{"group", int64_t{2}}});
      },
      ErrorKind::kInvalidModel);
  EXPECT_NE(message.find("W has 3 output channels, which group 2 does not divide"),
            std::string::npos)
      << message;
}

TEST(Conv, KernelLargerThanPaddedInputIsAnErrorAtShapeInference) {
  const Node node = make_node("Conv", {"X", "W"}, {"Y"});
  std::string message = error_of(
      [&] {
        infer(node, {float_value({Dim("N"), 1, 3, 3}), float_value({1, 1, 5, 5})});
      },
      ErrorKind::kInvalidModel);
  EXPECT_NE(message.find("kernel 5x5 is larger than the padded input 3x3"), std::string::npos)
      << message;
  // Dilation counts; padding helps.
  const Node dilated =
      make_node("Conv", {"X", "W"}, {"Y"}, {{"dilations", Ints{2, 2}}, {"pads", Ints{0, 0, 1, 0}}});
  message = error_of(
      [&] {
        infer(dilated, {float_value({1, 1, 4, 4}), float_value({1, 1, 3, 3})});
      },
      ErrorKind::kInvalidModel);
  EXPECT_NE(message.find("dilated kernel 5x5 (kernel 3x3, dilations 2x2) is larger than the "
                         "padded input 5x4"),
            std::string::npos)
      << message;
  // Along an unknown dim nothing is known yet.
  EXPECT_NO_THROW(infer(node, {float_value({1, 1, Dim(), 5}), float_value({1, 1, 5, 5})}));
}

TEST(Conv, BiasOfWrongLengthIsAnError) {
  const std::string message = error_of(
      [] {
        conv(f32({1, 1, 2, 2}, {1, 2, 3, 4}), f32({2, 1, 1, 1}, {1, 1}), {}, f32({3}, {0, 0, 0}));
      },
      ErrorKind::kInvalidModel);
  EXPECT_NE(message.find("bias B has 3 values, expected one per output channel: 2"),
            std::string::npos)
      << message;
}

TEST(Conv, InconsistentAttributesAreErrors) {
  const Tensor x = f32({1, 1, 3, 3}, std::vector<float>(9));
  const Tensor w = f32({1, 1, 2, 2}, std::vector<float>(4));
  EXPECT_NE(error_of(
                [&] {
                  conv(x, w, {{"kernel_shape", Ints{3, 3}}});
                },
                ErrorKind::kInvalidModel)
                .find("attribute 'kernel_shape' 3x3 does not match the spatial dims 2x2 of W"),
            std::string::npos);
  EXPECT_NE(error_of(
                [&] {
                  conv(x, f32({1, 1, 2}, {1, 1}));
                },
                ErrorKind::kInvalidModel)
                .find("W has rank 3 but X has rank 4"),
            std::string::npos);
  error_of([&] { conv(x, w, {{"strides", Ints{1}}}); }, ErrorKind::kInvalidModel);
  error_of([&] { conv(x, w, {{"group", int64_t{0}}}); }, ErrorKind::kInvalidModel);
  error_of([&] { conv(f32({1, 3}, {1, 2, 3}), w); }, ErrorKind::kInvalidModel);
}

TEST(Conv, MixedElementTypesAreAnErrorAndIntegersUnsupported) {
  const Tensor w = f32({1, 1, 1, 1}, {1});
  error_of(
      [&] {
        conv(Tensor::from_vector<double>({1, 1, 1, 1}, {1}), w);
      },
      ErrorKind::kInvalidModel);
  error_of(
      [] {
        conv(Tensor::from_vector<int32_t>({1, 1, 1, 1}, {1}),
             Tensor::from_vector<int32_t>({1, 1, 1, 1}, {1}));
      },
      ErrorKind::kUnsupported);
}

// A kernel must never write a buffer planned with another shape than it computes.
TEST(Conv, KernelRejectsAPlannedOutputShapeItWouldNotWrite) {
  const Tensor x = f32({1, 1, 3, 3}, std::vector<float>(9));
  const Tensor w = f32({1, 1, 2, 2}, std::vector<float>(4));
  const Node node = make_node("Conv", {"X", "W"}, {"Y"});
  KernelContext ctx{node, 17, {}, {}};
  ctx.inputs.push_back(TensorDesc{DType::kFloat32, x.shape(), nullptr, {}});
  ctx.inputs.push_back(TensorDesc{DType::kFloat32, w.shape(), nullptr, {}});
  ctx.outputs.push_back(TensorDesc{DType::kFloat32, {1, 1, 3, 3}, nullptr, {}});
  const std::string message =
      error_of([&] { op_registry().find("", "Conv")->reference(ctx); }, ErrorKind::kInternal);
  EXPECT_NE(message.find("planned with shape [1,1,3,3] but the kernel computes [1,1,2,2]"),
            std::string::npos)
      << message;
}

TEST(ConvTranspose, OneDimensionalStridesAndDilations) {
  const Tensor x = f32({1, 1, 3}, {1, 2, 3});
  const Tensor w = f32({1, 1, 2}, {1, 10});
  EXPECT_TRUE(tensors_near(conv_transpose(x, w), f32({1, 1, 4}, {1, 12, 23, 30}), kExact, 0));
  // Input i and tap k reach output i * stride + k * dilation.
  EXPECT_TRUE(tensors_near(conv_transpose(x, w, {{"strides", Ints{2}}}),
                           f32({1, 1, 6}, {1, 10, 2, 20, 3, 30}), kExact, 0));
  EXPECT_TRUE(tensors_near(conv_transpose(x, w, {{"dilations", Ints{2}}}),
                           f32({1, 1, 5}, {1, 2, 13, 20, 30}), kExact, 0));
}

TEST(ConvTranspose, PadsOutputPaddingAndBias) {
  const Tensor x = f32({1, 1, 3}, {1, 2, 3});
  const Tensor w = f32({1, 1, 2}, {1, 10});
  EXPECT_TRUE(tensors_near(conv_transpose(x, w, {{"strides", Ints{2}}, {"pads", Ints{1, 0}}}),
                           f32({1, 1, 5}, {10, 2, 20, 3, 30}), kExact, 0));
  EXPECT_TRUE(tensors_near(
      conv_transpose(x, w, {{"strides", Ints{2}}, {"output_padding", Ints{1}}}, f32({1}, {0.5f})),
      f32({1, 1, 7}, {1.5f, 10.5f, 2.5f, 20.5f, 3.5f, 30.5f, 0.5f}), kExact, 0));
}

TEST(ConvTranspose, OutputShapeAndAutoPad) {
  const Tensor x = f32({1, 1, 3}, {1, 2, 3});
  const Tensor w = f32({1, 1, 3}, {1, 10, 100});
  // Full output: [1, 10, 102, 20, 203, 30, 300]; SAME wants 3 * 2 = 6, one unit of padding.
  EXPECT_TRUE(tensors_near(
      conv_transpose(x, w, {{"strides", Ints{2}}, {"auto_pad", std::string("SAME_UPPER")}}),
      f32({1, 1, 6}, {1, 10, 102, 20, 203, 30}), kExact, 0));
  EXPECT_TRUE(tensors_near(
      conv_transpose(x, w, {{"strides", Ints{2}}, {"auto_pad", std::string("SAME_LOWER")}}),
      f32({1, 1, 6}, {10, 102, 20, 203, 30, 300}), kExact, 0));
  // An explicit output_shape without auto_pad takes the odd unit from the start.
  EXPECT_TRUE(tensors_near(conv_transpose(x, w, {{"strides", Ints{2}}, {"output_shape", Ints{6}}}),
                           f32({1, 1, 6}, {10, 102, 20, 203, 30, 300}), kExact, 0));
  // Larger than the full output: zeros at the end.
  EXPECT_TRUE(tensors_near(conv_transpose(x, w, {{"strides", Ints{2}}, {"output_shape", Ints{8}}}),
                           f32({1, 1, 8}, {1, 10, 102, 20, 203, 30, 300, 0}), kExact, 0));
  // Some exporters give the whole shape.
  EXPECT_EQ(conv_transpose(x, w, {{"output_shape", Ints{1, 1, 5}}}).shape(), (Shape{1, 1, 5}));
}

TEST(ConvTranspose, GroupsAndTwoDimensions) {
  // W is [C, M / group, kernel...]: each input channel feeds its own output channel here.
  EXPECT_TRUE(tensors_near(
      conv_transpose(f32({1, 2, 1}, {1, 2}), f32({2, 1, 1}, {3, 5}), {{"group", int64_t{2}}}),
      f32({1, 2, 1}, {3, 10}), kExact, 0));
  EXPECT_TRUE(
      tensors_near(conv_transpose(f32({1, 1, 2, 2}, {1, 2, 3, 4}), f32({1, 1, 2, 2}, {1, 1, 1, 1})),
                   f32({1, 1, 3, 3}, {1, 3, 2, 4, 10, 6, 3, 7, 4}), kExact, 0));
}

TEST(ConvTranspose, ThreeDimensional) {
  const Tensor y = conv_transpose(f32({1, 1, 1, 1, 2}, {1, 2}), f32({1, 2, 1, 2, 1}, {1, 2, 3, 4}));
  // Output channel m, position (0, k, i): x[i] * w[m][k].
  EXPECT_TRUE(tensors_near(y, f32({1, 2, 1, 2, 2}, {1, 2, 2, 4, 3, 6, 4, 8}), kExact, 0));
}

TEST(ConvTranspose, InfersShapes) {
  const Node node = make_node("ConvTranspose", {"X", "W"}, {"Y"},
                              {{"strides", Ints{3, 2}}, {"output_padding", Ints{1, 1}}});
  const auto out = infer(node, {float_value({Dim("N"), 1, 3, Dim()}), float_value({1, 2, 3, 3})});
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N"), 2, 10, Dim()}));
}

TEST(ConvTranspose, InconsistentShapesAndAttributesAreErrors) {
  const Tensor x = f32({1, 2, 3}, std::vector<float>(6));
  EXPECT_NE(error_of(
                [&] {
                  conv_transpose(x, f32({1, 1, 2}, {1, 1}));
                },
                ErrorKind::kInvalidModel)
                .find("X has 2 channels but W.shape[0] is 1"),
            std::string::npos);
  const Tensor w = f32({2, 1, 2}, std::vector<float>(4));
  EXPECT_NE(error_of(
                [&] {
                  conv_transpose(x, w, {{"output_padding", Ints{1}}});
                },
                ErrorKind::kInvalidModel)
                .find("output_padding 1 along spatial dim 0 must be in [0, 1)"),
            std::string::npos);
  EXPECT_NE(error_of(
                [&] {
                  conv_transpose(x, w, {{"pads", Ints{2, 2}}});
                },
                ErrorKind::kInvalidModel)
                .find("leave no output"),
            std::string::npos);
  error_of([&] { conv_transpose(x, w, {}, f32({2}, {0, 0})); }, ErrorKind::kInvalidModel);
  error_of([&] { conv_transpose(x, w, {{"output_shape", Ints{0}}}); }, ErrorKind::kInvalidModel);
}

}  // namespace
}  // namespace quench
