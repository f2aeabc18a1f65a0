// Dynamic quantization (--mode dynamic): the plan, the graph written for each op, and what quench
// computes on it against the equations (docs/quantization.md, eqs. (37), (65)-(67)).
#include <algorithm>
#include <cmath>

#include "core/requantize.h"
#include "quant/quant_plan.h"
#include "quench/model_io.h"
#include "quench/quantize.h"
#include "quench/session.h"
#include "session_test_util.h"
#include "test_util.h"

namespace quench {
namespace {

using quant::plan_quantization;
using quant::PlanMode;
using quant::QuantPlan;

// Float products against the quantized ones: 8-bit operands on data in [-1, 1] with K <= 16 stay
// within this of the float result (each product off by at most s_x·|w| + s_w·|x|).
constexpr float kDynamicProductTolerance = 0.05f;
// Recurrent outputs (h in (-1, 1)) after a few steps with int8 weights.
constexpr float kRecurrentTolerance = 0.05f;

std::map<std::string, int> op_counts(const Graph& g) {
  std::map<std::string, int> c;
  for (const Node& n : g.nodes) ++c[n.op_type];
  return c;
}

// A one-input model: `x` [shape] float feeding `nodes`, output `y`.
Model make_model(const Shape& x_shape, std::vector<Node> nodes,
                 std::map<std::string, Tensor> initializers, const std::string& y = "y") {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  g.values["x"] = ValueInfo{DType::kFloat32, symbolic(x_shape), ""};
  g.outputs = {y};
  g.values[y] = ValueInfo{DType::kFloat32, std::nullopt, ""};
  g.nodes = std::move(nodes);
  for (auto& [name, t] : initializers) {
    g.values[name] = ValueInfo{t.dtype(), symbolic(t.shape()), ""};
    g.initializers[name] = std::move(t);
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) g.nodes[i].name = "n" + std::to_string(i);
  return prepare_for_quantization(m);
}

Tensor run_one(const Model& m, const Tensor& x) {
  return Session(m, testing::one_thread(true)).run({x})[0];
}

// Eq. (37), computed here independently of quench's DynamicQuantizeLinear.
struct U8 {
  std::vector<int32_t> q;
  float scale = 1.f;
  int32_t zero_point = 0;
};
U8 quantize_per_tensor(const std::vector<float>& x) {
  float lo = 0.f, hi = 0.f;
  for (float v : x) lo = std::min(lo, v), hi = std::max(hi, v);
  U8 out;
  out.scale = hi == lo ? 1.f : (hi - lo) / 255.f;
  out.zero_point = static_cast<int32_t>(std::clamp(round_half_even(-lo / out.scale), 0.f, 255.f));
  for (float v : x) {
    out.q.push_back(static_cast<int32_t>(std::clamp(
        round_half_even(v / out.scale) + static_cast<float>(out.zero_point), 0.f, 255.f)));
  }
  return out;
}

// Weights of B [K, N] per column, eq. (25).
std::vector<float> column_scales(const Tensor& b) {
  const int64_t k = b.dim(0), n = b.dim(1);
  std::vector<float> s(static_cast<size_t>(n), 0.f);
  for (int64_t r = 0; r < k; ++r) {
    for (int64_t c = 0; c < n; ++c) s[c] = std::max(s[c], std::abs(b.data<float>()[r * n + c]));
  }
  for (float& v : s) v = v > 0.f ? v / 127.f : 1.f;
  return s;
}

int32_t quantize_weight(float w, float scale) {
  return static_cast<int32_t>(std::clamp(round_half_even(w / scale), -127.f, 127.f));
}

TEST(DynamicPlan, VitQuantizesConstantWeightsOnly) {
  const Model m = prepare_for_quantization(load_model(testing::test_model("vit.onnx")));
  const QuantPlan plan = plan_quantization(m.graph, QuantRecipe{}, PlanMode::kDynamic);
  int quantized = 0, run_time_operands = 0;
  for (size_t i = 0; i < plan.decisions.size(); ++i) {
    const NodeDecision& d = plan.decisions[i];
    if (d.op_type == "MatMul" && !plan.quantized[i]) {
      EXPECT_EQ(d.reason, "both operands computed at run time") << d.node;
      ++run_time_operands;
    }
    if (plan.quantized[i]) {
      ++quantized;
      EXPECT_TRUE(d.op_type == "MatMul" || d.op_type == "Gemm" || d.op_type == "Conv") << d.node;
      EXPECT_TRUE(m.graph.is_initializer(m.graph.nodes[i].input(1))) << d.node;
    }
  }
  EXPECT_EQ(run_time_operands, 8);  // q·kᵀ and p·v of 4 blocks
  EXPECT_EQ(quantized, 18);
  EXPECT_TRUE(plan.activations.empty());  // nothing to calibrate
}

TEST(DynamicPlan, FirstLastSkipAndRecipeApply) {
  const Model m = prepare_for_quantization(load_model(testing::test_model("lstm.onnx")));
  QuantRecipe recipe;
  recipe.skip_nodes = {"first"};
  recipe.skip_op_types = {"Gemm"};
  const QuantPlan plan = plan_quantization(m.graph, recipe, PlanMode::kDynamic);
  std::vector<std::string> quantized;
  for (size_t i = 0; i < plan.decisions.size(); ++i) {
    const NodeDecision& d = plan.decisions[i];
    if (d.op_type == "LSTM" && !plan.quantized[i]) {
      EXPECT_EQ(d.reason, "first layer kept in float");
    }
    if (d.op_type == "Gemm") {
      EXPECT_EQ(d.reason, "op type skipped by the recipe");
    }
    if (plan.quantized[i]) quantized.push_back(d.op_type);
  }
  EXPECT_EQ(quantized, std::vector<std::string>{"LSTM"});  // the second LSTM only
  recipe = QuantRecipe{};
  recipe.skip_nodes = {"no_such_node"};
  EXPECT_THROW(plan_quantization(m.graph, recipe, PlanMode::kDynamic), Error);
}

TEST(QuantizeDynamic, CnnGraphAndAccuracyOfTheIntegerForm) {
  const Model fp32 = prepare_for_quantization(load_model(testing::test_model("cnn.onnx")));
  QuantizeReport report;
  const Model q = quantize_dynamic(fp32, QuantRecipe{}, DynamicQuantOptions{}, &report);
  EXPECT_NO_THROW(check_model(q));
  const auto ops = op_counts(q.graph);
  EXPECT_EQ(ops.at("ConvInteger"), 5);
  EXPECT_EQ(ops.at("MatMulInteger"), 2);
  EXPECT_EQ(ops.at("DynamicQuantizeLinear"), 7);
  EXPECT_EQ(ops.count("Conv") + ops.count("Gemm"), 0u);
  EXPECT_EQ(report.quantized_nodes, 7);
  EXPECT_EQ(report.weight_tensors, 7);
  EXPECT_EQ(report.activation_tensors, 7);
  EXPECT_LT(report.weight_bytes_after * 3, report.weight_bytes_before);
  EXPECT_EQ(q.graph.initializer("classifier.1.weight"), nullptr);
  const Tensor x = testing::fmnist_images_or_random(64);
  testing::expect_same_top1(run_one(q, x), run_one(fp32, x));
}

// A model newer than this build's ONNX checker (IR 10, opset 21; libonnx 1.12 knows IR 8 and
// opset 17) is quantized and checked by quench's graph checks, with a note; the checker itself
// refuses it whatever its content.
TEST(QuantizeDynamic, ModelNewerThanTheCheckerIsCheckedByQuenchAndNoted) {
  Model newer = prepare_for_quantization(load_model(testing::test_model("cnn.onnx")));
  EXPECT_EQ(newer_than_checker(newer), "");
  newer.ir_version = 10;
  newer.graph.opsets[""] = 21;
  const std::string what = newer_than_checker(newer);
  EXPECT_NE(what.find("IR version 10"), std::string::npos) << what;
  EXPECT_NE(what.find("opset 21 of 'ai.onnx'"), std::string::npos) << what;
  EXPECT_THROW(check_model(newer), Error);
  QuantizeReport report;
  const Model q = quantize_dynamic(newer, QuantRecipe{}, DynamicQuantOptions{}, &report);
  EXPECT_EQ(q.ir_version, 10);
  ASSERT_EQ(report.notes.size(), 1u);
  EXPECT_NE(report.notes[0].find("checked by quench's graph checks only"), std::string::npos);
  EXPECT_GT(report.quantized_nodes, 0);
}

TEST(QuantizeDynamic, MatMulPerTensorFollowsTheEquations) {
  const Tensor w = testing::random_tensor({5, 4}, 11);
  const Model fp32 =
      make_model({3, 5}, {testing::make_node("MatMul", {"x", "w"}, {"y"})}, {{"w", w}});
  const Model q = quantize_dynamic(fp32, QuantRecipe{}, DynamicQuantOptions{});
  const Tensor x = testing::random_tensor({3, 5}, 12);
  const Tensor got = run_one(q, x);
  // Eqs. (37), (25), (66) step by step.
  const U8 a = quantize_per_tensor(std::vector<float>(x.data<float>(), x.data<float>() + 15));
  const std::vector<float> s_w = column_scales(w);
  for (int64_t row = 0; row < 3; ++row) {
    for (int64_t col = 0; col < 4; ++col) {
      int32_t acc = 0;
      for (int64_t k = 0; k < 5; ++k) {
        acc += (a.q[row * 5 + k] - a.zero_point) *
               quantize_weight(w.data<float>()[k * 4 + col], s_w[col]);
      }
      const float want = static_cast<float>(acc) * (a.scale * s_w[col]);
      EXPECT_EQ(got.data<float>()[row * 4 + col], want) << row << "," << col;
      const float exact = run_one(fp32, x).data<float>()[row * 4 + col];
      EXPECT_NEAR(want, exact, kDynamicProductTolerance);
    }
  }
}

TEST(QuantizeDynamic, PerTokenScalesEachRow) {
  const Tensor w = testing::random_tensor({6, 3}, 21);
  const Model fp32 =
      make_model({2, 4, 6}, {testing::make_node("MatMul", {"x", "w"}, {"y"})}, {{"w", w}});
  DynamicQuantOptions options;
  options.act_granularity = ActGranularity::kToken;
  QuantizeReport report;
  const Model q = quantize_dynamic(fp32, QuantRecipe{}, options, &report);
  EXPECT_NO_THROW(check_model(q));
  EXPECT_EQ(op_counts(q.graph).count("DynamicQuantizeLinear"), 0u);
  Tensor x = testing::random_tensor({2, 4, 6}, 22);
  for (int64_t k = 0; k < 6; ++k) x.data<float>()[6 + k] *= 100.f;  // one loud token
  for (int64_t k = 0; k < 6; ++k) x.data<float>()[12 + k] = 0.f;    // one silent token
  const Tensor got = run_one(q, x);
  const std::vector<float> s_w = column_scales(w);
  for (int64_t token = 0; token < 8; ++token) {
    const float* row = x.data<float>() + token * 6;
    float amax = 0.f;
    for (int64_t k = 0; k < 6; ++k) amax = std::max(amax, std::abs(row[k]));
    const float s = std::max(amax / 127.f, 1e-12f);  // eq. (65)
    for (int64_t col = 0; col < 3; ++col) {
      int32_t acc = 0;
      for (int64_t k = 0; k < 6; ++k) {
        const auto qx =
            static_cast<int32_t>(std::clamp(round_half_even(row[k] / s), -127.f, 127.f));
        acc += qx * quantize_weight(w.data<float>()[k * 3 + col], s_w[col]);
      }
      EXPECT_EQ(got.data<float>()[token * 3 + col], static_cast<float>(acc) * s * s_w[col])
          << token << "," << col;
    }
  }
  EXPECT_NE(report.nodes[0].reason.find("per token"), std::string::npos);
}

TEST(QuantizeDynamic, GemmWithTransposeAlphaAndBeta) {
  const Tensor b = testing::random_tensor({4, 5}, 31);  // [N, K], transB
  const Tensor c = testing::random_tensor({4}, 32);
  const Model fp32 =
      make_model({3, 5},
                 {testing::make_node("Gemm", {"x", "b", "c"}, {"y"},
                                     {{"transB", int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.f}})},
                 {{"b", b}, {"c", c}});
  QuantizeReport report;
  const Model q = quantize_dynamic(fp32, QuantRecipe{}, DynamicQuantOptions{}, &report);
  EXPECT_EQ(op_counts(q.graph).at("MatMulInteger"), 1);
  const Tensor x = testing::random_tensor({3, 5}, 33);
  EXPECT_TRUE(testing::tensors_near(run_one(q, x), run_one(fp32, x), kDynamicProductTolerance, 0));
  // transA has no MatMulInteger form: kept in float, and then nothing is left to quantize.
  const Model trans_a =
      make_model({5, 3},
                 {testing::make_node("Gemm", {"x", "b"}, {"y"},
                                     {{"transA", int64_t{1}}, {"transB", int64_t{1}}})},
                 {{"b", b}});
  try {
    quantize_dynamic(trans_a, QuantRecipe{}, DynamicQuantOptions{});
    FAIL() << "a model with nothing to quantize was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("nothing to quantize"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("transA"), std::string::npos) << e.what();
  }
}

// A bidirectional LSTM with peepholes and initial states, hidden 4, input 3.
Model lstm_model(int64_t layout) {
  const int64_t h = 4, in = 3;
  std::map<std::string, Tensor> init = {{"W", testing::random_tensor({2, 4 * h, in}, 41)},
                                        {"R", testing::random_tensor({2, 4 * h, h}, 42)},
                                        {"B", testing::random_tensor({2, 8 * h}, 43)},
                                        {"P", testing::random_tensor({2, 3 * h}, 44)}};
  Node lstm = testing::make_node("LSTM", {"x", "W", "R", "B", "", "", "", "P"}, {"y"},
                                 {{"hidden_size", h}, {"direction", std::string("bidirectional")}});
  if (layout != 0) lstm.set_attr("layout", layout);
  return make_model({5, 2, in}, {lstm}, init);
}

TEST(QuantizeDynamic, LstmBecomesDynamicQuantizeLstm) {
  const Model fp32 = lstm_model(0);
  QuantizeReport report;
  const Model q = quantize_dynamic(fp32, QuantRecipe{}, DynamicQuantOptions{}, &report);
  EXPECT_NO_THROW(check_model(q));
  ASSERT_EQ(q.graph.nodes.size(), 1u);
  const Node& node = q.graph.nodes[0];
  EXPECT_EQ(node.op_type, "DynamicQuantizeLSTM");
  EXPECT_EQ(node.domain, "com.microsoft");
  EXPECT_EQ(q.graph.opset("com.microsoft"), 1);
  EXPECT_EQ(q.graph.initializer(node.input(1))->shape(), (Shape{2, 3, 16}));  // [dirs, K, 4h]
  EXPECT_EQ(q.graph.initializer(node.input(8))->shape(), (Shape{2, 16}));     // per gate row
  EXPECT_EQ(node.input(7), "P");  // peepholes stay float inputs of the integer op
  const Tensor x = testing::random_tensor({5, 2, 3}, 45);
  EXPECT_TRUE(testing::tensors_near(run_one(q, x), run_one(fp32, x), kRecurrentTolerance, 0));

  QuantRecipe per_tensor;
  per_tensor.per_channel = false;
  const Model qt = quantize_dynamic(fp32, per_tensor, DynamicQuantOptions{});
  EXPECT_EQ(qt.graph.initializer(qt.graph.nodes[0].input(8))->shape(), (Shape{2}));
  EXPECT_TRUE(testing::tensors_near(run_one(qt, x), run_one(fp32, x), kRecurrentTolerance, 0));
}

TEST(QuantizeDynamic, BatchMajorLstmStaysFloatWithAReason) {
  const Model fp32 = lstm_model(1);
  QuantizeReport report;
  try {
    quantize_dynamic(fp32, QuantRecipe{}, DynamicQuantOptions{}, &report);
    FAIL() << "expected nothing to quantize";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layout = 1"), std::string::npos) << e.what();
  }
}

TEST(QuantizeDynamic, GruIsWeightOnly) {
  const int64_t h = 4, in = 3;
  const Tensor w = testing::random_tensor({1, 3 * h, in}, 51);
  const Tensor r = testing::random_tensor({1, 3 * h, h}, 52);
  const Model fp32 = make_model(
      {6, 2, in}, {testing::make_node("GRU", {"x", "W", "R"}, {"y"}, {{"hidden_size", h}})},
      {{"W", w}, {"R", r}});
  QuantizeReport report;
  const Model q = quantize_dynamic(fp32, QuantRecipe{}, DynamicQuantOptions{}, &report);
  EXPECT_NO_THROW(check_model(q));
  const auto ops = op_counts(q.graph);
  EXPECT_EQ(ops.at("GRU"), 1);
  EXPECT_EQ(ops.at("DequantizeLinear"), 2);
  EXPECT_EQ(report.activation_tensors, 0);
  for (const Node& n : q.graph.nodes) {
    if (n.op_type != "DequantizeLinear") continue;
    EXPECT_EQ(q.graph.initializer(n.input(0))->dtype(), DType::kInt8);
    EXPECT_EQ(n.attr_int("axis", 0), 1);
    EXPECT_EQ(q.graph.initializer(n.input(1))->numel(), 3 * h);
  }
  const Tensor x = testing::random_tensor({6, 2, in}, 53);
  EXPECT_TRUE(testing::tensors_near(run_one(q, x), run_one(fp32, x), kRecurrentTolerance, 0));
}

TEST(QuantizeDynamic, NothingToQuantizeSaysWhy) {
  const Model fp32 = make_model({2, 3}, {testing::make_node("Relu", {"x"}, {"y"})}, {});
  try {
    quantize_dynamic(fp32, QuantRecipe{}, DynamicQuantOptions{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("nothing to quantize"), std::string::npos) << e.what();
  }
  const Model attention = make_model({2, 3},
                                     {testing::make_node("Transpose", {"x"}, {"xt"}),
                                      testing::make_node("MatMul", {"x", "xt"}, {"y"})},
                                     {});
  try {
    quantize_dynamic(attention, QuantRecipe{}, DynamicQuantOptions{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("both operands computed at run time"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace quench
