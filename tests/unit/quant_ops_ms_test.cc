// The com.microsoft quantized ops of ONNX Runtime's quantizer: QLinearAdd, QLinearMul,
// QLinearSigmoid, QLinearLeakyRelu, QLinearConcat, QLinearSoftmax, QGemm,
// QLinearGlobalAveragePool, QLinearAveragePool, DynamicQuantizeLSTM. Hand-checked numbers (and
// for the LSTM, ONNX Runtime's), shape inference, errors.
#include <cmath>
#include <random>

#include "quant_test_util.h"

namespace quench {
namespace {

using testing::f32;
using testing::i32;
using testing::run_node;
using testing::s8;
using testing::u8;

constexpr char kMs[] = "com.microsoft";

Tensor scalar(float v) { return Tensor::scalar(v); }
ValueInfo value(DType type, SymbolicShape shape) { return ValueInfo{type, std::move(shape), ""}; }

Node ms_node(std::string op, std::vector<std::string> inputs, std::vector<std::string> outputs,
             std::initializer_list<std::pair<std::string, AttributeValue>> attrs = {}) {
  return testing::make_node(std::move(op), std::move(inputs), std::move(outputs), attrs, kMs);
}

std::vector<ValueInfo> infer(const Node& node, const std::vector<ValueInfo>& inputs) {
  return testing::infer_node(node, inputs, 1);
}

// Prepared and run-time parameters must agree bit for bit (com.microsoft opset 1).
std::vector<Tensor> run_both(const Node& node, const std::vector<Tensor>& inputs) {
  return testing::run_both(node, inputs, 1);
}

// ---- QLinearAdd, QLinearMul ----

TEST(QLinearAdd, BroadcastsAndRoundsHalfToEven) {
  // a: real (a − 10)·0.5 = [0, 5, 10, 15]; b (a row, broadcast): 0.25·[5, 3]; c scale 0.5, zero
  // point 3, so y = round((a − 10) + 0.5·b) + 3: 2.5 → 2, 11.5 → 12, 22.5 → 22, 31.5 → 32.
  const Node node = ms_node("QLinearAdd", {"a", "sa", "za", "b", "sb", "zb", "sc", "zc"}, {"y"});
  const Tensor y =
      run_both(node, {u8({2, 2}, {10, 20, 30, 40}), scalar(0.5f), u8({}, {10}), u8({2}, {5, 3}),
                      scalar(0.25f), u8({}, {0}), scalar(0.5f), u8({}, {3})})[0];
  EXPECT_TRUE(y.equals(u8({2, 2}, {5, 15, 25, 35})));
  // Without zero points (all 0), int8 with saturation.
  const Node plain = ms_node("QLinearAdd", {"a", "sa", "", "b", "sb", "", "sc", ""}, {"y"});
  const Tensor z =
      run_both(plain, {s8({3}, {100, -100, 3}), scalar(1.f), Tensor(), s8({3}, {100, -100, 4}),
                       scalar(1.f), Tensor(), scalar(1.f), Tensor()})[0];
  EXPECT_TRUE(z.equals(s8({3}, {127, -128, 7})));
}

TEST(QLinearMul, RequantizesTheProduct) {
  // b − z_b = 4 − 2 = 2; M = 0.5·0.25/0.5 = 0.25, so y = round(a / 2) − 1.
  const Node node = ms_node("QLinearMul", {"a", "sa", "za", "b", "sb", "zb", "sc", "zc"}, {"y"});
  const Tensor y =
      run_both(node, {s8({5}, {-10, 0, 3, 5, -127}), scalar(0.5f), s8({}, {0}), s8({}, {4}),
                      scalar(0.25f), s8({}, {2}), scalar(0.5f), s8({}, {-1})})[0];
  EXPECT_TRUE(y.equals(s8({5}, {-6, -1, 1, 1, -65})));
}

TEST(QLinearBinary, InfersAndRejects) {
  const Node node = ms_node("QLinearAdd", {"a", "sa", "za", "b", "sb", "zb", "sc", "zc"}, {"y"});
  const auto f = value(DType::kFloat32, {});
  const auto z = value(DType::kUInt8, {});
  auto out = infer(node, {value(DType::kUInt8, {Dim("N"), 1, 4}), f, z,
                          value(DType::kUInt8, {3, 1}), f, z, f, z});
  EXPECT_EQ(out[0].dtype, DType::kUInt8);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N"), 3, 4}));
  EXPECT_THROW(
      infer(node, {value(DType::kUInt8, {2, 4}), f, z, value(DType::kUInt8, {3}), f, z, f, z}),
      Error);
  EXPECT_THROW(infer(node, {value(DType::kUInt8, {2}), f, z, value(DType::kInt8, {2}), f,
                            value(DType::kInt8, {}), f, z}),
               Error);
  EXPECT_THROW(infer(node, {value(DType::kUInt8, {2}), value(DType::kFloat32, {2}),
                            value(DType::kUInt8, {2}), value(DType::kUInt8, {2}), f, z, f, z}),
               Error);
}

// ---- QLinearSigmoid, QLinearLeakyRelu ----

TEST(QLinearSigmoid, AppliesTheFunctionToDequantizedValues) {
  // x = 0.1·(q − 128) = [0, −12.8, 12.7, 1]; y = sigmoid(x) · 256: 128, 0, 256 → 255, 187.15.
  const Node node = ms_node("QLinearSigmoid", {"x", "sx", "zx", "sy", "zy"}, {"y"});
  const Tensor y = run_both(node, {u8({4}, {128, 0, 255, 138}), scalar(0.1f), u8({}, {128}),
                                   scalar(1.f / 256), u8({}, {0})})[0];
  EXPECT_TRUE(y.equals(u8({4}, {128, 0, 255, 187})));
}

TEST(QLinearLeakyRelu, ScalesNegativeValues) {
  // x = 0.5·q = [−50, −2.5, 0, 25]; alpha 0.1; y = f(x) / 0.25.
  const Node node =
      ms_node("QLinearLeakyRelu", {"x", "sx", "zx", "sy", "zy"}, {"y"}, {{"alpha", 0.1f}});
  const Tensor y = run_both(
      node, {s8({4}, {-100, -5, 0, 50}), scalar(0.5f), s8({}, {0}), scalar(0.25f), s8({}, {0})})[0];
  EXPECT_TRUE(y.equals(s8({4}, {-20, -1, 0, 100})));
  EXPECT_THROW(
      infer(node, {value(DType::kFloat32, {4}), value(DType::kFloat32, {}), value(DType::kInt8, {}),
                   value(DType::kFloat32, {}), value(DType::kInt8, {})}),
      Error);
}

// ---- QLinearConcat ----

TEST(QLinearConcat, RequantizesEachInput) {
  // Input 2 has scale 0.5: 2.5 → 2, 3.5 → 4 at the output's scale 1.
  const Node node = ms_node("QLinearConcat", {"sy", "zy", "x1", "s1", "z1", "x2", "s2", "z2"},
                            {"y"}, {{"axis", int64_t{-1}}});
  const Tensor y = run_both(node, {scalar(1.f), u8({}, {0}), u8({1, 2}, {10, 20}), scalar(1.f),
                                   u8({}, {0}), u8({1, 2}, {5, 7}), scalar(0.5f), u8({}, {0})})[0];
  EXPECT_TRUE(y.equals(u8({1, 4}, {10, 20, 2, 4})));
  const Node rows = ms_node("QLinearConcat", {"sy", "zy", "x1", "s1", "z1", "x2", "s2", "z2"},
                            {"y"}, {{"axis", int64_t{0}}});
  const Tensor r =
      run_both(rows, {scalar(2.f), s8({}, {1}), s8({1, 2}, {3, 5}), scalar(2.f), s8({}, {1}),
                      s8({2, 2}, {1, 2, 3, 6}), scalar(1.f), s8({}, {0})})[0];
  // Row 0 is copied; rows 1-2: q / 2 + 1 with 1 → 0.5 → 0 and 3 → 1.5 → 2.
  EXPECT_TRUE(r.equals(s8({3, 2}, {3, 5, 1, 2, 3, 4})));
}

TEST(QLinearConcat, InfersAndRejects) {
  const Node node = ms_node("QLinearConcat", {"sy", "zy", "x1", "s1", "z1", "x2", "s2", "z2"},
                            {"y"}, {{"axis", int64_t{1}}});
  const auto f = value(DType::kFloat32, {});
  const auto z = value(DType::kUInt8, {});
  auto out = infer(node, {f, z, value(DType::kUInt8, {Dim("N"), 2, 5}), f, z,
                          value(DType::kUInt8, {Dim("N"), 3, 5}), f, z});
  EXPECT_EQ(out[0].dtype, DType::kUInt8);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N"), 5, 5}));
  EXPECT_THROW(infer(node, {f, z, value(DType::kUInt8, {1, 2, 5}), f, z,
                            value(DType::kUInt8, {1, 3, 4}), f, z}),
               Error);
  EXPECT_THROW(infer(node, {f, z, value(DType::kUInt8, {1, 2, 5}), f, z,
                            value(DType::kInt8, {1, 3, 5}), f, value(DType::kInt8, {})}),
               Error);
  const Node missing =
      ms_node("QLinearConcat", {"sy", "zy", "x1", "s1"}, {"y"}, {{"axis", int64_t{1}}});
  EXPECT_THROW(infer(missing, {f, z, value(DType::kUInt8, {1, 2}), f}), Error);
}

// ---- QLinearSoftmax ----

TEST(QLinearSoftmax, AlongTheLastAxis) {
  // x_scale = ln(3) / 10: a row [10, 0, 0] has exponentials [1, 1/3, 1/3], so p = [0.6, 0.2, 0.2]
  // and y = p·256 = [153.6, 51.2, 51.2]; equal values give 256/3 = 85.3.
  const float x_scale = std::log(3.f) / 10.f;
  const Node node = ms_node("QLinearSoftmax", {"x", "sx", "zx", "sy", "zy"}, {"y"},
                            {{"axis", int64_t{-1}}, {"opset", int64_t{13}}});
  const Tensor y = run_both(node, {u8({2, 3}, {0, 0, 0, 10, 0, 0}), scalar(x_scale), u8({}, {0}),
                                   scalar(1.f / 256), u8({}, {0})})[0];
  EXPECT_TRUE(y.equals(u8({2, 3}, {85, 85, 85, 154, 51, 51})));
  // int8 with the output zero point −128, as ONNX Runtime's quantizer sets it.
  const Tensor s = run_both(node, {s8({1, 3}, {-5, -5, -5}), scalar(x_scale), s8({}, {0}),
                                   scalar(1.f / 256), s8({}, {-128})})[0];
  EXPECT_TRUE(s.equals(s8({1, 3}, {-43, -43, -43})));
}

TEST(QLinearSoftmax, OpsetAttributeDecidesTheAxisSemantics) {
  const float x_scale = std::log(3.f) / 10.f;
  const Tensor x = u8({1, 2, 2}, {10, 0, 0, 0});
  const std::vector<Tensor> params{scalar(x_scale), u8({}, {0}), scalar(1.f / 256), u8({}, {0})};
  // Opset 13: along axis 1 alone; columns [10, 0] → [0.75, 0.25] and [0, 0] → [0.5, 0.5].
  const Node opset13 = ms_node("QLinearSoftmax", {"x", "sx", "zx", "sy", "zy"}, {"y"},
                               {{"axis", int64_t{1}}, {"opset", int64_t{13}}});
  EXPECT_TRUE(run_both(opset13, {x, params[0], params[1], params[2], params[3]})[0].equals(
      u8({1, 2, 2}, {192, 128, 64, 128})));
  // Opset 12: axis 1 coerces to [1, 4]: [1, 1/3, 1/3, 1/3] / 2 → [128, 42.7, 42.7, 42.7]; the
  // default axis is 1 there.
  const Node opset12 =
      ms_node("QLinearSoftmax", {"x", "sx", "zx", "sy", "zy"}, {"y"}, {{"opset", int64_t{12}}});
  EXPECT_TRUE(run_both(opset12, {x, params[0], params[1], params[2], params[3]})[0].equals(
      u8({1, 2, 2}, {128, 43, 43, 43})));
  const Node no_opset = ms_node("QLinearSoftmax", {"x", "sx", "zx", "sy", "zy"}, {"y"});
  EXPECT_THROW(run_node(no_opset, {x, params[0], params[1], params[2], params[3]}, 1), Error);
  const Node bad_axis = ms_node("QLinearSoftmax", {"x", "sx", "zx", "sy", "zy"}, {"y"},
                                {{"axis", int64_t{3}}, {"opset", int64_t{13}}});
  EXPECT_THROW(run_node(bad_axis, {x, params[0], params[1], params[2], params[3]}, 1), Error);
}

// ---- QGemm ----

// A − 1 = [[0,1,2],[3,4,5]]; B (transB: rows are columns) [[1,0,−3],[−1,2,4]]; C = [10, −20];
// A·Bᵀ + C = [[4, −10], [−2, 5]].
std::vector<Tensor> qgemm_inputs(bool quantized) {
  std::vector<Tensor> in{u8({2, 3}, {1, 2, 3, 4, 5, 6}),
                         scalar(0.5f),
                         u8({}, {1}),
                         s8({2, 3}, {1, 0, -3, -1, 2, 4}),
                         f32({2}, {0.5f, 0.25f}),
                         s8({2}, {0, 0}),
                         i32({2}, {10, -20})};
  if (quantized) {
    in.push_back(scalar(0.25f));
    in.push_back(u8({}, {100}));
  }
  return in;
}

TEST(QGemm, QuantizedOutputPerColumnScales) {
  // M = 0.5·[0.5, 0.25]/0.25 = [1, 0.5]: [[104, 95], [98, 102]] (2.5 → 2).
  const Node node = ms_node("QGemm", {"a", "sa", "za", "b", "sb", "zb", "c", "sy", "zy"}, {"y"},
                            {{"transB", int64_t{1}}});
  EXPECT_TRUE(run_both(node, qgemm_inputs(true))[0].equals(u8({2, 2}, {104, 95, 98, 102})));
}

TEST(QGemm, FloatOutputWithAlphaAndTransposedA) {
  // Without y_scale: y = acc · alpha · s_a · s_b[n] = acc · [0.5, 0.25] with alpha 2.
  const Node node = ms_node("QGemm", {"a", "sa", "za", "b", "sb", "zb", "c"}, {"y"},
                            {{"transA", int64_t{1}}, {"transB", int64_t{1}}, {"alpha", 2.f}});
  std::vector<Tensor> in = qgemm_inputs(false);
  in[0] = u8({3, 2}, {1, 4, 2, 5, 3, 6});  // A stored transposed
  EXPECT_TRUE(run_both(node, in)[0].equals(f32({2, 2}, {2.f, -2.5f, -1.f, 1.25f})));
  // B stored [K, N] and C a column [M, 1]: acc = [[−6+10, 10+10], [−12−20, 25−20]].
  const Node plain = ms_node("QGemm", {"a", "sa", "za", "b", "sb", "zb", "c"}, {"y"});
  in = qgemm_inputs(false);
  in[3] = s8({3, 2}, {1, -1, 0, 2, -3, 4});
  in[6] = i32({2, 1}, {10, -20});
  EXPECT_TRUE(run_both(plain, in)[0].equals(f32({2, 2}, {1.f, 2.5f, -8.f, 0.625f})));
}

TEST(QGemm, InfersAndRejects) {
  const Node node = ms_node("QGemm", {"a", "sa", "za", "b", "sb", "zb", "c", "sy", "zy"}, {"y"},
                            {{"transB", int64_t{1}}});
  const auto f = value(DType::kFloat32, {});
  auto out = infer(
      node, {value(DType::kUInt8, {Dim("M"), 3}), f, value(DType::kUInt8, {}),
             value(DType::kInt8, {5, 3}), value(DType::kFloat32, {5}), value(DType::kInt8, {5}),
             value(DType::kInt32, {5}), f, value(DType::kInt8, {})});
  EXPECT_EQ(out[0].dtype, DType::kInt8);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("M"), 5}));
  const Node float_out = ms_node("QGemm", {"a", "sa", "za", "b", "sb", "zb"}, {"y"});
  out = infer(float_out, {value(DType::kUInt8, {2, 3}), f, value(DType::kUInt8, {}),
                          value(DType::kInt8, {3, 4}), f, value(DType::kInt8, {})});
  EXPECT_EQ(out[0].dtype, DType::kFloat32);
  // y_scale without y_zero_point; b's scales of a wrong length; inner dims differ.
  const Node half = ms_node("QGemm", {"a", "sa", "za", "b", "sb", "zb", "", "sy"}, {"y"});
  EXPECT_THROW(
      infer(half, {value(DType::kUInt8, {2, 3}), f, value(DType::kUInt8, {}),
                   value(DType::kInt8, {3, 4}), f, value(DType::kInt8, {}), ValueInfo{}, f}),
      Error);
  EXPECT_THROW(infer(node, {value(DType::kUInt8, {2, 3}), f, value(DType::kUInt8, {}),
                            value(DType::kInt8, {5, 3}), value(DType::kFloat32, {4}),
                            value(DType::kInt8, {4}), value(DType::kInt32, {5}), f,
                            value(DType::kInt8, {})}),
               Error);
  EXPECT_THROW(infer(node, {value(DType::kUInt8, {2, 4}), f, value(DType::kUInt8, {}),
                            value(DType::kInt8, {5, 3}), f, value(DType::kInt8, {}),
                            value(DType::kInt32, {5}), f, value(DType::kInt8, {})}),
               Error);
}

