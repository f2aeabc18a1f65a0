// The requantization helpers (core/requantize.h) and the ONNX quantized and integer ops:
// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, ConvInteger,
// QLinearConv, QLinearMatMul. Hand-checked numbers, shape inference, errors.
#include <cfenv>
#include <cmath>
#include <limits>
#include <random>

#include "core/requantize.h"
#include "quant_test_util.h"

namespace quench {
namespace {

using testing::f32;
using testing::i32;
using testing::make_node;
using testing::run_both;
using testing::run_node;
using testing::s8;
using testing::u8;

Tensor scalar(float v) { return Tensor::scalar(v); }
ValueInfo value(DType type, SymbolicShape shape) { return ValueInfo{type, std::move(shape), ""}; }

std::vector<ValueInfo> infer(const Node& node, const std::vector<ValueInfo>& inputs,
                             int64_t opset = 17) {
  return testing::infer_node(node, inputs, opset);
}

// ---- requantize.h ----

TEST(Requantize, RoundsHalfToEven) {
  EXPECT_EQ(round_half_even(0.5f), 0.f);
  EXPECT_EQ(round_half_even(1.5f), 2.f);
  EXPECT_EQ(round_half_even(2.5f), 2.f);
  EXPECT_EQ(round_half_even(-0.5f), 0.f);
  EXPECT_EQ(round_half_even(-1.5f), -2.f);
  EXPECT_EQ(round_half_even(-2.5f), -2.f);
  EXPECT_EQ(round_half_even(2.4999998f), 2.f);
  // floor(x + 0.5) gets this one wrong: 0.49999997 + 0.5 rounds up to 1.
  EXPECT_EQ(round_half_even(0.49999997f), 0.f);
  EXPECT_EQ(round_half_even(-0.49999997f), 0.f);
  EXPECT_EQ(round_half_even(8388609.f), 8388609.f);  // 2^23 + 1, already an integer
  EXPECT_EQ(round_half_even(1e10f), 1e10f);
  EXPECT_TRUE(std::isnan(round_half_even(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(round_half_even(-std::numeric_limits<float>::infinity()),
            -std::numeric_limits<float>::infinity());
  EXPECT_EQ(round_half_even(2.5), 2.0);
  EXPECT_EQ(round_half_even(4503599627370495.5), 4503599627370496.0);  // 2^52 − 0.5
}

TEST(Requantize, RoundingIgnoresTheFloatingPointRoundingMode) {
  const float values[] = {0.5f, 1.5f, 2.5f, -2.5f, 1.2f, -1.7f, 3.49999976f};
  const float want[] = {0.f, 2.f, 2.f, -2.f, 1.f, -2.f, 3.f};
  for (int mode : {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO, FE_TONEAREST}) {
    std::fesetround(mode);
    for (size_t i = 0; i < std::size(values); ++i) {
      EXPECT_EQ(round_half_even(values[i]), want[i]) << values[i] << " in mode " << mode;
    }
  }
  std::fesetround(FE_TONEAREST);
}

TEST(Requantize, QuantizesWithSaturation) {
  // The ONNX conformance example: y = saturate(round(x / 2) + 128).
  const float x[] = {0.f, 2.f, 3.f, 1000.f, -254.f, -1000.f};
  const uint8_t want[] = {128, 129, 130, 255, 1, 0};
  for (size_t i = 0; i < std::size(x); ++i) EXPECT_EQ(quantize<uint8_t>(x[i], 2.f, 128), want[i]);
  EXPECT_EQ(quantize<int8_t>(-1.5f, 1.f, 0), -2);
  EXPECT_EQ(quantize<int8_t>(127.5f, 1.f, 0), 127);  // 128 saturates
  EXPECT_EQ(quantize<int8_t>(-129.f, 1.f, 0), -128);
  EXPECT_EQ(quantize<int8_t>(10.f, 2.f, -3), 2);
  EXPECT_EQ(quantize<int32_t>(3e9f, 1.f, 0), std::numeric_limits<int32_t>::max());
  EXPECT_EQ(quantize<int32_t>(-3e9f, 1.f, 0), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(quantize<int32_t>(10.f, 2.f, 5), 10);
  // NaN saturates to the lowest value, as in ONNX Runtime.
  EXPECT_EQ(quantize<uint8_t>(std::nanf(""), 1.f, 7), 0);
  EXPECT_EQ(quantize<int8_t>(std::nanf(""), 1.f, 7), -128);
}

TEST(Requantize, QuantizeDividesByTheScale) {
  // 29.949999 / 0.1 = 299.49997 in float, while 29.949999 · (1 / 0.1) = 299.5 would round to
  // 300: ONNX QuantizeLinear divides.
  const float x = 29.94999885559082f;
  EXPECT_EQ(quantize<int32_t>(x, 0.1f, 0), 299);
  EXPECT_EQ(quantize<int32_t>(-x, 0.1f, 0), -299);
}

TEST(Requantize, Dequantizes) {
  EXPECT_EQ(dequantize(3, 2.f, 128), -250.f);
  EXPECT_EQ(dequantize(-128, 0.5f, 127), -127.5f);
  // q − z is formed in int64, so int32 extremes do not overflow.
  EXPECT_EQ(dequantize(std::numeric_limits<int32_t>::max(), 1.f, -1), 2147483648.f);
}

TEST(Requantize, RequantizesAccumulators) {
  EXPECT_EQ(requantize<uint8_t>(100, 0.125f, 10), 22);  // 12.5 → 12
  EXPECT_EQ(requantize<uint8_t>(101, 0.125f, 10), 23);  // 12.625 → 13
  EXPECT_EQ(requantize<uint8_t>(-100, 0.125f, 10), 0);  // −12.5 → −12, −2 saturates
  EXPECT_EQ(requantize<int8_t>(1000, 0.5f, 0), 127);
  EXPECT_EQ(requantize<int8_t>(-3, 0.5f, 0), -2);  // −1.5 → −2
  // float(acc) rounds above 2^24: 2^24 + 1 becomes 2^24 (eq. (35)).
  EXPECT_EQ(requantize<int32_t>(16777217, 1.f, 0), 16777216);
  EXPECT_EQ(requant_multiplier(0.5f, 0.25f, 0.125f), 1.f);
}

TEST(Requantize, AddsTwoScaledOperands) {
  EXPECT_EQ(add_requantize<uint8_t>(3, 0.5f, 2, 0.5f, 0), 2);  // 2.5 → 2
  EXPECT_EQ(add_requantize<uint8_t>(3, 0.5f, 4, 0.5f, 0), 4);  // 3.5 → 4
  EXPECT_EQ(add_requantize<int8_t>(-200, 1.f, -100, 1.f, 10), -128);
  EXPECT_EQ(add_requantize<uint8_t>(1, 0.25f, -1, 0.75f, 100), 100);  // −0.5 → −0
}

TEST(Requantize, ComputesDynamicParameters) {
  DynamicQuantParams p = dynamic_quant_params(-51.f, 204.f);
  EXPECT_EQ(p.scale, 1.f);
  EXPECT_EQ(p.zero_point, 51);
  p = dynamic_quant_params(2.f, 5.1f);  // widened to [0, 5.1]
  EXPECT_FLOAT_EQ(p.scale, 0.02f);
  EXPECT_EQ(p.zero_point, 0);
  p = dynamic_quant_params(-4.f, -1.f);  // widened to [−4, 0]
  EXPECT_EQ(p.zero_point, 255);
  p = dynamic_quant_params(0.f, 0.f);  // an empty range: scale 1, as in ONNX Runtime
  EXPECT_EQ(p.scale, 1.f);
  EXPECT_EQ(p.zero_point, 0);
  constexpr float kInf = std::numeric_limits<float>::infinity();
  p = dynamic_quant_params(-kInf, 3.f);  // −min / s = inf / inf: defined as 255
  EXPECT_EQ(p.scale, kInf);
  EXPECT_EQ(p.zero_point, 255);
  p = dynamic_quant_params(-2.f, kInf);
  EXPECT_EQ(p.zero_point, 0);
}

TEST(Requantize, WrapsSumsToInt32) {
  EXPECT_EQ(wrap_to_int32(int64_t{1} << 31), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(wrap_to_int32(-5), -5);
}

// ---- QuantizeLinear, DequantizeLinear ----

TEST(QuantizeLinear, DefaultsToUint8WithZeroPointZero) {
  const Node node = make_node("QuantizeLinear", {"x", "s"}, {"y"});
  const Tensor y =
      run_both(node, {f32({6}, {-1.f, 0.4f, 0.5f, 1.5f, 2.5f, 300.f}), scalar(1.f)})[0];
  EXPECT_TRUE(y.equals(u8({6}, {0, 0, 0, 2, 2, 255})));
}

TEST(QuantizeLinear, Int8WithZeroPoint) {
  const Node node = make_node("QuantizeLinear", {"x", "s", "z"}, {"y"});
  const Tensor y =
      run_both(node, {f32({5}, {-130.f, -1.5f, 0.f, 1.5f, 200.f}), scalar(1.f), s8({}, {-1})})[0];
  EXPECT_TRUE(y.equals(s8({5}, {-128, -3, -1, 1, 127})));
}

TEST(QuantizeLinear, Int32Input) {
  const Node node = make_node("QuantizeLinear", {"x", "s", "z"}, {"y"});
  const Tensor y = run_both(node, {i32({2}, {3, -3}), scalar(2.f), u8({}, {128})})[0];
  EXPECT_TRUE(y.equals(u8({2}, {130, 126})));
}

TEST(QuantizeLinear, PerAxis) {
  const Tensor x = f32({2, 2, 2}, {1, 2, 2, 4, 3, 4, 6, 8});
  const Tensor scales = f32({2}, {1.f, 2.f});
  const Tensor zero_points = u8({2}, {0, 10});
  const Tensor want = u8({2, 2, 2}, {1, 2, 11, 12, 3, 4, 13, 14});
  for (int64_t axis : {1, -2}) {
    const Node node = make_node("QuantizeLinear", {"x", "s", "z"}, {"y"}, {{"axis", axis}});
    EXPECT_TRUE(run_both(node, {x, scales, zero_points})[0].equals(want)) << axis;
  }
  // The default axis is 1.
  const Node node = make_node("QuantizeLinear", {"x", "s", "z"}, {"y"});
  EXPECT_TRUE(run_both(node, {x, scales, zero_points})[0].equals(want));
}

TEST(QuantizeLinear, EmptyTensor) {
  const Node node = make_node("QuantizeLinear", {"x", "s"}, {"y"});
  const Tensor y = run_node(node, {Tensor::zeros(DType::kFloat32, {0, 3}), scalar(1.f)})[0];
  EXPECT_EQ(y.shape(), (Shape{0, 3}));
  EXPECT_EQ(y.dtype(), DType::kUInt8);
}

TEST(QuantizeLinear, InfersTypeAndShape) {
  const Node node = make_node("QuantizeLinear", {"x", "s", "z"}, {"y"});
  auto out = infer(node, {value(DType::kFloat32, {Dim("N"), 3}), value(DType::kFloat32, {}),
                          value(DType::kInt8, {})});
  EXPECT_EQ(out[0].dtype, DType::kInt8);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N"), 3}));
  const Node no_zero_point = make_node("QuantizeLinear", {"x", "s"}, {"y"});
  out = infer(no_zero_point,
              {ValueInfo{DType::kFloat32, std::nullopt, ""}, value(DType::kFloat32, {})});
  EXPECT_EQ(out[0].dtype, DType::kUInt8);
  EXPECT_FALSE(out[0].shape.has_value());
}

TEST(QuantizeLinear, RejectsBadParameters) {
  const Node node = make_node("QuantizeLinear", {"x", "s", "z"}, {"y"}, {{"axis", int64_t{1}}});
  const auto x = value(DType::kFloat32, {2, 3});
  // Per-axis parameters need opset 13.
  EXPECT_THROW(infer(node, {x, value(DType::kFloat32, {3}), value(DType::kUInt8, {3})}, 10), Error);
  // Wrong length for axis 1.
  EXPECT_THROW(infer(node, {x, value(DType::kFloat32, {2}), value(DType::kUInt8, {2})}), Error);
  // Zero point and scale of different shapes; a 2-D scale.
  EXPECT_THROW(infer(node, {x, value(DType::kFloat32, {3}), value(DType::kUInt8, {})}), Error);
  EXPECT_THROW(infer(node, {x, value(DType::kFloat32, {1, 3}), value(DType::kUInt8, {1, 3})}),
               Error);
  // Axis out of range, zero point of a wrong type, x of a wrong type.
  const Node bad_axis = make_node("QuantizeLinear", {"x", "s", "z"}, {"y"}, {{"axis", int64_t{2}}});
  EXPECT_THROW(infer(bad_axis, {x, value(DType::kFloat32, {3}), value(DType::kUInt8, {3})}), Error);
  EXPECT_THROW(infer(node, {x, value(DType::kFloat32, {}), value(DType::kInt32, {})}), Error);
  EXPECT_THROW(infer(node, {value(DType::kInt64, {2}), value(DType::kFloat32, {}),
                            value(DType::kUInt8, {})}),
               Error);
  EXPECT_THROW(run_node(node, {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2}, {1, 1}), u8({2}, {0, 0})}),
               Error);
}

TEST(DequantizeLinear, AllTypes) {
  const Node node = make_node("DequantizeLinear", {"x", "s", "z"}, {"y"});
  EXPECT_TRUE(run_both(node, {u8({4}, {0, 3, 128, 255}), scalar(2.f), u8({}, {128})})[0].equals(
      f32({4}, {-256.f, -250.f, 0.f, 254.f})));
  EXPECT_TRUE(run_both(node, {s8({3}, {-128, 0, 127}), scalar(0.5f), s8({}, {-1})})[0].equals(
      f32({3}, {-63.5f, 0.5f, 64.f})));
  const Node no_zero_point = make_node("DequantizeLinear", {"x", "s"}, {"y"});
  EXPECT_TRUE(run_both(no_zero_point, {i32({2}, {-5, 7}), scalar(0.5f)})[0].equals(
      f32({2}, {-2.5f, 3.5f})));
}

TEST(DequantizeLinear, PerAxis) {
  const Node node = make_node("DequantizeLinear", {"x", "s", "z"}, {"y"}, {{"axis", int64_t{0}}});
  const Tensor y =
      run_both(node, {s8({2, 2}, {1, 2, 3, 4}), f32({2}, {1.f, 0.5f}), s8({2}, {1, -2})})[0];
  EXPECT_TRUE(y.equals(f32({2, 2}, {0.f, 1.f, 2.5f, 3.f})));
}

TEST(DequantizeLinear, RejectsMismatchedZeroPointType) {
  const Node node = make_node("DequantizeLinear", {"x", "s", "z"}, {"y"});
  EXPECT_THROW(
      infer(node, {value(DType::kUInt8, {2}), value(DType::kFloat32, {}), value(DType::kInt8, {})}),
      Error);
  EXPECT_THROW(infer(node, {value(DType::kFloat32, {2}), value(DType::kFloat32, {}),
                            value(DType::kFloat32, {})}),
               Error);
}

TEST(DynamicQuantizeLinear, QuantizesWithTheRangeOfItsInput) {
  const Node node = make_node("DynamicQuantizeLinear", {"x"}, {"y", "s", "z"});
  // Range [−51, 204]: scale 1, zero point 51; 0.5 and −0.5 round to 0.
  auto out = run_node(node, {f32({5}, {-51.f, 204.f, 0.5f, -0.5f, 10.4f})});
  EXPECT_TRUE(out[0].equals(u8({5}, {0, 255, 51, 51, 61})));
  EXPECT_EQ(out[1].data<float>()[0], 1.f);
  EXPECT_EQ(out[1].shape(), Shape{});
  EXPECT_EQ(out[2].data<uint8_t>()[0], 51);
  // All zeros and empty inputs: scale 1, zero point 0.
  out = run_node(node, {f32({3}, {0.f, 0.f, 0.f})});
  EXPECT_TRUE(out[0].equals(u8({3}, {0, 0, 0})));
  EXPECT_EQ(out[1].data<float>()[0], 1.f);
  out = run_node(node, {Tensor::zeros(DType::kFloat32, {0})});
  EXPECT_EQ(out[0].shape(), Shape{0});
  EXPECT_EQ(out[2].data<uint8_t>()[0], 0);
  EXPECT_THROW(infer(node, {value(DType::kInt32, {2})}), Error);
}

// ---- MatMulInteger ----

TEST(MatMulInteger, PerColumnAndPerRowZeroPoints) {
  const Tensor a = u8({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = s8({3, 2}, {1, -1, 0, 2, -3, 4});
  // (A − 1) · (B − [0, 1]) = [[0,1,2],[3,4,5]] · [[1,−2],[0,1],[−3,3]].
  const Node node = make_node("MatMulInteger", {"a", "b", "za", "zb"}, {"y"});
  EXPECT_TRUE(run_both(node, {a, b, u8({}, {1}), s8({2}, {0, 1})})[0].equals(
      i32({2, 2}, {-6, 7, -12, 13})));
  // Per row: row 1 uses zero point 2, so its A row is [2, 3, 4].
  EXPECT_TRUE(run_both(node, {a, b, u8({2}, {1, 2}), s8({2}, {0, 1})})[0].equals(
      i32({2, 2}, {-6, 7, -10, 11})));
  // Without zero points.
  const Node plain = make_node("MatMulInteger", {"a", "b"}, {"y"});
  EXPECT_TRUE(run_both(plain, {a, b})[0].equals(i32({2, 2}, {-8, 15, -14, 30})));
}

TEST(MatMulInteger, BroadcastsBatchesAndVectors) {
  const Node node = make_node("MatMulInteger", {"a", "b"}, {"y"});
  const Tensor b = u8({3, 2}, {1, 0, 0, 1, 1, 1});
  // A [2, 1, 3] against B [3, 2]: each batch is one row.
  EXPECT_TRUE(run_both(node, {u8({2, 1, 3}, {1, 2, 3, 4, 5, 6}), b})[0].equals(
      i32({2, 1, 2}, {4, 5, 10, 11})));
  // A 1-D: a row vector, the dim is dropped.
  EXPECT_TRUE(run_both(node, {u8({3}, {1, 2, 3}), b})[0].equals(i32({2}, {4, 5})));
  // Per-column zero points per batch of B: [2, 1, 2].
  const Node zp = make_node("MatMulInteger", {"a", "b", "", "zb"}, {"y"});
  const Tensor y =
      run_both(zp, {u8({1, 1, 3}, {1, 1, 1}), u8({2, 3, 2}, {1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1}),
                    Tensor(), u8({2, 1, 2}, {0, 1, 1, 0})})[0];
  EXPECT_TRUE(y.equals(i32({2, 1, 2}, {2, -1, -1, 2})));
}

TEST(MatMulInteger, InfersAndRejects) {
  const Node node = make_node("MatMulInteger", {"a", "b", "za", "zb"}, {"y"});
  auto out = infer(node, {value(DType::kUInt8, {Dim("N"), 4, 3}), value(DType::kInt8, {3, 5}),
                          value(DType::kUInt8, {}), value(DType::kInt8, {5})});
  EXPECT_EQ(out[0].dtype, DType::kInt32);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N"), 4, 5}));
  EXPECT_THROW(infer(node, {value(DType::kUInt8, {4, 3}), value(DType::kInt8, {2, 5}),
                            value(DType::kUInt8, {}), value(DType::kInt8, {5})}),
               Error);
  // b's zero points per column need N = 5 values.
  EXPECT_THROW(infer(node, {value(DType::kUInt8, {4, 3}), value(DType::kInt8, {3, 5}),
                            value(DType::kUInt8, {}), value(DType::kInt8, {4})}),
               Error);
  // a's zero point of another type than A.
  EXPECT_THROW(infer(node, {value(DType::kUInt8, {4, 3}), value(DType::kInt8, {3, 5}),
                            value(DType::kInt8, {}), value(DType::kInt8, {5})}),
               Error);
  EXPECT_THROW(run_node(node, {u8({2, 3}, {1, 2, 3, 4, 5, 6}), u8({3, 1}, {1, 2, 3}),
                               u8({3}, {1, 2, 3}), u8({}, {0})}),
               Error);
}

// ---- ConvInteger ----

TEST(ConvInteger, PaddingReadsTheZeroPoint) {
  // x − 2 = [[1, 2], [3, 4]] with one unit of padding all round, a 2x2 filter of ones.
  const Node node = make_node("ConvInteger", {"x", "w", "zx"}, {"y"},
                              {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  const Tensor y = run_both(
      node, {u8({1, 1, 2, 2}, {3, 4, 5, 6}), u8({1, 1, 2, 2}, {1, 1, 1, 1}), u8({}, {2})})[0];
  EXPECT_TRUE(y.equals(i32({1, 1, 3, 3}, {1, 3, 2, 4, 10, 6, 3, 7, 4})));
}

TEST(ConvInteger, PerChannelWeightZeroPointsGroupsAndStrides) {
  const Node per_channel = make_node("ConvInteger", {"x", "w", "", "zw"}, {"y"});
  // w − z_w = [0, −2].
  const Tensor y = run_both(per_channel, {u8({1, 1, 1, 2}, {7, 9}), s8({2, 1, 1, 1}, {5, -3}),
                                          Tensor(), s8({2}, {5, -1})})[0];
  EXPECT_TRUE(y.equals(i32({1, 2, 1, 2}, {0, 0, -14, -18})));
  const Node grouped = make_node("ConvInteger", {"x", "w"}, {"y"},
                                 {{"group", int64_t{2}}, {"strides", std::vector<int64_t>{1, 2}}});
  const Tensor g = run_both(
      grouped, {u8({1, 2, 1, 4}, {1, 2, 3, 4, 5, 6, 7, 8}), s8({2, 1, 1, 2}, {1, 1, 1, -1})})[0];
  EXPECT_TRUE(g.equals(i32({1, 2, 1, 2}, {3, 7, -1, -1})));
}

// A 3-D convolution with dilations, pads and groups against the float Conv on the centered
// values: small integer sums are exact in float, so the two must agree exactly.
TEST(ConvInteger, MatchesFloatConvIn3D) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255), sbyte(-128, 127);
  const Shape x_shape{2, 4, 5, 6, 4}, w_shape{6, 2, 2, 3, 2};
  std::vector<uint8_t> x(shape_numel(x_shape));
  std::vector<int8_t> w(shape_numel(w_shape));
  for (auto& v : x) v = static_cast<uint8_t>(byte(rng));
  for (auto& v : w) v = static_cast<int8_t>(sbyte(rng));
  const std::initializer_list<std::pair<std::string, AttributeValue>> attrs = {
      {"group", int64_t{2}},
      {"dilations", std::vector<int64_t>{2, 1, 1}},
      {"strides", std::vector<int64_t>{1, 2, 1}},
      {"pads", std::vector<int64_t>{1, 0, 1, 0, 2, 1}}};
  const Node node = make_node("ConvInteger", {"x", "w", "zx", "zw"}, {"y"}, attrs);
  const Tensor y = run_both(node, {Tensor::from_vector(x_shape, x), Tensor::from_vector(w_shape, w),
                                   u8({}, {100}), s8({}, {3})})[0];
  std::vector<float> xf(x.size()), wf(w.size());
  for (size_t i = 0; i < x.size(); ++i) xf[i] = float(x[i]) - 100.f;
  for (size_t i = 0; i < w.size(); ++i) wf[i] = float(w[i]) - 3.f;
  const Node float_conv = make_node("Conv", {"x", "w"}, {"y"}, attrs);
  // Padding in the float Conv adds 0, the centered zero point.
  const Tensor want =
      run_node(float_conv, {Tensor::from_vector(x_shape, xf), Tensor::from_vector(w_shape, wf)})[0];
  ASSERT_EQ(y.shape(), want.shape());
  for (int64_t i = 0; i < y.numel(); ++i) {
    ASSERT_EQ(static_cast<float>(y.data<int32_t>()[i]), want.data<float>()[i]) << i;
  }
}

TEST(ConvInteger, InfersAndRejects) {
  const Node node = make_node("ConvInteger", {"x", "w", "zx", "zw"}, {"y"});
  auto out =
      infer(node, {value(DType::kUInt8, {Dim("N"), 3, 8, 8}), value(DType::kInt8, {4, 3, 3, 3}),
                   value(DType::kUInt8, {}), value(DType::kInt8, {4})});
  EXPECT_EQ(out[0].dtype, DType::kInt32);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N"), 4, 6, 6}));
  // x's zero point must be per tensor; w's needs one per output channel.
  EXPECT_THROW(infer(node, {value(DType::kUInt8, {1, 3, 8, 8}), value(DType::kInt8, {4, 3, 3, 3}),
                            value(DType::kUInt8, {3}), value(DType::kInt8, {4})}),
               Error);
  EXPECT_THROW(infer(node, {value(DType::kUInt8, {1, 3, 8, 8}), value(DType::kInt8, {4, 3, 3, 3}),
                            value(DType::kUInt8, {}), value(DType::kInt8, {3})}),
               Error);
  EXPECT_THROW(infer(node, {value(DType::kFloat32, {1, 3, 8, 8}), value(DType::kInt8, {4, 3, 3, 3}),
                            value(DType::kUInt8, {}), value(DType::kInt8, {4})}),
               Error);
  EXPECT_THROW(infer(node, {value(DType::kUInt8, {1, 2, 8, 8}), value(DType::kInt8, {4, 3, 3, 3}),
                            value(DType::kUInt8, {}), value(DType::kInt8, {4})}),
               Error);
}

// ---- QLinearConv ----

TEST(QLinearConv, RequantizesPerChannelWithBias) {
  // x − z_x = [0, 10, 20, 30]; channel 0: w 2, bias 1, M = 0.5·0.25/0.25 = 0.5; channel 1:
  // w −4, bias −3, M = 0.5·0.5/0.25 = 1.
  const Node node =
      make_node("QLinearConv", {"x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "b"}, {"y"});
  const std::vector<Tensor> inputs{u8({1, 1, 2, 2}, {10, 20, 30, 40}),
                                   scalar(0.5f),
                                   u8({}, {10}),
                                   s8({2, 1, 1, 1}, {2, -4}),
                                   f32({2}, {0.25f, 0.5f}),
                                   s8({2}, {0, 0}),
                                   scalar(0.25f),
                                   u8({}, {100}),
                                   i32({2}, {1, -3})};
  EXPECT_TRUE(
      run_both(node, inputs)[0].equals(u8({1, 2, 2, 2}, {100, 110, 120, 130, 97, 57, 17, 0})));
  // The same with an int8 output (zero point −100): channel 1 now saturates at −128 twice.
  std::vector<Tensor> signed_out = inputs;
  signed_out[7] = s8({}, {-100});
  EXPECT_TRUE(run_both(node, signed_out)[0].equals(
      s8({1, 2, 2, 2}, {-100, -90, -80, -70, -103, -128, -128, -128})));
}

TEST(QLinearConv, InfersAndRejects) {
  const Node node = make_node("QLinearConv", {"x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "b"},
                              {"y"}, {{"strides", std::vector<int64_t>{2, 2}}});
  const auto f = value(DType::kFloat32, {});
  auto out = infer(
      node, {value(DType::kUInt8, {1, 3, 8, 8}), f, value(DType::kUInt8, {}),
             value(DType::kInt8, {4, 3, 3, 3}), value(DType::kFloat32, {4}),
             value(DType::kInt8, {4}), f, value(DType::kInt8, {}), value(DType::kInt32, {4})});
  EXPECT_EQ(out[0].dtype, DType::kInt8);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{1, 4, 3, 3}));
  // A float bias; a per-channel y scale.
  EXPECT_THROW(infer(node, {value(DType::kUInt8, {1, 3, 8, 8}), f, value(DType::kUInt8, {}),
                            value(DType::kInt8, {4, 3, 3, 3}), f, value(DType::kInt8, {}), f,
                            value(DType::kInt8, {}), value(DType::kFloat32, {4})}),
               Error);
  EXPECT_THROW(infer(node, {value(DType::kUInt8, {1, 3, 8, 8}), f, value(DType::kUInt8, {}),
                            value(DType::kInt8, {4, 3, 3, 3}), f, value(DType::kInt8, {}),
                            value(DType::kFloat32, {4}), value(DType::kInt8, {4}),
                            value(DType::kInt32, {4})}),
               Error);
}

// ---- QLinearMatMul ----

TEST(QLinearMatMul, PerColumnScales) {
  // (a − 1)·(b − 0) = [[0,1,2],[3,4,5]] · [[1,−1],[0,2],[−3,4]] = [[−6, 10], [−12, 25]];
  // M = 0.5·[0.5, 0.25]/0.25 = [1, 0.5]: column 1 is halved (5 and 12.5 → 12).
  const Node node =
      make_node("QLinearMatMul", {"a", "sa", "za", "b", "sb", "zb", "sy", "zy"}, {"y"});
  const Tensor y = run_both(node, {u8({2, 3}, {1, 2, 3, 4, 5, 6}), scalar(0.5f), u8({}, {1}),
                                   s8({3, 2}, {1, -1, 0, 2, -3, 4}), f32({2}, {0.5f, 0.25f}),
                                   s8({2}, {0, 0}), scalar(0.25f), u8({}, {20})})[0];
  EXPECT_TRUE(y.equals(u8({2, 2}, {14, 25, 8, 32})));
}

TEST(QLinearMatMul, PerRowScalesOfA) {
  // Row 1 of A has scale 1 instead of 0.5, so its outputs double.
  const Node node =
      make_node("QLinearMatMul", {"a", "sa", "za", "b", "sb", "zb", "sy", "zy"}, {"y"});
  const Tensor y =
      run_both(node, {u8({2, 2}, {1, 2, 3, 4}), f32({2}, {0.5f, 1.f}), u8({2}, {0, 0}),
                      u8({2, 1}, {1, 1}), scalar(1.f), u8({}, {0}), scalar(0.5f), u8({}, {0})})[0];
  EXPECT_TRUE(y.equals(u8({2, 1}, {3, 14})));
}

TEST(QLinearMatMul, InfersAndRejects) {
  const Node node =
      make_node("QLinearMatMul", {"a", "sa", "za", "b", "sb", "zb", "sy", "zy"}, {"y"});
  const auto f = value(DType::kFloat32, {});
  auto out = infer(node, {value(DType::kUInt8, {Dim("B"), 4, 3}), f, value(DType::kUInt8, {}),
                          value(DType::kInt8, {3, 5}), value(DType::kFloat32, {5}),
                          value(DType::kInt8, {5}), f, value(DType::kUInt8, {})});
  EXPECT_EQ(out[0].dtype, DType::kUInt8);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("B"), 4, 5}));
  EXPECT_THROW(infer(node, {value(DType::kUInt8, {4, 3}), f, value(DType::kInt8, {}),
                            value(DType::kInt8, {3, 5}), f, value(DType::kInt8, {}), f,
                            value(DType::kUInt8, {})}),
               Error);
  // y's parameters per tensor only.
  EXPECT_THROW(infer(node, {value(DType::kUInt8, {4, 3}), f, value(DType::kUInt8, {}),
                            value(DType::kInt8, {3, 5}), f, value(DType::kInt8, {}),
                            value(DType::kFloat32, {5}), value(DType::kUInt8, {5})}),
               Error);
}

}  // namespace
}  // namespace quench
