// The QDQ-lowering pass (passes/lower_qdq*.cc) and the QLookup op. Each pattern is built as a
// small QDQ graph: the lowered plan holds the integer op (and not the float one), and its outputs
// equal those of the float QDQ execution (SessionOptions::fuse = false) within one quantum of the
// output scale. Negative cases stay in float, with the reason the pass reports, and still give the
// right answer.
#include <cmath>
#include <map>
#include <random>

#include "ops/fused.h"
#include "ops/op_registry.h"
#include "passes/runtime_passes.h"
#include "quench/passes.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::random_tensor;

using testing::make_node;

// Lowered outputs are requantized once from exact integer sums where the float QDQ graph rounds
// float results: the two may differ by one step of the output's quantization, never more.
constexpr double kOutputQuanta = 1.0;
// Slack on top of that for the float product quantum · scale.
constexpr double kQuantumSlack = 1e-3;

// Builds a QDQ graph the way quantizers write them.
class QdqGraph {
 public:
  QdqGraph() {
    g().opsets[""] = 17;
    g().name = "lower_qdq_test";
  }

  Graph& g() { return model_.graph; }

  std::string input(const std::string& name, const Shape& shape) {
    g().inputs.push_back(name);
    g().values[name] = ValueInfo{DType::kFloat32, symbolic(shape), ""};
    shapes_.push_back(shape);
    return name;
  }

  // `value` -> QuantizeLinear; returns the quantized value.
  std::string quantize(const std::string& value, float scale, int zero_point,
                       DType type = DType::kUInt8) {
    const std::string q = value + "_q" + std::to_string(count_++);
    const auto [s, z] = params(q, scale, zero_point, type);
    g().nodes.push_back(make_node("QuantizeLinear", {value, s, z}, {q}));
    g().nodes.back().name = q;
    scales_[q] = {s, z};
    return q;
  }
  // A quantized value -> DequantizeLinear with its own parameters.
  std::string dequantize(const std::string& q) {
    const auto& [s, z] = scales_.at(q);
    const std::string out = q + "_dq" + std::to_string(count_++);
    g().nodes.push_back(make_node("DequantizeLinear", {q, s, z}, {out}));
    g().nodes.back().name = out;
    return out;
  }
  std::string qdq(const std::string& value, float scale, int zero_point,
                  DType type = DType::kUInt8) {
    return dequantize(quantize(value, scale, zero_point, type));
  }

  // `value` -> QuantizeLinear -> DequantizeLinear per channel (axis 1), u8 with one zero point.
  std::string qdq_per_channel(const std::string& value, const std::vector<float>& scales,
                              uint8_t zero_point) {
    const std::string q = value + "_qc" + std::to_string(count_++);
    const int64_t n = static_cast<int64_t>(scales.size());
    g().initializers[q + "_scale"] = Tensor::from_vector({n}, scales);
    g().initializers[q + "_zero"] =
        Tensor::from_vector({n}, std::vector<uint8_t>(scales.size(), zero_point));
    const std::vector<std::string> params = {q + "_scale", q + "_zero"};
    g().nodes.push_back(
        make_node("QuantizeLinear", {value, params[0], params[1]}, {q}, {{"axis", int64_t{1}}}));
    g().nodes.back().name = q;
    const std::string out = q + "_dq";
    g().nodes.push_back(
        make_node("DequantizeLinear", {q, params[0], params[1]}, {out}, {{"axis", int64_t{1}}}));
    g().nodes.back().name = out;
    return out;
  }

  // A constant s8 weight behind a DequantizeLinear: per index along `axis` (eq. (25)), or per
  // tensor with axis -1.
  std::string weight(const std::string& name, const Tensor& w, int64_t axis) {
    const int64_t channels = axis < 0 ? 1 : w.dim(static_cast<int>(axis));
    int64_t inner = 1;
    for (int d = static_cast<int>(axis) + 1; axis >= 0 && d < w.rank(); ++d) inner *= w.dim(d);
    std::vector<float> scales(static_cast<size_t>(channels), 0.f);
    const auto values = w.values<float>();
    auto channel_of = [&](int64_t i) { return axis < 0 ? 0 : (i / inner) % channels; };
    for (int64_t i = 0; i < w.numel(); ++i) {
      scales[channel_of(i)] = std::max(scales[channel_of(i)], std::abs(values[i]) / 127.f);
    }
    Tensor q = Tensor::empty(DType::kInt8, w.shape());
    for (int64_t i = 0; i < w.numel(); ++i) {
      q.data<int8_t>()[i] = static_cast<int8_t>(std::nearbyint(values[i] / scales[channel_of(i)]));
    }
    g().initializers[name + "_q"] = q;
    Tensor s = axis < 0 ? Tensor::scalar(scales[0]) : Tensor::from_vector({channels}, scales);
    g().initializers[name + "_scale"] = s;
    Tensor z = axis < 0 ? Tensor::scalar(int8_t{0}) : Tensor::zeros(DType::kInt8, {channels});
    g().initializers[name + "_zero"] = z;
    weight_scales_[name] = scales;
    g().nodes.push_back(make_node("DequantizeLinear",
                                  {name + "_q", name + "_scale", name + "_zero"}, {name},
                                  {{"axis", std::max<int64_t>(axis, 0)}}));
    g().nodes.back().name = name + "_dq";
    return name;
  }
  const std::vector<float>& weight_scales(const std::string& w) const {
    return weight_scales_.at(w);
  }

  // An int32 bias with scales s_x · s_w[c] behind a DequantizeLinear (eq. (26)).
  std::string bias(const std::string& name, const Tensor& b, float x_scale,
                   const std::vector<float>& w_scales) {
    const int64_t n = b.numel();
    std::vector<float> scales(static_cast<size_t>(n));
    std::vector<int32_t> q(static_cast<size_t>(n));
    for (int64_t c = 0; c < n; ++c) {
      scales[c] = x_scale * w_scales[w_scales.size() == 1 ? 0 : c];
      q[c] = static_cast<int32_t>(std::nearbyint(b.data<float>()[c] / scales[c]));
    }
    g().initializers[name + "_q"] = Tensor::from_vector({n}, q);
    g().initializers[name + "_scale"] = Tensor::from_vector({n}, scales);
    g().initializers[name + "_zero"] = Tensor::zeros(DType::kInt32, {n});
    g().nodes.push_back(make_node("DequantizeLinear",
                                  {name + "_q", name + "_scale", name + "_zero"}, {name},
                                  {{"axis", int64_t{0}}}));
    g().nodes.back().name = name + "_dq";
    return name;
  }

  std::string op(const std::string& op_type, std::vector<std::string> inputs,
                 std::initializer_list<std::pair<std::string, AttributeValue>> attrs = {},
                 std::string domain = "") {
    const std::string out = op_type + std::to_string(count_++);
    g().nodes.push_back(make_node(op_type, std::move(inputs), {out}, attrs, std::move(domain)));
    g().nodes.back().name = out;
    return out;
  }
  std::string constant(const std::string& name, Tensor t) {
    g().initializers[name] = std::move(t);
    return name;
  }
  void output(const std::string& value) { g().outputs.push_back(value); }

  const Model& model() const { return model_; }
  const std::vector<Shape>& shapes() const { return shapes_; }

 private:
  std::pair<std::string, std::string> params(const std::string& base, float scale, int zero_point,
                                             DType type) {
    g().initializers[base + "_scale"] = Tensor::scalar(scale);
    g().initializers[base + "_zero"] = type == DType::kInt8
                                           ? Tensor::scalar(static_cast<int8_t>(zero_point))
                                           : Tensor::scalar(static_cast<uint8_t>(zero_point));
    return {base + "_scale", base + "_zero"};
  }