// ---- QLinearGlobalAveragePool, QLinearAveragePool ----

TEST(QLinearGlobalAveragePool, ChannelsFirstAndLast) {
  // Channel sums of x − 10: 101 − 40 = 61 and 6 − 40 = −34; M = 0.5 / (0.5 · 4) = 0.25:
  // 15.25 → 15 and −8.5 → −8, plus the output zero point 20.
  const Node node = ms_node("QLinearGlobalAveragePool", {"x", "sx", "zx", "sy", "zy"}, {"y"});
  const std::vector<Tensor> params{scalar(0.5f), u8({}, {10}), scalar(0.5f), u8({}, {20})};
  const Tensor y = run_both(node, {u8({1, 2, 2, 2}, {10, 20, 30, 41, 2, 2, 1, 1}), params[0],
                                   params[1], params[2], params[3]})[0];
  EXPECT_TRUE(y.equals(u8({1, 2, 1, 1}, {35, 12})));
  const Node last = ms_node("QLinearGlobalAveragePool", {"x", "sx", "zx", "sy", "zy"}, {"y"},
                            {{"channels_last", int64_t{1}}});
  const Tensor z = run_both(last, {u8({1, 2, 2, 2}, {10, 2, 20, 2, 30, 1, 41, 1}), params[0],
                                   params[1], params[2], params[3]})[0];
  EXPECT_TRUE(z.equals(u8({1, 1, 1, 2}, {35, 12})));
  EXPECT_THROW(
      infer(node, {value(DType::kUInt8, {1, 2}), value(DType::kFloat32, {}),
                   value(DType::kUInt8, {}), value(DType::kFloat32, {}), value(DType::kUInt8, {})}),
      Error);
}

