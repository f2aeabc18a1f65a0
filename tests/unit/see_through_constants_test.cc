// Constant chains in other tools' QDQ files (passes/see_through_constants.cc): Identity nodes of
// shared initializers, Casts, Constant nodes, arithmetic on constants and data movement of a
// dequantized weight, between a constant and the op that reads it. Each small graph is lowered
// completely (the report lists no float node, the plan holds the integer op) and its outputs equal
// the float QDQ execution's (SessionOptions::fuse = false) within one output quantum. A chain the
// pass cannot resolve stays in float and still gives the right answer.
#include "qdq_graph_util.h"

namespace quench {
namespace {

using testing::ChainGraph;
using testing::expect_lowered;
using testing::float_reasons;
using testing::random_tensor;
using testing::report_of;

TEST(SeeThroughConstants, SharedWeightsAndBiasThroughIdentities) {
  // Two convolutions with different input scales read one weight and one bias initializer, each
  // through its own Identity (as deduplicating exporters write them). The bias's int32 values
  // are at the first conv's accumulator scales: the second requantizes it (eq. (131)).
  ChainGraph b;
  const std::string x = b.input("x", {1, 3, 6, 6});
  const auto [w_q, w_s] = ChainGraph::quantize_weight(random_tensor({4, 3, 3, 3}, 1), 0);
  const std::string w = b.op(
      "DequantizeLinear",
      {b.init("w_q", w_q), b.init("w_s", w_s), b.init("w_z", Tensor::zeros(DType::kInt8, {4}))},
      {{"axis", int64_t{0}}});
  const float x_scale = 0.02f;
  std::vector<int32_t> bias_q(4);
  std::vector<float> bias_s(4);
  const Tensor bias = random_tensor({4}, 2);
  for (size_t c = 0; c < 4; ++c) {
    bias_s[c] = x_scale * w_s.data<float>()[c];
    bias_q[c] = static_cast<int32_t>(std::nearbyint(bias.data<float>()[c] / bias_s[c]));
  }
  const std::string bias_dq = b.op("DequantizeLinear",
                                   {b.init("b_q", Tensor::from_vector({4}, bias_q)),
                                    b.init("b_s", Tensor::from_vector({4}, bias_s)),
                                    b.init("b_z", Tensor::zeros(DType::kInt32, {4}))},
                                   {{"axis", int64_t{0}}});
  const std::string x1 = b.qdq(x, x_scale, 128);
  const std::string x2 = b.qdq(x, 0.05f, 100);
  const auto pads = std::vector<int64_t>{1, 1, 1, 1};
  const std::string y1 =
      b.op("Conv", {x1, b.op("Identity", {w}), b.op("Identity", {b.op("Identity", {bias_dq})})},
           {{"pads", pads}});
  const std::string y2 =
      b.op("Conv", {x2, b.op("Identity", {w}), b.op("Identity", {bias_dq})}, {{"pads", pads}});
  b.output(b.qdq(y1, 0.03f, 128));
  b.output(b.op("Identity", {b.qdq(y2, 0.03f, 120)}));  // an Identity writing a graph output stays
  const LoweringReport r = report_of(b);
  EXPECT_TRUE(r.float_nodes.empty()) << float_reasons(r);
  EXPECT_EQ(r.units, 2);
  expect_lowered(b, {random_tensor({1, 3, 6, 6}, 3)}, 0.03f, {"QLinearConv"}, {"Conv"});
}

TEST(SeeThroughConstants, ParametersFromConstantsCastsAndArithmetic) {
  // Scales from a Constant node, from a float64 initializer through a Cast and from a Mul of two
  // constants; an int8 weight stored as int32 behind a Cast; a same-type Cast after the weight's
  // DequantizeLinear; a float bias (requantized to the accumulator's scales).
  ChainGraph b;
  const std::string x = b.input("x", {2, 3, 5, 5});
  const std::string x_scale = b.constant_node(Tensor::scalar(0.02f));
  const std::string x_zero = b.op("Identity", {b.init("xz", Tensor::scalar(uint8_t{128}))});
  const std::string xq = b.qdq(x, x_scale, x_zero);
  const auto [w_q, w_s] = ChainGraph::quantize_weight(random_tensor({4, 3, 3, 3}, 4), 0);
  Tensor w_int32 = Tensor::empty(DType::kInt32, w_q.shape());
  for (int64_t i = 0; i < w_q.numel(); ++i) w_int32.data<int32_t>()[i] = w_q.data<int8_t>()[i];
  b.init("w_int32", w_int32);
  Tensor w_s64 = Tensor::empty(DType::kFloat64, {4});
  for (int64_t c = 0; c < 4; ++c) w_s64.data<double>()[c] = w_s.data<float>()[c];
  const std::string w =
      b.op("DequantizeLinear",
           {b.op("Cast", {"w_int32"}, {{"to", int64_t{static_cast<int64_t>(DType::kInt8)}}}),
            b.op("Cast", {b.init("w_s64", w_s64)}, {{"to", int64_t{1}}}),
            b.init("w_z", Tensor::zeros(DType::kInt8, {4}))},
           {{"axis", int64_t{0}}});
  const std::string w_float = b.op("Cast", {w}, {{"to", int64_t{1}}});
  const std::string bias = b.init("bias", random_tensor({4}, 5));
  const std::string y = b.op("Conv", {xq, w_float, bias});
  const std::string y_scale =
      b.op("Mul", {b.constant_node(Tensor::scalar(0.01f)), b.init("three", Tensor::scalar(3.f))});
  b.output(b.qdq(y, y_scale, b.constant_node(Tensor::scalar(uint8_t{128}))));
  const LoweringReport r = report_of(b);
  EXPECT_TRUE(r.float_nodes.empty()) << float_reasons(r);
  EXPECT_EQ(r.units, 1);
  expect_lowered(b, {random_tensor({2, 3, 5, 5}, 6)}, 0.03f, {"QLinearConv"},
                 {"Conv", "Cast", "Identity"});
}

TEST(SeeThroughConstants, FloatWeightsBehindAQuantizeLinearFold) {
  // NNCF's form: Conv(DQ(Q(float weight)), float bias); the Q of a constant folds to its integers.
  ChainGraph b;
  const std::string x = b.qdq(b.input("x", {1, 3, 5, 5}), 0.02f, 128);
  const Tensor w = random_tensor({4, 3, 3, 3}, 13);
  const auto [w_q, w_s] = ChainGraph::quantize_weight(w, 0);
  const std::string w_z = b.init("w_z", Tensor::zeros(DType::kInt8, {4}));
  const std::string q =
      b.op("QuantizeLinear", {b.init("w", w), b.init("w_s", w_s), w_z}, {{"axis", int64_t{0}}});
  const std::string dq = b.op("DequantizeLinear", {q, "w_s", w_z}, {{"axis", int64_t{0}}});
  b.output(b.qdq(b.op("Conv", {x, dq, b.init("bias", random_tensor({4}, 14))}), 0.03f, 128));
  const LoweringReport r = report_of(b);
  EXPECT_TRUE(r.float_nodes.empty()) << float_reasons(r);
  EXPECT_EQ(r.units, 1);
  expect_lowered(b, {random_tensor({1, 3, 5, 5}, 15)}, 0.03f, {"QLinearConv"}, {"Conv"});
}

TEST(SeeThroughConstants, MovementOfADequantizedWeightMovesBeforeIt) {
  // MatMul B = Transpose(DQ(w[5, 8] per row)): per-axis along 0 becomes along 1 (B's columns).
  // Conv W = Reshape(DQ(w[4, 27] per row), shape from Concat of Constants): the axis stays 0.
  ChainGraph b;
  const std::string a = b.qdq(b.input("a", {3, 8}), 0.01f, 128);
  const auto [m_q, m_s] = ChainGraph::quantize_weight(random_tensor({5, 8}, 7), 0);
  const std::string m_dq =
      b.op("DequantizeLinear", {b.init("m_q", m_q), b.init("m_s", m_s)}, {{"axis", int64_t{0}}});
  b.output(
      b.qdq(b.op("MatMul", {a, b.op("Transpose", {m_dq}, {{"perm", std::vector<int64_t>{1, 0}}})}),
            0.02f, 128));
  const std::string x = b.qdq(b.input("x", {1, 3, 5, 5}), 0.02f, 128);
  const auto [c_q, c_s] = ChainGraph::quantize_weight(random_tensor({4, 27}, 8), 0);
  const std::string c_dq =
      b.op("DequantizeLinear", {b.init("c_q", c_q), b.init("c_s", c_s)}, {{"axis", int64_t{0}}});
  const std::string shape = b.op("Concat",
                                 {b.constant_node(Tensor::from_vector<int64_t>({1}, {4})),
                                  b.constant_node(Tensor::from_vector<int64_t>({3}, {3, 3, 3}))},
                                 {{"axis", int64_t{0}}});
  b.output(b.qdq(b.op("Conv", {x, b.op("Reshape", {c_dq, shape})}), 0.02f, 128));
  const LoweringReport r = report_of(b);
  EXPECT_TRUE(r.float_nodes.empty()) << float_reasons(r);
  EXPECT_EQ(r.units, 2);
  expect_lowered(b, {random_tensor({3, 8}, 9), random_tensor({1, 3, 5, 5}, 10)}, 0.02f,
                 {"QLinearMatMul", "QLinearConv"}, {"MatMul", "Conv", "Transpose", "Reshape"});
}

TEST(SeeThroughConstants, AnAxisThatDoesNotSurviveStaysFloatAndCorrect) {
  // w[2, 6] quantized per column, reshaped to [3, 4]: no output axis carries the columns, so the
  // chain stays (the MatMul runs in float, and the report says why).
  ChainGraph b;
  const std::string a = b.qdq(b.input("a", {2, 3}), 0.01f, 128);
  const auto [w_q, w_s] = ChainGraph::quantize_weight(random_tensor({2, 6}, 11), 1);
  const std::string w_dq =
      b.op("DequantizeLinear", {b.init("w_q", w_q), b.init("w_s", w_s)}, {{"axis", int64_t{1}}});
  const std::string w =
      b.op("Reshape", {w_dq, b.init("shape", Tensor::from_vector<int64_t>({2}, {3, 4}))});
  b.output(b.qdq(b.op("MatMul", {a, w}), 0.02f, 128));
  // The Reshape of the per-column weight and the MatMul reading it stay in float.
  const LoweringReport r = report_of(b);
  EXPECT_EQ(r.units, 0);
  bool matmul_reported = false;
  for (const auto& f : r.float_nodes) {
    if (f.op_type != "MatMul") continue;
    matmul_reported = true;
    EXPECT_NE(f.reason.find("Reshape"), std::string::npos) << f.reason;
  }
  EXPECT_TRUE(matmul_reported) << float_reasons(r);
  expect_lowered(b, {random_tensor({2, 3}, 12)}, 0.02f, {"MatMul"}, {"QLinearMatMul"});
}

}  // namespace
}  // namespace quench