  Model model_;
  std::vector<Shape> shapes_;
  std::map<std::string, std::pair<std::string, std::string>> scales_;
  std::map<std::string, std::vector<float>> weight_scales_;
  int count_ = 0;
};

std::map<std::string, int> plan_ops(const Session& s, const std::vector<Shape>& shapes) {
  std::map<std::string, int> ops;
  for (const StepInfo& step : s.plan_steps(shapes)) ++ops[step.op_type];
  return ops;
}

std::string describe(const std::map<std::string, int>& ops) {
  std::string s;
  for (const auto& [op, n] : ops) s += fmt::format("{} {}, ", op, n);
  return s;
}

// The lowered graph's report (what the session would do for these input shapes).
LoweringReport report_of(const Model& m, const std::vector<Shape>& shapes) {
  Graph g = m.graph;
  infer_shapes(g);
  std::map<std::string, Shape> by_name;
  for (size_t i = 0; i < shapes.size(); ++i) by_name[g.inputs[i]] = shapes[i];
  specialize_input_shapes(g, by_name);
  return lower_qdq(g);
}

std::string float_reasons(const LoweringReport& r) {
  std::string s;
  for (const auto& f : r.float_nodes)
    s += fmt::format("{} ({}): {}; ", f.node, f.op_type, f.reason);
  return s;
}

// Runs the graph lowered and in float QDQ on `inputs`: the plan has every op of `present` and
// none of `absent`, and output i agrees within one quantum of output_scales[i] (one scale: all).
void expect_lowered(const QdqGraph& b, const std::vector<Tensor>& inputs,
                    const std::vector<float>& output_scales,
                    const std::vector<std::string>& present,
                    const std::vector<std::string>& absent) {
  const Session lowered(b.model());
  SessionOptions no_fuse;
  no_fuse.fuse = false;
  const Session qdq(b.model(), no_fuse);
  const auto ops = plan_ops(lowered, b.shapes());
  for (const auto& op : present) EXPECT_TRUE(ops.count(op)) << op << " missing: " << describe(ops);
  for (const auto& op : absent) EXPECT_FALSE(ops.count(op)) << op << " present: " << describe(ops);
  const auto got = lowered.run(inputs);
  const auto want = qdq.run(inputs);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const float scale = output_scales[output_scales.size() == 1 ? 0 : i];
    EXPECT_TRUE(testing::tensors_near(got[i], want[i], scale * (kOutputQuanta + kQuantumSlack), 0))
        << "output " << i;
  }
}

// ---- QLookup ----

TEST(QLookup, MapsEachValueThroughTheTable) {
  std::vector<int8_t> table(256);
  for (int i = 0; i < 256; ++i) table[i] = static_cast<int8_t>(127 - i / 2);
  const Node node = make_node("QLookup", {"x", "table"}, {"y"}, {}, kInternalDomain);
  const Tensor x = Tensor::from_vector<uint8_t>({2, 2}, {0, 1, 254, 255});
  const auto y = testing::run_node(node, {x, Tensor::from_vector<int8_t>({256}, table)});
  ASSERT_EQ(y[0].dtype(), DType::kInt8);
  EXPECT_EQ(y[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(std::vector<int8_t>(y[0].values<int8_t>().begin(), y[0].values<int8_t>().end()),
            (std::vector<int8_t>{127, 127, 0, 0}));
  // s8 input: index x − (−128).
  std::vector<uint8_t> identity(256);
  for (int i = 0; i < 256; ++i) identity[i] = static_cast<uint8_t>(i);
  const Tensor xs = Tensor::from_vector<int8_t>({3}, {-128, 0, 127});
  const auto ys = testing::run_node(node, {xs, Tensor::from_vector<uint8_t>({256}, identity)});
  EXPECT_EQ(std::vector<uint8_t>(ys[0].values<uint8_t>().begin(), ys[0].values<uint8_t>().end()),
            (std::vector<uint8_t>{0, 128, 255}));
  const Tensor empty = Tensor::empty(DType::kUInt8, {0, 3});
  EXPECT_EQ(
      testing::run_node(node, {empty, Tensor::from_vector<uint8_t>({256}, identity)})[0].shape(),
      (Shape{0, 3}));
}

TEST(QLookup, InfersAndRejectsBadTables) {
  const Node node = make_node("QLookup", {"x", "table"}, {"y"}, {}, kInternalDomain);
  const auto out =
      testing::infer_node(node, {ValueInfo{DType::kInt8, SymbolicShape{Dim("N"), 4}, ""},
                                 ValueInfo{DType::kUInt8, SymbolicShape{256}, ""}});
  EXPECT_EQ(out[0].dtype, DType::kUInt8);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N"), 4}));
  const auto unknown = testing::infer_node(node, {ValueInfo{DType::kUInt8, std::nullopt, ""},
                                                  ValueInfo{DType::kUInt8, std::nullopt, ""}});
  EXPECT_FALSE(unknown[0].shape.has_value());
  EXPECT_THROW(testing::infer_node(node, {ValueInfo{DType::kFloat32, SymbolicShape{4}, ""},
                                          ValueInfo{DType::kUInt8, SymbolicShape{256}, ""}}),
               Error);
  EXPECT_THROW(testing::infer_node(node, {ValueInfo{DType::kUInt8, SymbolicShape{4}, ""},
                                          ValueInfo{DType::kUInt8, SymbolicShape{255}, ""}}),
               Error);
  EXPECT_THROW(testing::infer_node(node, {ValueInfo{DType::kUInt8, SymbolicShape{4}, ""},
                                          ValueInfo{DType::kInt32, SymbolicShape{256}, ""}}),
               Error);
  const Tensor x = Tensor::from_vector<uint8_t>({1}, {3});
  EXPECT_THROW(testing::run_node(node, {x, Tensor::zeros(DType::kUInt8, {128})}), Error);
}

// ---- Conv ----

// x -> QDQ -> Conv(DQ w per channel, DQ bias) [-> act] -> QDQ -> y.
QdqGraph conv_graph(const char* activation, int output_zero_point, bool with_bias = true) {
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {2, 3, 6, 6}), 0.02f, 128);
  const std::string w = b.weight("w", random_tensor({4, 3, 3, 3}, 1), 0);
  std::vector<std::string> inputs = {x, w};
  if (with_bias) inputs.push_back(b.bias("b", random_tensor({4}, 2), 0.02f, b.weight_scales(w)));
  std::string y = b.op("Conv", inputs, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  if (std::string(activation) == "Relu") y = b.op("Relu", {y});
  if (std::string(activation) == "Clip") {
    y = b.op("Clip",
             {y, b.constant("lo", Tensor::scalar(-0.5f)), b.constant("hi", Tensor::scalar(0.75f))});
  }
  b.output(b.qdq(y, 0.03f, output_zero_point));
  return b;
}

TEST(LowerQdq, ConvBecomesQLinearConv) {
  const QdqGraph b = conv_graph("", 128);
  expect_lowered(b, {random_tensor({2, 3, 6, 6}, 3)}, {0.03f}, {"QLinearConv"}, {"Conv"});
  const QdqGraph no_bias = conv_graph("", 100, false);
  expect_lowered(no_bias, {random_tensor({2, 3, 6, 6}, 4)}, {0.03f}, {"QLinearConv"}, {"Conv"});
  const LoweringReport r = report_of(b.model(), b.shapes());
  EXPECT_EQ(r.units, 1);
  EXPECT_EQ(r.lowered.at("Conv -> QLinearConv"), 1);
}

TEST(LowerQdq, ReluBeforeAZeroPointAtTheBottomIsDropped) {
  // Q with z = 0 (u8) already clamps at 0: quantize(relu(r)) = quantize(r).
  const QdqGraph b = conv_graph("Relu", 0);
  expect_lowered(b, {random_tensor({2, 3, 6, 6}, 5)}, {0.03f}, {"QLinearConv"},
                 {"Conv", "Relu", "QLookup", "QFusedConv"});
}

TEST(LowerQdq, ActivationAfterConvBecomesAnEpilogue) {
  for (const char* act : {"Relu", "Clip"}) {
    SCOPED_TRACE(act);
    const QdqGraph b = conv_graph(act, 128);
    expect_lowered(b, {random_tensor({2, 3, 6, 6}, 6)}, {0.03f}, {"QFusedConv"},
                   {"Conv", "Relu", "Clip", "QLookup", "QLinearConv"});
  }
}

// Cross-layer equalization's ReLU6: Relu, then Min with one bound per channel (eq. (85)), then
// the Q. The unit is lowered and the quantized bounds become QFusedConv's y_max (eq. (50) per
// channel, eq. (157)). The bounds cut some channels (0.05, 0.2) and not others (5.0).
TEST(LowerQdq, PerChannelBoundAfterAConvReluJoinsItsEpilogue) {
  for (int zero_point : {0, 20}) {
    SCOPED_TRACE(zero_point);
    QdqGraph b;
    const std::string x = b.qdq(b.input("x", {2, 3, 6, 6}), 0.02f, 128);
    const std::string w = b.weight("w", random_tensor({4, 3, 3, 3}, 1), 0);
    std::string y = b.op("Conv", {x, w}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
    y = b.op("Relu", {y});
    y = b.op("Min",
             {y, b.constant("bound", testing::make<float>({4, 1, 1}, {0.05f, 0.2f, 5.f, 0.2f}))});
    b.output(b.qdq(y, 0.01f, zero_point));
    const LoweringReport r = report_of(b.model(), b.shapes());
    EXPECT_TRUE(r.float_nodes.empty()) << float_reasons(r);
    expect_lowered(b, {random_tensor({2, 3, 6, 6}, 40)}, {0.01f}, {"QFusedConv"},
                   {"Conv", "Relu", "Min"});
  }
  // One bound for all channels (Min(Relu(y), 0.2): a ReLU6 written with Min) is a clamp of the
  // convolution's epilogue.
  {
    QdqGraph b;
    const std::string x = b.qdq(b.input("x", {2, 3, 6, 6}), 0.02f, 128);
    const std::string w = b.weight("w", random_tensor({4, 3, 3, 3}, 1), 0);
    std::string y = b.op("Relu", {b.op("Conv", {x, w})});
    y = b.op("Min", {y, b.constant("bound", Tensor::scalar(0.2f))});
    b.output(b.qdq(y, 0.01f, 0));
    expect_lowered(b, {random_tensor({2, 3, 6, 6}, 42)}, {0.01f}, {"QFusedConv"},
                   {"Conv", "Relu", "Min"});
  }
  // A bound along another axis (the width, [1, 1, 4]) keeps the unit in float, correct.
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {2, 3, 6, 6}), 0.02f, 128);
  const std::string w = b.weight("w", random_tensor({4, 3, 3, 3}, 1), 0);
  std::string y = b.op("Relu", {b.op("Conv", {x, w})});
  y = b.op("Min", {y, b.constant("bound", testing::make<float>({1, 1, 4}, {0.1f, 0.2f, 1, 2}))});
  b.output(b.qdq(y, 0.01f, 0));
  const LoweringReport r = report_of(b.model(), b.shapes());
  ASSERT_FALSE(r.float_nodes.empty());
  EXPECT_NE(float_reasons(r).find("no constant bound per channel"), std::string::npos)
      << float_reasons(r);
  expect_lowered(b, {random_tensor({2, 3, 6, 6}, 41)}, {0.01f}, {"FusedConv"}, {"QLinearConv"});
}