TEST(QLinearAveragePool, DequantizesPoolsAndQuantizes) {
  // x = 0.5·q = [[0,1,2],[3,4,5],[6,7,8]]; y = avg / 0.5 + 1.
  const Tensor x = u8({1, 1, 3, 3}, {0, 2, 4, 6, 8, 10, 12, 14, 16});
  const std::vector<Tensor> params{scalar(0.5f), u8({}, {0}), scalar(0.5f), u8({}, {1})};
  const Node plain = ms_node("QLinearAveragePool", {"x", "sx", "zx", "sy", "zy"}, {"y"},
                             {{"kernel_shape", std::vector<int64_t>{2, 2}}});
  EXPECT_TRUE(run_both(plain, {x, params[0], params[1], params[2], params[3]})[0].equals(
      u8({1, 1, 2, 2}, {5, 7, 11, 13})));
  // Padded windows: averages [0, 1.5, 4.5, 6] over the taps inside, or [0, 0.75, 2.25, 6] when
  // the padding counts.
  for (int64_t include_pad : {0, 1}) {
    const Node padded = ms_node("QLinearAveragePool", {"x", "sx", "zx", "sy", "zy"}, {"y"},
                                {{"kernel_shape", std::vector<int64_t>{2, 2}},
                                 {"strides", std::vector<int64_t>{2, 2}},
                                 {"pads", std::vector<int64_t>{1, 1, 1, 1}},
                                 {"count_include_pad", include_pad}});
    const Tensor want =
        include_pad ? u8({1, 1, 2, 2}, {1, 3, 5, 13}) : u8({1, 1, 2, 2}, {1, 4, 10, 13});
    EXPECT_TRUE(run_both(padded, {x, params[0], params[1], params[2], params[3]})[0].equals(want))
        << include_pad;
  }
}

TEST(QLinearAveragePool, ChannelsLast) {
  // Two channels interleaved; channel 1 is channel 0 plus 2 (one unit after dequantization).
  std::vector<uint8_t> values;
  for (uint8_t v : {0, 2, 4, 6, 8, 10, 12, 14, 16}) {
    values.push_back(v);
    values.push_back(static_cast<uint8_t>(v + 2));
  }
  const Node node =
      ms_node("QLinearAveragePool", {"x", "sx", "zx", "sy", "zy"}, {"y"},
              {{"kernel_shape", std::vector<int64_t>{2, 2}}, {"channels_last", int64_t{1}}});
  const Tensor y = run_both(
      node, {u8({1, 3, 3, 2}, values), scalar(0.5f), u8({}, {0}), scalar(0.5f), u8({}, {1})})[0];
  EXPECT_TRUE(y.equals(u8({1, 2, 2, 2}, {5, 7, 7, 9, 11, 13, 13, 15})));
  auto out =
      infer(node, {value(DType::kUInt8, {Dim("N"), 5, 5, 3}), value(DType::kFloat32, {}),
                   value(DType::kUInt8, {}), value(DType::kFloat32, {}), value(DType::kUInt8, {})});
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N"), 4, 4, 3}));
  const Node bad = ms_node("QLinearAveragePool", {"x", "sx", "zx", "sy", "zy"}, {"y"},
                           {{"kernel_shape", std::vector<int64_t>{2}}});
  EXPECT_THROW(
      infer(bad, {value(DType::kUInt8, {1, 1, 3, 3}), value(DType::kFloat32, {}),
                  value(DType::kUInt8, {}), value(DType::kFloat32, {}), value(DType::kUInt8, {})}),
      Error);
}