TEST(LowerQdq, ConvWithRunTimeWeightsStaysFloat) {
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {1, 2, 5, 5}), 0.02f, 128);
  const std::string w = b.qdq(b.input("w", {3, 2, 3, 3}), 0.01f, 0, DType::kInt8);
  b.output(b.qdq(b.op("Conv", {x, w}), 0.05f, 128));
  const LoweringReport r = report_of(b.model(), b.shapes());
  ASSERT_EQ(r.float_nodes.size(), 1u) << float_reasons(r);
  EXPECT_EQ(r.float_nodes[0].op_type, "Conv");
  EXPECT_EQ(r.float_nodes[0].reason, "weights not constant");
  expect_lowered(b, {random_tensor({1, 2, 5, 5}, 7), random_tensor({3, 2, 3, 3}, 8)}, {0.05f}, {},
                 {"QLinearConv", "QFusedConv"});
}

TEST(LowerQdq, ConvWithOtherBiasScaleIsRequantized) {
  // An int32 bias at other scales than s_x·s_w[c] (an exporter's shared bias) is requantized to
  // the accumulator's scales (eq. (131)); one at scales too fine for int32 stays float.
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {1, 2, 5, 5}), 0.02f, 128);
  const std::string w = b.weight("w", random_tensor({3, 2, 3, 3}, 9), 0);
  std::vector<float> wrong = b.weight_scales(w);
  for (float& s : wrong) s *= 2.f;
  const std::string bias = b.bias("b", random_tensor({3}, 10), 0.02f, wrong);
  b.output(b.qdq(b.op("Conv", {x, w, bias}), 0.05f, 128));
  const LoweringReport r = report_of(b.model(), b.shapes());
  EXPECT_TRUE(r.float_nodes.empty()) << float_reasons(r);
  expect_lowered(b, {random_tensor({1, 2, 5, 5}, 11)}, {0.05f}, {"QLinearConv"}, {"Conv"});

  QdqGraph huge;
  const std::string hx = huge.qdq(huge.input("x", {1, 2, 5, 5}), 1e-6f, 128);
  const std::string hw = huge.weight("w", random_tensor({3, 2, 3, 3}, 9), 0);
  const std::string hb = huge.constant("b", Tensor::from_vector<float>({3}, {1e9f, 0.f, 1.f}));
  huge.output(huge.qdq(huge.op("Conv", {hx, hw, hb}), 0.05f, 128));
  const LoweringReport hr = report_of(huge.model(), huge.shapes());
  ASSERT_EQ(hr.float_nodes.size(), 1u) << float_reasons(hr);
  EXPECT_NE(hr.float_nodes[0].reason.find("does not fit an int32"), std::string::npos)
      << hr.float_nodes[0].reason;
}

TEST(LowerQdq, ResidualAddFusesIntoTheConv) {
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {2, 4, 5, 5}), 0.02f, 128);
  const std::string w = b.weight("w", random_tensor({4, 4, 3, 3}, 12), 0);
  const std::string c =
      b.qdq(b.op("Conv", {x, w}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}), 0.04f, 120);
  const std::string y = b.op("Relu", {b.op("Add", {x, c})});
  b.output(b.qdq(y, 0.05f, 10));
  expect_lowered(b, {random_tensor({2, 4, 5, 5}, 13)}, {0.05f}, {"QFusedConv"},
                 {"Conv", "Add", "QLinearAdd", "Relu", "QLookup"});
  const LoweringReport r = report_of(b.model(), b.shapes());
  EXPECT_EQ(r.lowered.at("Conv+Add -> QFusedConv"), 1);
}

// ---- MatMul, Gemm ----