// ---- DynamicQuantizeLSTM ----

// W [1, input 2, 4h = 8] and R [1, hidden 2, 8], int8, W per gate row, R per direction.
std::vector<Tensor> small_lstm_inputs() {
  return {f32({3, 2, 2}, {0.5f, -1.f, 2.f, 0.25f, -0.75f, 1.5f, 0.f, -2.f, 1.f, 1.f, -0.5f, 0.5f}),
          s8({1, 2, 8}, {10, -20, 30, -40, 50, -60, 70, -80, -15, 25, -35, 45, -55, 65, -75, 85}),
          s8({1, 2, 8}, {5, 10, -5, -10, 20, -20, 30, -30, -8, 16, -24, 32, -40, 48, -56, 64}),
          f32({1, 16}, {0.1f, -0.1f, 0.2f, -0.2f, 0.3f, -0.3f, 0.05f, -0.05f, 0.f, 0.1f, 0.f, 0.1f,
                        0.f, 0.1f, 0.f, 0.1f}),
          Tensor(),
          Tensor(),
          Tensor(),
          Tensor(),
          f32({1, 8}, {0.01f, 0.02f, 0.01f, 0.02f, 0.01f, 0.02f, 0.01f, 0.02f}),
          s8({1, 8}, {0, 0, 0, 0, 0, 0, 0, 0}),
          f32({1}, {0.015f}),
          s8({1}, {0})};
}