TEST(LowerQdq, MatMulWithConstantOrRunTimeOperands) {
  QdqGraph b;
  const std::string a = b.qdq(b.input("a", {2, 3, 8}), 0.01f, 128);
  const std::string w = b.weight("w", random_tensor({8, 5}, 14), 1);  // per column
  b.output(b.qdq(b.op("MatMul", {a, w}), 0.02f, 128));
  const std::string c = b.qdq(b.input("c", {2, 8, 4}), 0.01f, 120);
  b.output(b.qdq(b.op("MatMul", {a, c}), 0.03f, 128, DType::kUInt8));
  expect_lowered(b, {random_tensor({2, 3, 8}, 15), random_tensor({2, 8, 4}, 16)}, {0.02f, 0.03f},
                 {"QLinearMatMul"}, {"MatMul"});
  EXPECT_EQ(report_of(b.model(), b.shapes()).lowered.at("MatMul -> QLinearMatMul"), 2);
}

// quench's own linear layer on a 3-D input: MatMul by a constant weight, the Add of a float row,
// [Relu], then the Q; QFusedMatMul with the row as its int32 bias (eq. (131)).
TEST(LowerQdq, MatMulWithAFloatBiasRowBecomesQFusedMatMul) {
  for (bool relu : {false, true}) {
    SCOPED_TRACE(relu ? "relu" : "no activation");
    QdqGraph b;
    const std::string a = b.qdq(b.input("a", {2, 3, 8}), 0.01f, 128);
    const std::string w = b.weight("w", random_tensor({8, 5}, 14), 1);  // per column
    std::string y =
        b.op("Add", {b.constant("bias", random_tensor({5}, 70)), b.op("MatMul", {a, w})});
    if (relu) y = b.op("Relu", {y});
    b.output(b.qdq(y, 0.02f, relu ? 0 : 128));
    const LoweringReport r = report_of(b.model(), b.shapes());
    EXPECT_EQ(r.lowered.at("MatMul+Add -> QFusedMatMul"), 1) << float_reasons(r);
    expect_lowered(b, {random_tensor({2, 3, 8}, 71)}, {0.02f}, {"QFusedMatMul"},
                   {"MatMul", "Add", "Relu", "QGemm"});
  }
}

TEST(LowerQdq, GemmWithoutBiasBecomesQLinearMatMul) {
  QdqGraph b;
  const std::string a = b.qdq(b.input("a", {3, 8}), 0.01f, 128);
  const std::string w = b.weight("w", random_tensor({5, 8}, 17), 0);
  b.output(b.qdq(b.op("Gemm", {a, w}, {{"transB", int64_t{1}}, {"alpha", 0.5f}}), 0.01f, 128));
  expect_lowered(b, {random_tensor({3, 8}, 18)}, {0.01f}, {"QLinearMatMul"}, {"Gemm"});
}

TEST(LowerQdq, GemmWithInt32BiasBecomesQFusedMatMul) {
  QdqGraph b;
  const std::string a = b.qdq(b.input("a", {3, 8}), 0.01f, 128);
  const std::string w = b.weight("w", random_tensor({5, 8}, 19), 0);
  const std::string bias = b.bias("bias", random_tensor({5}, 20), 0.01f, b.weight_scales(w));
  const std::string y = b.op("Relu", {b.op("Gemm", {a, w, bias}, {{"transB", int64_t{1}}})});
  b.output(b.qdq(y, 0.01f, 100));
  expect_lowered(b, {random_tensor({3, 8}, 21)}, {0.01f}, {"QFusedMatMul"}, {"Gemm", "Relu"});
}

// A classifier's last Gemm: its logits are a graph output, not quantized. com.microsoft QGemm
// with a float output (eq. (39)), the float bias as an int32 at the accumulator's scale, alpha and
// transB kept; the same floats as the QDQ graph within float rounding.
TEST(LowerQdq, GemmWithAFloatResultBecomesQGemm) {
  for (bool float_bias : {false, true}) {
    QdqGraph b;
    const std::string a = b.qdq(b.input("a", {3, 8}), 0.01f, 128);
    const std::string w = b.weight("w", random_tensor({5, 8}, 37), 0);
    const std::string bias =
        float_bias ? b.constant("bias", random_tensor({5}, 38))
                   : b.bias("bias", random_tensor({5}, 38), 0.01f, b.weight_scales(w));
    b.output(b.op("Gemm", {a, w, bias}, {{"transB", int64_t{1}}, {"alpha", 0.5f}}));
    const LoweringReport r = report_of(b.model(), b.shapes());
    EXPECT_TRUE(r.float_nodes.empty()) << float_reasons(r);
    // Float bias: rounded to the accumulator's scale 0.5 · 0.01 · s_w, off by at most half of it.
    expect_lowered(b, {random_tensor({3, 8}, 39)}, {float_bias ? 2e-5f : 1e-5f}, {"QGemm"},
                   {"Gemm"});
  }
}

// NNCF's linear layers: DQ(A) -> MatMul(DQ(W) per column) -> Add(constant row) -> float ops.
// The MatMul and its bias Add become one float-output QGemm, on A's rows as a matrix (Reshapes
// around it for a 3-D A); the Add of a product also read elsewhere is not absorbed. Agreement with
// the float QDQ graph: float rounding and the bias off by at most half an accumulator step (eq.
// (131)).
TEST(LowerQdq, MatMulWithAFloatResultBecomesQGemm) {
  for (const Shape& a_shape : {Shape{3, 8}, Shape{2, 3, 8}}) {
    for (bool absorb : {true, false}) {
      SCOPED_TRACE(fmt::format("{}, absorb {}", shape_str(a_shape), absorb));
      QdqGraph b;
      const std::string a = b.qdq(b.input("a", a_shape), 0.01f, 128);
      const std::string w = b.weight("w", random_tensor({8, 5}, 65), 1);
      const std::string product = b.op("MatMul", {a, w});
      b.output(b.op("Add", {product, b.constant("bias", random_tensor({5}, 66))}));
      if (!absorb) b.output(product);
      const LoweringReport r = report_of(b.model(), b.shapes());
      EXPECT_EQ(r.lowered.at(absorb ? "MatMul+Add -> QGemm" : "MatMul -> QGemm"), 1)
          << float_reasons(r);
      // Half an accumulator step (0.01 · s_w, s_w <= 1/127: 3.9e-5) plus float rounding.
      expect_lowered(b, {random_tensor(a_shape, 67)}, {5e-5f}, {"QGemm"}, {"MatMul"});
    }
  }
}

TEST(LowerQdq, GemmWithFloatCStaysFloat) {
  QdqGraph b;
  const std::string a = b.qdq(b.input("a", {3, 8}), 0.01f, 128);
  const std::string w = b.weight("w", random_tensor({8, 5}, 22), 1);
  const std::string c = b.constant("c", random_tensor({3, 5}, 23));
  b.output(b.qdq(b.op("Gemm", {a, w, c}, {{"beta", 0.5f}}), 0.01f, 128));
  const LoweringReport r = report_of(b.model(), b.shapes());
  ASSERT_EQ(r.float_nodes.size(), 1u);
  EXPECT_EQ(r.float_nodes[0].op_type, "Gemm");
  expect_lowered(b, {random_tensor({3, 8}, 24)}, {0.01f}, {}, {"QLinearMatMul", "QFusedMatMul"});
}

// ---- element-wise, concat, pooling, data movement ----