Node lstm_node(std::initializer_list<std::pair<std::string, AttributeValue>> attrs) {
  return ms_node("DynamicQuantizeLSTM",
                 {"X", "W", "R", "B", "lens", "h0", "c0", "P", "ws", "wz", "rs", "rz"},
                 {"Y", "Yh", "Yc"}, attrs);
}

// Outputs of ONNX Runtime 1.32 for small_lstm_inputs(); the two differ by the float rounding of
// the activation functions (ONNX Runtime uses its own approximations of exp and tanh).
constexpr double kOrtActivationTolerance = 1e-6;

TEST(DynamicQuantizeLSTM, MatchesOnnxRuntime) {
  const auto out = run_both(lstm_node({{"hidden_size", int64_t{2}}}), small_lstm_inputs());
  EXPECT_TRUE(testing::tensors_near(
      out[0],
      f32({3, 1, 2, 2}, {0.2933829f, -0.0621136f, 0.2992974f, -0.0605253f, -0.0925055f, 0.3567972f,
                         0.5295503f, -0.0348831f, -0.1450406f, 0.2555964f, 0.1232114f, 0.2241476f}),
      kOrtActivationTolerance, 0));
  EXPECT_TRUE(testing::tensors_near(
      out[1], f32({1, 2, 2}, {-0.1450406f, 0.2555964f, 0.1232114f, 0.2241476f}),
      kOrtActivationTolerance, 0));
  EXPECT_TRUE(testing::tensors_near(
      out[2], f32({1, 2, 2}, {-0.2942048f, 0.5074679f, 0.2735130f, 0.3544141f}),
      kOrtActivationTolerance, 0));
}