TEST(LowerQdq, AddAndMulBecomeQLinearOps) {
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {2, 3, 4}), 0.01f, 128);
  const std::string y = b.qdq(b.input("y", {3, 1}), 0.02f, 100);  // broadcast
  b.output(b.qdq(b.op("Relu", {b.op("Add", {x, y})}), 0.02f, 128));
  b.output(b.qdq(b.op("Mul", {x, y}), 0.005f, 128));
  expect_lowered(b, {random_tensor({2, 3, 4}, 25), random_tensor({3, 1}, 26)}, {0.02f, 0.005f},
                 {"QLinearAdd", "QLinearMul", "QLookup"}, {"Add", "Mul", "Relu"});
}

TEST(LowerQdq, ConcatBecomesQLinearConcat) {
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {2, 3, 4}), 0.01f, 128);
  const std::string y = b.qdq(b.input("y", {2, 2, 4}), 0.02f, 100);
  b.output(b.qdq(b.op("Concat", {x, y, x}, {{"axis", int64_t{-2}}}), 0.02f, 128));
  expect_lowered(b, {random_tensor({2, 3, 4}, 27), random_tensor({2, 2, 4}, 28)}, {0.02f},
                 {"QLinearConcat"}, {"Concat"});
}

TEST(LowerQdq, MaxPoolRunsOnInt8DataWhenParamsAgree) {
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {1, 2, 6, 6}), 0.01f, 0, DType::kInt8);
  const auto attrs = {
      std::pair<std::string, AttributeValue>{"kernel_shape", std::vector<int64_t>{2, 2}},
      std::pair<std::string, AttributeValue>{"strides", std::vector<int64_t>{2, 2}}};
  b.output(b.qdq(b.op("MaxPool", {x}, attrs), 0.01f, 0, DType::kInt8));
  const auto inputs = std::vector<Tensor>{random_tensor({1, 2, 6, 6}, 29)};
  const Session lowered(b.model());
  SessionOptions no_fuse;
  no_fuse.fuse = false;
  // Exact: the lowered MaxPool reads the same 8-bit values the float one dequantizes.
  EXPECT_TRUE(lowered.run(inputs)[0].equals(Session(b.model(), no_fuse).run(inputs)[0]));
  const LoweringReport r = report_of(b.model(), b.shapes());
  EXPECT_EQ(r.lowered.at("MaxPool -> MaxPool"), 1);
  EXPECT_TRUE(r.float_nodes.empty()) << float_reasons(r);
}

TEST(LowerQdq, MaxPoolWithOtherOutputParamsStaysFloat) {
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {1, 2, 6, 6}), 0.01f, 128);
  b.output(b.qdq(b.op("MaxPool", {x}, {{"kernel_shape", std::vector<int64_t>{3, 3}}}), 0.02f, 128));
  const LoweringReport r = report_of(b.model(), b.shapes());
  ASSERT_EQ(r.float_nodes.size(), 1u);
  EXPECT_EQ(r.float_nodes[0].reason, "Q params differ from input's");
  EXPECT_EQ(r.units, 0);
  expect_lowered(b, {random_tensor({1, 2, 6, 6}, 30)}, {0.02f}, {"MaxPool"}, {});
}

TEST(LowerQdq, DequantizeSinksBelowMaxPoolAndFlattenReadWithoutAQ) {
  // NNCF's form: DQ -> MaxPool read by a Conv and a Flatten without a QuantizeLinear after it.
  // The DQ moves below MaxPool and Flatten (eq. (132)); the Conv sees a DQ and is lowered.
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {1, 2, 6, 6}), 0.02f, 128);
  const std::string pooled = b.op("MaxPool", {x}, {{"kernel_shape", std::vector<int64_t>{2, 2}}});
  const std::string w = b.weight("w", random_tensor({3, 2, 3, 3}, 40), 0);
  b.output(b.qdq(b.op("Conv", {pooled, w}), 0.05f, 120));
  b.output(b.op("Flatten", {pooled}));
  const LoweringReport r = report_of(b.model(), b.shapes());
  EXPECT_TRUE(r.float_nodes.empty()) << float_reasons(r);
  EXPECT_EQ(r.lowered.at("Conv -> QLinearConv"), 1);
  const auto inputs = std::vector<Tensor>{random_tensor({1, 2, 6, 6}, 41)};
  expect_lowered(b, inputs, {0.05f, 0.f}, {"QLinearConv", "MaxPool", "Flatten"}, {"Conv"});
  // The pooled and flattened values are exact: max and movement commute with s(x - z).
  SessionOptions no_fuse;
  no_fuse.fuse = false;
  EXPECT_TRUE(Session(b.model()).run(inputs)[1].equals(Session(b.model(), no_fuse).run(inputs)[1]));
}

TEST(LowerQdq, DequantizeStaysAboveAnOpThatIsQuantizedAgain) {
  // DQ -> MaxPool -> Q with other parameters (ORT's form): the DQ is not moved, so the lowering's
  // same-parameters rule decides (here: float, as before).
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {1, 2, 6, 6}), 0.01f, 128);
  b.output(b.qdq(b.op("MaxPool", {x}, {{"kernel_shape", std::vector<int64_t>{3, 3}}}), 0.02f, 128));
  Model m = b.model();
  topological_sort(m.graph);
  EXPECT_EQ(sink_dequantize(m.graph), 0);
}

TEST(LowerQdq, ResidualAddOfMixedTypesFusesIntoTheConv) {
  // NNCF quantizes a conv's output before a residual add as int8 and the add's other operand and
  // output as uint8: no QLinearAdd takes that, but the fused sum may have its own type.
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {2, 4, 5, 5}), 0.02f, 128);
  const std::string w = b.weight("w", random_tensor({4, 4, 3, 3}, 42), 0);
  const std::string c = b.qdq(b.op("Conv", {x, w}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}),
                              0.04f, 0, DType::kInt8);
  b.output(b.qdq(b.op("Relu", {b.op("Add", {x, c})}), 0.05f, 0));
  expect_lowered(b, {random_tensor({2, 4, 5, 5}, 43)}, {0.05f}, {"QFusedConv"},
                 {"Conv", "Add", "QLinearAdd"});
  const LoweringReport r = report_of(b.model(), b.shapes());
  EXPECT_EQ(r.lowered.at("Conv+Add -> QFusedConv"), 1);
  EXPECT_TRUE(r.float_nodes.empty()) << float_reasons(r);

  // Without a convolution to merge into, the add of mixed types stays in float and says why.
  QdqGraph plain;
  const std::string in = plain.input("x", {1, 4});
  const std::string a = plain.qdq(in, 0.02f, 0, DType::kInt8);
  plain.output(plain.qdq(plain.op("Add", {a, plain.qdq(in, 0.03f, 128)}), 0.05f, 128));
  const LoweringReport pr = report_of(plain.model(), plain.shapes());
  ASSERT_EQ(pr.float_nodes.size(), 1u) << float_reasons(pr);
  EXPECT_EQ(pr.float_nodes[0].reason,
            "operands int8 and uint8 with output uint8: QLinearAdd needs one type");
  expect_lowered(plain, {random_tensor({1, 4}, 44)}, {0.05f}, {"Add"}, {"QLinearAdd"});
}