// Against the float LSTM on the dequantized weights: the only difference is the dynamic u8
// quantization of X and H, at most half a step (1/255 for values in [−1, 1]) per value; through
// these small weights and four steps the outputs move by under 0.002.
constexpr double kDynamicQuantizationTolerance = 0.01;

TEST(DynamicQuantizeLSTM, CloseToTheFloatLstmBidirectionalWithLengths) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> real(-1.f, 1.f);
  std::uniform_int_distribution<int> weight(0, 255);
  const int64_t seq = 4, batch = 3, input = 3, hidden = 2, dirs = 2, rows = 4 * hidden;
  auto random = [&](Shape shape) {
    std::vector<float> v(shape_numel(shape));
    for (float& x : v) x = real(rng);
    return f32(std::move(shape), v);
  };
  // u8 weights with zero point 128 per direction and scales per gate row.
  std::vector<uint8_t> w(dirs * input * rows), r(dirs * hidden * rows);
  for (auto& v : w) v = static_cast<uint8_t>(weight(rng));
  for (auto& v : r) v = static_cast<uint8_t>(weight(rng));
  std::vector<float> w_scales(dirs * rows), r_scales(dirs * rows);
  for (size_t i = 0; i < w_scales.size(); ++i) {
    w_scales[i] = 0.004f + 0.001f * static_cast<float>(i % 5);
    r_scales[i] = 0.006f - 0.0005f * static_cast<float>(i % 4);
  }
  const Tensor x = random({seq, batch, input}), b = random({dirs, 8 * hidden});
  const Tensor h0 = random({dirs, batch, hidden}), c0 = random({dirs, batch, hidden});
  const Tensor lens = i32({batch}, {4, 2, 0});
  const Node quantized =
      lstm_node({{"hidden_size", hidden}, {"direction", std::string("bidirectional")}});
  const auto got =
      run_both(quantized, {x, u8({dirs, input, rows}, w), u8({dirs, hidden, rows}, r), b, lens, h0,
                           c0, Tensor(), f32({dirs, rows}, w_scales), u8({dirs}, {128, 128}),
                           f32({dirs, rows}, r_scales), u8({dirs}, {128, 128})});
  // The float LSTM's W is [dirs, 4h, input]: transposed and dequantized.
  auto dequantized = [&](const std::vector<uint8_t>& q, const std::vector<float>& scales,
                         int64_t k) {
    std::vector<float> out(q.size());
    for (int64_t d = 0; d < dirs; ++d) {
      for (int64_t row = 0; row < rows; ++row) {
        for (int64_t j = 0; j < k; ++j) {
          out[(d * rows + row) * k + j] =
              (float(q[(d * k + j) * rows + row]) - 128.f) * scales[d * rows + row];
        }
      }
    }
    return f32({dirs, rows, k}, out);
  };
  const Node lstm =
      testing::make_node("LSTM", {"X", "W", "R", "B", "lens", "h0", "c0"}, {"Y", "Yh", "Yc"},
                         {{"hidden_size", hidden}, {"direction", std::string("bidirectional")}});
  const auto want = run_node(lstm, {x, dequantized(w, w_scales, input),
                                    dequantized(r, r_scales, hidden), b, lens, h0, c0});
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(testing::tensors_near(got[i], want[i], kDynamicQuantizationTolerance, 0)) << i;
  }
  // Past a sequence's end Y is zero, and an empty sequence has zero final states.
  EXPECT_EQ(got[0].data<float>()[(3 * dirs * batch + 1) * hidden], 0.f);
  EXPECT_EQ(got[1].data<float>()[2 * hidden], 0.f);
}