TEST(LowerQdq, PerChannelActivationsOfADepthwiseConvFoldIntoWeightScales) {
  // NNCF's depthwise blocks: Conv -> Clip(0, 6) -> Q per channel (u8, zero point 0) -> DQ ->
  // depthwise Conv (two outputs per channel here). Eq. (133): the per-channel scales move into the
  // weight scales of both convolutions; the clamp is one every channel's range already applies.
  auto build = [](float range) {
    QdqGraph b;
    const std::string x = b.qdq(b.input("x", {1, 4, 6, 6}), 0.02f, 128);
    const std::string w1 = b.weight("w1", random_tensor({6, 4, 1, 1}, 45), 0);
    const std::string clip = b.op(
        "Clip", {b.op("Conv", {x, w1, b.constant("b1", random_tensor({6}, 46))}),
                 b.constant("lo", Tensor::scalar(0.f)), b.constant("hi", Tensor::scalar(6.f))});
    std::vector<float> scales;
    for (float f : {0.5f, 0.8f, 1.0f, 0.3f, 0.6f, 0.9f}) scales.push_back(range * f / 255.f);
    const std::string act = b.qdq_per_channel(clip, scales, 0);
    const std::string w2 = b.weight("w2", random_tensor({12, 1, 3, 3}, 47), 0);
    const std::string dw =
        b.op("Conv", {act, w2, b.constant("b2", random_tensor({12}, 48))},
             {{"group", int64_t{6}}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
    b.output(b.qdq(dw, 0.05f, 128));
    return b;
  };
  const QdqGraph folded = build(6.f);
  const LoweringReport r = report_of(folded.model(), folded.shapes());
  EXPECT_TRUE(r.float_nodes.empty()) << float_reasons(r);
  EXPECT_EQ(r.lowered.at("Conv -> QLinearConv"), 2);
  expect_lowered(folded, {random_tensor({1, 4, 6, 6}, 49)}, {0.05f}, {"QLinearConv"},
                 {"Conv", "Clip"});

  // Channel ranges up to 12: Clip(0, 6) clamps inside them, which the folded scales cannot
  // express; the first conv stays float and says so, the depthwise one is still lowered.
  const QdqGraph clamped = build(12.f);
  const LoweringReport cr = report_of(clamped.model(), clamped.shapes());
  ASSERT_FALSE(cr.float_nodes.empty());
  EXPECT_NE(cr.float_nodes[0].reason.find("after a clamp its range does not apply"),
            std::string::npos)
      << float_reasons(cr);
  EXPECT_EQ(cr.lowered.at("Conv -> QLinearConv"), 1);
  expect_lowered(clamped, {random_tensor({1, 4, 6, 6}, 50)}, {0.05f}, {"QLinearConv", "FusedConv"},
                 {});
}

// NNCF's squeeze-excite block: each Conv's float result goes through Sigmoid and Mul (swish)
// before its Q -- per channel (u8) before the depthwise conv, per tensor (s8) after it -- and the
// excite Mul multiplies the s8 activation by a u8 sigmoid gate into s8. Both convolutions become
// QFusedConv with the swish in their epilogue (eq. (150); steps per channel for the first), the
// gate is retyped to s8 at its Q (eq. (151)) and the Mul becomes QLinearMul; the squeeze averages
// the 8-bit data into a float result (eq. (152)), and its float convolution and sigmoid, which
// the file leaves unquantized, stay in float. The fast kernels (oneDNN) and the reference
// kernels agree with the float QDQ execution
// within one step of each convolution's output (0.004-0.007, 0.01) and two of the excite Mul's
// (0.008: one step of its input times the gate, plus its own rounding).
TEST(LowerQdq, SwishAfterAConvAndAMixedTypeExciteMulAreLowered) {
  constexpr float kTolerance = 0.016f;
  for (int64_t C : {int64_t{6}, int64_t{16}}) {
    SCOPED_TRACE(C);
    std::vector<float> steps;
    for (int64_t c = 0; c < C; ++c) steps.push_back(0.004f + 0.0005f * static_cast<float>(c % 7));
    QdqGraph b;
    const std::string x = b.qdq(b.input("x", {1, 4, 6, 6}), 0.02f, 128);
    const std::string w1 = b.weight("w1", random_tensor({C, 4, 1, 1}, 52), 0);
    const std::string c1 = b.op("Conv", {x, w1, b.constant("b1", random_tensor({C}, 53))});
    const std::string s1 = b.op("Mul", {c1, b.op("Sigmoid", {c1})});
    const std::string act = b.qdq_per_channel(s1, steps, 20);
    const std::string w2 = b.weight("w2", random_tensor({C, 1, 3, 3}, 54), 0);
    const std::string c2 = b.op("Conv", {act, w2, b.constant("b2", random_tensor({C}, 55))},
                                {{"group", C}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
    const std::string a = b.qdq(b.op("Mul", {b.op("Sigmoid", {c2}), c2}), 0.01f, -10, DType::kInt8);
    const std::string squeeze = b.op("Conv", {b.op("GlobalAveragePool", {a}),
                                              b.constant("w3", random_tensor({C, C, 1, 1}, 56))});
    const std::string gate = b.qdq(b.op("Sigmoid", {squeeze}), 1.f / 255.f, 0);
    b.output(b.qdq(b.op("Mul", {a, gate}), 0.008f, 3, DType::kInt8));
    b.output(a);
    b.output(act);

    const LoweringReport r = report_of(b.model(), b.shapes());
    EXPECT_EQ(r.lowered.at("Conv+Swish -> QFusedConv"), 2) << float_reasons(r);
    EXPECT_EQ(r.lowered.at("Mul -> QLinearMul"), 1) << float_reasons(r);
    EXPECT_EQ(r.lowered.at("GlobalAveragePool -> DequantizeGlobalAveragePool"), 1);
    for (const auto& f : r.float_nodes) {
      EXPECT_TRUE(f.op_type == "Conv" || f.op_type == "Sigmoid") << float_reasons(r);
    }
    for (const Tensor& input : {random_tensor({1, 4, 6, 6}, 57), random_tensor({1, 4, 6, 6}, 58)}) {
      expect_lowered(b, {input}, {kTolerance}, {"QFusedConv", "QLinearMul"}, {"Mul", "Swish"});
      SessionOptions reference;
      reference.fast_kernels = false;
      SessionOptions reference_qdq = reference;
      reference_qdq.fuse = false;
      const auto got = Session(b.model(), reference).run({input});
      const auto want = Session(b.model(), reference_qdq).run({input});
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_TRUE(testing::tensors_near(got[i], want[i], kTolerance, 0)) << "output " << i;
      }
    }
  }
}

// Eq. (151): a uint8 operand of an int8 Mul is retyped at its QuantizeLinear (zero point z − 128,
// or −128 where the Q has none) when only DequantizeLinear nodes read it; a value another op reads
// keeps its type, and its Mul stays in float.
TEST(LowerQdq, MixedTypeMulOperandIsRetypedAtItsQuantize) {
  for (bool without_zero_point : {false, true}) {
    SCOPED_TRACE(without_zero_point);
    QdqGraph b;
    const std::string in = b.input("x", {2, 8});
    const std::string a = b.qdq(in, 0.02f, 5, DType::kInt8);
    std::string gate = b.quantize(b.op("Sigmoid", {in}), 1.f / 255.f, 0);
    if (without_zero_point) b.g().nodes.back().inputs.resize(2);
    Node dq = b.g().nodes.back();
    dq.op_type = "DequantizeLinear";
    dq.inputs[0] = gate;
    dq.outputs = {gate + "_dq"};
    dq.name = dq.outputs[0];
    b.g().nodes.push_back(dq);
    b.output(b.qdq(b.op("Mul", {a, dq.outputs[0]}), 0.01f, -3, DType::kInt8));
    Graph g = b.model().graph;
    infer_shapes(g);
    EXPECT_EQ(retype_quantized_operands(g), 1);
    for (const Node& node : g.nodes) {
      if (node.op_type != "QuantizeLinear" || node.outputs[0] != gate) continue;
      const Tensor* z = g.initializer(node.input(2));
      ASSERT_NE(z, nullptr);
      EXPECT_TRUE(z->equals(Tensor::scalar(int8_t{-128})));
    }
    const LoweringReport r = report_of(b.model(), b.shapes());
    EXPECT_EQ(r.lowered.at("Mul -> QLinearMul"), 1) << float_reasons(r);
    expect_lowered(b, {random_tensor({2, 8}, 64)}, {0.01f}, {"QLinearMul"}, {"Mul"});

    b.output(gate);  // read as it is: it keeps its type
    Graph kept = b.model().graph;
    infer_shapes(kept);
    EXPECT_EQ(retype_quantized_operands(kept), 0);
    const LoweringReport kr = report_of(b.model(), b.shapes());
    EXPECT_FALSE(kr.lowered.count("Mul -> QLinearMul"));
  }
}

// Any activation of ops/activation.h between a Conv's float result and its Q becomes the
// epilogue of a QFusedConv (eq. (150)), dense or depthwise, per-tensor output steps.
TEST(LowerQdq, ActivationOnAConvsFloatResultBecomesAnEpilogue) {
  for (const char* act : {"Sigmoid", "Tanh", "HardSwish", "LeakyRelu"}) {
    for (int64_t channels : {int64_t{6}, int64_t{16}}) {
      for (int64_t groups : {int64_t{1}, channels}) {
        SCOPED_TRACE(fmt::format("{}, {} channels, {} groups", act, channels, groups));
        QdqGraph b;
        const Shape in = {1, channels, 5, 5};
        const std::string x = b.qdq(b.input("x", in), 0.02f, 128);
        const std::string w =
            b.weight("w", random_tensor({channels, channels / groups, 3, 3}, 61), 0);
        const std::string c = b.op("Conv", {x, w, b.constant("b", random_tensor({channels}, 62))},
                                   {{"group", groups}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
        b.output(b.qdq(b.op(act, {c}), 0.01f, 100, DType::kInt8));
        const LoweringReport r = report_of(b.model(), b.shapes());
        EXPECT_EQ(r.lowered.at(fmt::format("Conv+{} -> QFusedConv", act)), 1) << float_reasons(r);
        expect_lowered(b, {random_tensor(in, 63)}, {0.01f}, {"QFusedConv"}, {"Conv"});
      }
    }
  }
}

// A Mul(x, Sigmoid(x)) of float values becomes one Swish node, fused into the float Conv before
// it; the result agrees with the unfused graph.
TEST(LowerQdq, FloatSwishFusesIntoTheConv) {
  QdqGraph b;
  const std::string c =
      b.op("Conv", {b.input("x", {1, 3, 5, 5}), b.constant("w", random_tensor({4, 3, 3, 3}, 59))});
  b.output(b.op("Mul", {b.op("Sigmoid", {c}), c}));
  Graph g = b.model().graph;
  EXPECT_EQ(fuse_swish(g), 1);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[1].op_type, "Swish");
  SessionOptions no_fuse;
  no_fuse.fuse = false;
  const Tensor input = random_tensor({1, 3, 5, 5}, 60);
  std::map<std::string, int> ops;
  const Session fused(b.model());
  for (const StepInfo& step : fused.plan_steps(b.shapes())) ++ops[step.op_type];
  EXPECT_TRUE(ops.count("FusedConv"));
  EXPECT_FALSE(ops.count("Mul") || ops.count("Sigmoid") || ops.count("Swish"));
  EXPECT_TRUE(testing::tensors_near(fused.run({input})[0],
                                    Session(b.model(), no_fuse).run({input})[0], 1e-5, 1e-5));
  // Alone (no producer to fuse into), the Swish runs on quench's loop (eq. (164)), against the
  // internal op's reference kernel.
  QdqGraph alone;
  const std::string x = alone.input("x", {2, 40});
  alone.output(alone.op("Mul", {x, alone.op("Sigmoid", {x})}));
  SessionOptions reference;
  reference.fast_kernels = false;
  const Tensor in = random_tensor({2, 40}, 61);
  const Session fast(alone.model());
  bool on_loop = false;
  for (const StepInfo& step : fast.plan_steps(alone.shapes())) {
    on_loop |= step.op_type == "Swish" && step.impl == "x86:swish";
  }
  EXPECT_TRUE(on_loop);
  EXPECT_TRUE(testing::tensors_near(fast.run({in})[0],
                                    Session(alone.model(), reference).run({in})[0], 1e-6, 1e-5));
}

TEST(LowerQdq, PerChannelActivationsOfAnOrdinaryConvStayFloat) {
  QdqGraph b;
  const std::string x = b.qdq_per_channel(b.input("x", {1, 2, 5, 5}), {0.01f, 0.02f}, 128);
  b.output(b.qdq(b.op("Conv", {x, b.weight("w", random_tensor({3, 2, 3, 3}, 51), 0)}), 0.05f, 128));
  const LoweringReport r = report_of(b.model(), b.shapes());
  ASSERT_EQ(r.float_nodes.size(), 1u);
  EXPECT_NE(r.float_nodes[0].reason.find("quantized per axis (not into a depthwise conv)"),
            std::string::npos)
      << r.float_nodes[0].reason;
}

TEST(LowerQdq, AveragePoolsBecomeQLinearPools) {
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {2, 3, 5, 5}), 0.01f, 128);
  b.output(b.qdq(b.op("AveragePool", {x},
                      {{"kernel_shape", std::vector<int64_t>{3, 3}},
                       {"pads", std::vector<int64_t>{1, 1, 1, 1}},
                       {"count_include_pad", int64_t{1}}}),
                 0.005f, 128));
  b.output(b.qdq(b.op("GlobalAveragePool", {x}), 0.004f, 128));
  expect_lowered(b, {random_tensor({2, 3, 5, 5}, 31)}, {0.005f, 0.004f},
                 {"QLinearAveragePool", "QLinearGlobalAveragePool"},
                 {"AveragePool", "GlobalAveragePool"});
}

TEST(LowerQdq, DataMovementRunsOnInt8Data) {
  QdqGraph b;
  const float s = 0.01f;
  const int z = 128;
  std::string v = b.qdq(b.input("x", {2, 3, 4}), s, z);
  v = b.qdq(b.op("Transpose", {v}, {{"perm", std::vector<int64_t>{0, 2, 1}}}), s, z);
  v = b.qdq(
      b.op("Reshape", {v, b.constant("shape", Tensor::from_vector<int64_t>({3}, {2, 1, 12}))}), s,
      z);
  v = b.qdq(b.op("Squeeze", {v, b.constant("axes", Tensor::from_vector<int64_t>({1}, {1}))}), s, z);
  v = b.qdq(b.op("Unsqueeze", {v, b.constant("axes2", Tensor::from_vector<int64_t>({1}, {-1}))}), s,
            z);
  v = b.qdq(b.op("Slice", {v, b.constant("starts", Tensor::from_vector<int64_t>({1}, {2})),
                           b.constant("ends", Tensor::from_vector<int64_t>({1}, {10})),
                           b.constant("axis1", Tensor::from_vector<int64_t>({1}, {1}))}),
            s, z);
  v = b.qdq(b.op("Gather", {v, b.constant("idx", Tensor::from_vector<int64_t>({2}, {3, -1}))},
                 {{"axis", int64_t{1}}}),
            s, z);
  b.output(b.qdq(b.op("Flatten", {v}), s, z));
  const auto inputs = std::vector<Tensor>{random_tensor({2, 3, 4}, 32)};
  const Session lowered(b.model());
  SessionOptions no_fuse;
  no_fuse.fuse = false;
  EXPECT_TRUE(lowered.run(inputs)[0].equals(Session(b.model(), no_fuse).run(inputs)[0]));
  const LoweringReport r = report_of(b.model(), b.shapes());
  EXPECT_EQ(r.units, 7);
  EXPECT_TRUE(r.float_nodes.empty()) << float_reasons(r);
}

TEST(LowerQdq, ElementwiseFunctionsBecomeTables) {
  struct Case {
    const char* op;
    std::vector<std::pair<std::string, AttributeValue>> attrs;  // owned: no dangling list
  };
  const std::vector<Case> cases = {{"Sigmoid", {}},   {"Tanh", {}},
                                   {"Relu", {}},      {"HardSigmoid", {{"alpha", 0.3f}}},
                                   {"HardSwish", {}}, {"LeakyRelu", {{"alpha", 0.2f}}}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.op);
    for (DType type : {DType::kUInt8, DType::kInt8}) {
      QdqGraph b;
      const int z = type == DType::kUInt8 ? 128 : 0;
      const std::string x = b.qdq(b.input("x", {4, 50}), 0.05f, z, type);
      const std::string y = b.op(c.op, {x});
      for (const auto& [key, value] : c.attrs) b.g().nodes.back().set_attr(key, value);
      b.output(b.qdq(y, 0.01f, z, type));
      expect_lowered(b, {random_tensor({4, 50}, 33, -6.f, 6.f)}, {0.01f}, {"QLookup"}, {c.op});
    }
  }
}

TEST(LowerQdq, ClipAndExactGeluBecomeTables) {
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {4, 50}), 0.05f, 128);
  b.output(b.qdq(b.op("Clip", {x, b.constant("lo", Tensor::scalar(-1.f)),
                               b.constant("hi", Tensor::scalar(2.f))}),
                 0.02f, 128));
  // 0.5 · x · (1 + erf(x / √2)), as PyTorch exports it.
  const std::string erf =
      b.op("Erf", {b.op("Div", {x, b.constant("sqrt2", Tensor::scalar(std::sqrt(2.f)))})});
  const std::string gelu =
      b.op("Mul", {b.op("Mul", {x, b.op("Add", {erf, b.constant("one", Tensor::scalar(1.f))})}),
                   b.constant("half", Tensor::scalar(0.5f))});
  b.output(b.qdq(gelu, 0.02f, 20));
  expect_lowered(b, {random_tensor({4, 50}, 34, -6.f, 6.f)}, {0.02f}, {"QLookup"},
                 {"Clip", "Gelu", "Erf"});
  EXPECT_EQ(report_of(b.model(), b.shapes()).lowered.at("Gelu -> QLookup"), 1);
}

TEST(LowerQdq, ElementwiseChainsBecomeOneTable) {
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {4, 50}), 0.05f, 128);
  // DQ -> Div(√2) -> Erf -> Q, as ONNX Runtime's quantizer splits the exact GELU.
  const std::string erf =
      b.op("Erf", {b.op("Div", {x, b.constant("sqrt2", Tensor::scalar(std::sqrt(2.f)))})});
  b.output(b.qdq(erf, 1.f / 127, 0, DType::kInt8));
  // A scalar on the left: exp(1 − x).
  const std::string e = b.op("Exp", {b.op("Sub", {b.constant("one", Tensor::scalar(1.f)), x})});
  b.output(b.qdq(e, 0.1f, 0));
  expect_lowered(b, {random_tensor({4, 50}, 38, -5.f, 5.f)}, {1.f / 127, 0.1f}, {"QLookup"},
                 {"Div", "Erf", "Sub", "Exp"});
  const LoweringReport r = report_of(b.model(), b.shapes());
  EXPECT_EQ(r.lowered.at("Div+Erf -> QLookup"), 1);
  EXPECT_EQ(r.lowered.at("Sub+Exp -> QLookup"), 1);
}

TEST(LowerQdq, SplitRunsOnInt8Data) {
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {2, 6}), 0.01f, 128);
  Node split =
      make_node("Split", {x, b.constant("sizes", Tensor::from_vector<int64_t>({2}, {2, 4}))},
                {"s0", "s1"}, {{"axis", int64_t{1}}});
  b.g().nodes.push_back(split);
  b.output(b.qdq("s0", 0.01f, 128));
  b.output(b.qdq("s1", 0.01f, 128));
  const auto inputs = std::vector<Tensor>{random_tensor({2, 6}, 39)};
  SessionOptions no_fuse;
  no_fuse.fuse = false;
  const auto got = Session(b.model()).run(inputs);
  const auto want = Session(b.model(), no_fuse).run(inputs);
  EXPECT_TRUE(got[0].equals(want[0]) && got[1].equals(want[1]));
  EXPECT_EQ(report_of(b.model(), b.shapes()).lowered.at("Split -> Split"), 1);
}