TEST(DynamicQuantizeLSTM, InfersAndRejects) {
  const Node node = lstm_node({{"hidden_size", int64_t{2}}});
  const auto f = [](SymbolicShape s) { return value(DType::kFloat32, std::move(s)); };
  std::vector<ValueInfo> inputs{f({Dim("T"), Dim("N"), 3}),
                                value(DType::kInt8, {1, 3, 8}),
                                value(DType::kInt8, {1, 2, 8}),
                                f({1, 16}),
                                ValueInfo{},
                                ValueInfo{},
                                ValueInfo{},
                                ValueInfo{},
                                f({1, 8}),
                                value(DType::kInt8, {1, 8}),
                                f({1}),
                                value(DType::kInt8, {1})};
  auto out = infer(node, inputs);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("T"), 1, Dim("N"), 2}));
  EXPECT_EQ(*out[2].shape, (SymbolicShape{1, Dim("N"), 2}));
  // W must be [dirs, input, 4h]: ONNX's LSTM layout [dirs, 4h, input] does not fit.
  auto transposed = inputs;
  transposed[1] = value(DType::kInt8, {1, 8, 3});
  EXPECT_THROW(infer(node, transposed), Error);
  auto bad_scale = inputs;
  bad_scale[8] = f({1, 7});
  EXPECT_THROW(infer(node, bad_scale), Error);
  const Node with_layout = lstm_node({{"hidden_size", int64_t{2}}, {"layout", int64_t{1}}});
  EXPECT_THROW(infer(with_layout, inputs), Error);
}

}  // namespace
}  // namespace quench