// ---- what stays float ----

TEST(LowerQdq, SoftmaxBecomesQLinearSoftmax) {
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {2, 3, 10}), 0.05f, 128);
  b.output(b.qdq(b.op("Softmax", {x}), 1.f / 256, 0));
  b.output(b.qdq(b.op("Softmax", {x}, {{"axis", int64_t{1}}}), 1.f / 256, 0));
  expect_lowered(b, {random_tensor({2, 3, 10}, 40, -4.f, 4.f)}, {1.f / 256}, {"QLinearSoftmax"},
                 {"Softmax"});
}

TEST(LowerQdq, SharedDequantizeFeedsBothIntegerAndFloatConsumers) {
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {2, 10}), 0.05f, 128);
  b.output(b.qdq(b.op("Sigmoid", {x}), 0.004f, 0));
  b.output(b.op("LogSoftmax", {x}));  // a float graph output reading the same DQ
  const LoweringReport r = report_of(b.model(), b.shapes());
  ASSERT_EQ(r.float_nodes.size(), 1u);
  EXPECT_EQ(r.float_nodes[0].reason, "LogSoftmax: no integer kernel");
  expect_lowered(b, {random_tensor({2, 10}, 35, -4.f, 4.f)}, {0.004f, 0.f},
                 {"QLookup", "LogSoftmax"}, {"Sigmoid"});
}

TEST(LowerQdq, FloatResultReadTwiceStaysFloat) {
  QdqGraph b;
  const std::string x = b.qdq(b.input("x", {2, 10}), 0.05f, 128);
  const std::string t = b.op("Tanh", {x});
  b.output(b.qdq(t, 0.01f, 128));
  b.output(t);
  const LoweringReport r = report_of(b.model(), b.shapes());
  ASSERT_EQ(r.float_nodes.size(), 1u);
  EXPECT_NE(r.float_nodes[0].reason.find("graph output"), std::string::npos);
  expect_lowered(b, {random_tensor({2, 10}, 36)}, {0.01f, 0.f}, {"Tanh"}, {"QLookup"});
}

TEST(LowerQdq, CallbackAndNoFuseRunTheQdqGraphInFloat) {
  const QdqGraph b = conv_graph("", 128);
  const Tensor x = random_tensor({2, 3, 6, 6}, 37);
  SessionOptions no_fuse;
  no_fuse.fuse = false;
  const auto ops = plan_ops(Session(b.model(), no_fuse), b.shapes());
  EXPECT_TRUE(ops.count("Conv") && ops.count("DequantizeLinear")) << describe(ops);
  std::string conv_output;
  for (const Node& n : b.model().graph.nodes) {
    if (n.op_type == "Conv") conv_output = n.outputs[0];
  }
  std::vector<std::string> seen;
  RunOptions observe;
  observe.on_tensor = [&](const std::string& name, const Tensor&) { seen.push_back(name); };
  Session(b.model()).run({x}, observe);
  EXPECT_NE(std::find(seen.begin(), seen.end(), conv_output), seen.end())
      << "the float Conv output was not observed";
}

}  // namespace
}  // namespace quench
