// Static quantization: the plan, the QDQ graph, parameter math, recipes, calibration.
#include <algorithm>
#include <cmath>
#include <fstream>

#include "core/interrupt.h"
#include "passes/runtime_passes.h"
#include "quant/qparams.h"
#include "quant/quant_plan.h"
#include "quench/model_io.h"
#include "quench/quantize.h"
#include "test_util.h"

namespace quench {
namespace {

using quant::activation_params;
using quant::plan_quantization;
using quant::quantize_bias;
using quant::quantize_weights;
using quant::QuantPlan;
using quant::WeightQuant;

using testing::TempDir;

const Model& prepared_cnn() {
  static const Model m = prepare_for_quantization(load_model(testing::test_model("cnn.onnx")));
  return m;
}

std::map<std::string, int> op_counts(const Graph& g) {
  std::map<std::string, int> c;
  for (const Node& n : g.nodes) ++c[n.op_type];
  return c;
}

// A table giving every observed tensor the range [-1, 3] (no data needed).
CalibrationTable synthetic_table(const Model& prepared, const QuantRecipe& recipe) {
  CalibrationTable t;
  for (const auto& name : plan_quantization(prepared.graph, recipe).observed()) {
    Observer o;
    const float values[] = {-1.f, 3.f};
    o.observe(values, 2);
    t.observers.emplace(name, o);
  }
  return t;
}

TEST(QuantParams, ActivationScalesAndZeroPoints) {
  QuantParams u8 = activation_params(-1.f, 3.f, DType::kUInt8);  // eqs. (20)-(22)
  EXPECT_FLOAT_EQ(u8.scale(), 4.f / 255.f);
  EXPECT_EQ(u8.zero_point(), 64);  // round(1 / (4/255)) = round(63.75)
  QuantParams positive = activation_params(0.5f, 2.f, DType::kUInt8);
  EXPECT_EQ(positive.zero_point(), 0);  // the range is widened to include 0
  EXPECT_FLOAT_EQ(positive.scale(), 2.f / 255.f);
  QuantParams s8 = activation_params(-1.f, 3.f, DType::kInt8);  // eq. (23)
  EXPECT_FLOAT_EQ(s8.scale(), 3.f / 127.f);
  EXPECT_EQ(s8.zero_point(), 0);
  QuantParams zero = activation_params(0.f, 0.f, DType::kUInt8);  // eq. (24)
  EXPECT_EQ(zero.scale(), 1.f);
  EXPECT_EQ(zero.zero_point(), 0);
  QuantParams constant = activation_params(2.5f, 2.5f, DType::kUInt8);
  EXPECT_FLOAT_EQ(constant.scale(), 2.5f / 255.f);  // 2.5 maps exactly onto 255
}

TEST(QuantParams, PerChannelWeightsRoundTripWithinHalfAStep) {
  Tensor w = Tensor::empty(DType::kFloat32, {3, 2, 2});
  const std::vector<float> values = {0.5f, -1.f, 0.25f, 0.f, 10.f, 2.f,
                                     -3.f, 1.f,  0.f,   0.f, 0.f,  0.f};
  std::copy(values.begin(), values.end(), w.data<float>());
  const WeightQuant q = quantize_weights(w, 0, true);  // eq. (25)
  ASSERT_EQ(q.scales.size(), 3u);
  EXPECT_FLOAT_EQ(q.scales[0], 1.f / 127.f);
  EXPECT_FLOAT_EQ(q.scales[1], 10.f / 127.f);
  EXPECT_EQ(q.scales[2], 1.f);  // an all-zero channel
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 4; ++i) {
      const float back = q.quantized.data<int8_t>()[c * 4 + i] * q.scales[c];
      EXPECT_LE(std::abs(back - values[c * 4 + i]), q.scales[c] / 2 + 1e-7f);
      EXPECT_GE(q.quantized.data<int8_t>()[c * 4 + i], -127);
    }
  }
  const WeightQuant per_tensor = quantize_weights(w, 0, false);
  ASSERT_EQ(per_tensor.scales.size(), 1u);
  EXPECT_FLOAT_EQ(per_tensor.scales[0], 10.f / 127.f);
  // Gemm B as [K, N]: channels along axis 1.
  const WeightQuant columns = quantize_weights(w.reshaped({2, 6}), 1, true);
  EXPECT_EQ(columns.scales.size(), 6u);
  std::vector<float> bias_scales;
  const Tensor b = quantize_bias(Tensor::from_vector<float>({2}, {0.3f, -0.7f}), 0.1f, {0.5f, 0.2f},
                                 &bias_scales);  // eq. (26)
  EXPECT_FLOAT_EQ(bias_scales[0], 0.05f);
  EXPECT_EQ(b.data<int32_t>()[0], 6);
  EXPECT_EQ(b.data<int32_t>()[1], -35);
}

TEST(QuantPlan, CnnUnitsAndSharedParameters) {
  const Model& m = prepared_cnn();
  const QuantPlan plan = plan_quantization(m.graph, QuantRecipe{});
  std::map<std::string, std::string> reason;
  for (size_t i = 0; i < plan.decisions.size(); ++i) {
    const NodeDecision& d = plan.decisions[i];
    if (d.op_type == "Relu") {
      EXPECT_TRUE(plan.quantized[i]);
      EXPECT_NE(d.reason.find("fused with"), std::string::npos) << d.node;
    }
    if (d.op_type == "Sub" || d.op_type == "Div") {
      EXPECT_FALSE(plan.quantized[i]) << d.node;
    }
    if (d.op_type == "Conv" || d.op_type == "Gemm") {
      EXPECT_TRUE(plan.quantized[i]) << d.node;
    }
  }
  // MaxPool outputs reuse their input's parameters, so they are not observed themselves.
  const auto observed = plan.observed();
  EXPECT_EQ(observed.count("/features/features.7/MaxPool_output_0"), 0u);
  EXPECT_EQ(plan.activations.at("/features/features.7/MaxPool_output_0").params_from,
            "/features/features.6/Relu_output_0");
  EXPECT_EQ(observed.count("/features/features.0/Div_output_0"), 1u);
  // Conv outputs inside a Conv+Relu unit get no Q/DQ pair.
  EXPECT_EQ(plan.activations.count("/features/features.1/Conv_output_0"), 0u);
}

// A transformer's linear layer (MatMul by a constant weight, then the Add of a constant row) is
// one unit, its bias stored as an int32 at the accumulator's scales; the exact GELU is one unit
// quantized at its input only. The runtime lowers them to QFusedMatMul with that int32 bias as it
// is and one 256-entry table.
TEST(QuantPlan, TransformerLinearLayersAndGeluAreUnits) {
  const Model m = prepare_for_quantization(load_model(testing::test_model("vit.onnx")));
  const std::string b = "/blocks/blocks.0/";
  auto index_of = [&](const std::string& name) {
    for (size_t i = 0; i < m.graph.nodes.size(); ++i) {
      if (m.graph.nodes[i].name == name) return static_cast<int>(i);
    }
    ADD_FAILURE() << "no node " << name;
    return -1;
  };
  const QuantPlan plan = plan_quantization(m.graph, QuantRecipe{});
  const int matmul = index_of(b + "fc1/MatMul"), add = index_of(b + "fc1/Add");
  ASSERT_GE(add, 0);
  EXPECT_TRUE(plan.quantized[add]);
  EXPECT_EQ(plan.joins[add], matmul);
  EXPECT_EQ(plan.activations.count(b + "fc1/MatMul_output_0"), 0u);  // nothing between them
  EXPECT_EQ(plan.activations.count("blocks.0.fc1.bias"), 0u);        // no activation Q/DQ
  const auto fc1 =
      std::find_if(plan.nodes.begin(), plan.nodes.end(),
                   [&](const quant::NodeQuant& nq) { return nq.node == size_t(matmul); });
  ASSERT_NE(fc1, plan.nodes.end());
  EXPECT_EQ(fc1->bias_node, add);
  EXPECT_EQ(m.graph.nodes[add].inputs[fc1->bias_node_input], "blocks.0.fc1.bias");
  const std::vector<std::string> gelu = {"Div_1", "Erf", "Add_1", "Mul_1", "Mul_2"};
  const int first = index_of(b + gelu[0]);
  for (const std::string& name : gelu) {
    const int i = index_of(b + name);
    EXPECT_TRUE(plan.quantized[i]) << name;
    EXPECT_EQ(plan.joins[i], i == first ? -1 : first) << name;
    if (name != "Mul_2") {
      EXPECT_EQ(plan.activations.count(b + name + "_output_0"), 0u) << name;
    }
  }
  EXPECT_EQ(plan.activations.count(b + "fc1/Add_output_0"), 1u);  // the GELU's input x

  // Lowered: every such layer a QFusedMatMul, every GELU a table, nothing else left in float
  // inside the MLP.
  const QuantRecipe recipe;
  Model q = quantize_static(m, synthetic_table(m, recipe), recipe);
  int int32_biases = 0;
  for (const Node& n : q.graph.nodes) {
    const Tensor* t = n.op_type == "DequantizeLinear" ? q.graph.initializer(n.input(0)) : nullptr;
    int32_biases += t != nullptr && t->dtype() == DType::kInt32;
  }
  EXPECT_EQ(int32_biases, 16 + 2);  // the linear layers, the patch Conv and the head Gemm
  const LoweringReport lowered = lower_qdq(q.graph);
  EXPECT_EQ(lowered.lowered.at("MatMul+Add -> QFusedMatMul"), 16);
  for (const auto& [name, t] : q.graph.initializers) {  // every int32 bias used as it is
    EXPECT_EQ(name.find("_requantized"), std::string::npos) << name;
  }
  EXPECT_EQ(lowered.lowered.at("Gelu -> QLookup"), 4);
  for (const auto& f : lowered.float_nodes) {
    EXPECT_EQ(f.node.find("fc"), std::string::npos) << f.node << ": " << f.reason;
    EXPECT_NE(f.op_type, "Erf") << f.node;
  }

  // A recipe that keeps part of the GELU in float keeps the others as separate nodes.
  QuantRecipe skip_erf;
  skip_erf.skip_nodes.push_back(b + "Erf");
  const QuantPlan partial = plan_quantization(m.graph, skip_erf);
  EXPECT_FALSE(partial.quantized[index_of(b + "Erf")]);
  EXPECT_EQ(partial.joins[index_of(b + "Mul_2")], -1);
  EXPECT_EQ(partial.activations.count(b + "Erf_output_0"), 1u);  // the Add after it reads it
}

TEST(QuantizeStatic, WritesAValidQdqModel) {
  const Model& m = prepared_cnn();
  const QuantRecipe recipe;
  QuantizeReport report;
  const Model q = quantize_static(m, synthetic_table(m, recipe), recipe, &report);
  EXPECT_NO_THROW(check_model(q));
  const auto ops = op_counts(q.graph);
  EXPECT_EQ(ops.at("Conv"), 5);
  EXPECT_EQ(ops.at("Relu"), 6);
  EXPECT_EQ(ops.at("QuantizeLinear"), report.activation_tensors);
  // One DequantizeLinear per activation, weight and bias.
  EXPECT_EQ(ops.at("DequantizeLinear"), report.activation_tensors + 2 * report.weight_tensors);
  EXPECT_EQ(report.weight_tensors, 7);
  EXPECT_LT(report.weight_bytes_after * 3, report.weight_bytes_before);
  // Weights are int8 with one scale per output channel; biases int32 with s_x * s_w.
  int per_axis = 0;
  for (const Node& n : q.graph.nodes) {
    if (n.op_type != "DequantizeLinear" || !n.has_attr("axis")) continue;
    const Tensor* data = q.graph.initializer(n.input(0));
    const Tensor* scale = q.graph.initializer(n.input(1));
    ASSERT_NE(data, nullptr);
    EXPECT_TRUE(data->dtype() == DType::kInt8 || data->dtype() == DType::kInt32);
    EXPECT_EQ(scale->numel(), data->dim(static_cast<int>(n.attr_int("axis", 0))));
    ++per_axis;
  }
  EXPECT_EQ(per_axis, 14);
  // The float model's weights are gone.
  EXPECT_EQ(q.graph.initializer("classifier.1.weight"), nullptr);
}

TEST(QuantizeStatic, RecipesSkipAndOverride) {
  const Model& m = prepared_cnn();
  QuantRecipe recipe;
  recipe.skip_nodes = {"first", "last"};
  QuantizeReport report;
  quantize_static(m, synthetic_table(m, recipe), recipe, &report);
  EXPECT_EQ(report.weight_tensors, 5);
  int kept = 0;
  for (const auto& d : report.nodes) kept += d.reason.find("kept in float") != std::string::npos;
  EXPECT_EQ(kept, 2);

  TempDir dir;
  std::ofstream(dir.file("r.json")) << R"({"activations": "int8", "skip": ["/classifier/*"],
      "nodes": {"/features/features.4/Conv": "skip"}})";
  const QuantRecipe loaded = QuantRecipe::load(dir.file("r.json"));
  EXPECT_EQ(loaded.activation_type, DType::kInt8);
  const QuantPlan plan = plan_quantization(m.graph, loaded);
  for (size_t i = 0; i < plan.decisions.size(); ++i) {
    const std::string& node = plan.decisions[i].node;
    if (node.rfind("/classifier/", 0) == 0 || node == "/features/features.4/Conv") {
      EXPECT_FALSE(plan.quantized[i]) << node;
    }
  }
  for (const auto& [name, a] : plan.activations) EXPECT_EQ(a.type, DType::kInt8) << name;
}

// Per-node weight bit widths from a recipe: the two named layers keep 8-bit weights inside a
// 4-bit model (their largest |q| is 127, every other layer's is at most 7, eq. (25)).
TEST(QuantizeStatic, RecipeSetsWeightBitsPerNode) {
  const Model& m = prepared_cnn();
  TempDir dir;
  std::ofstream(dir.file("r.json")) << R"({"nodes": {
      "/features/features.1/Conv": {"weight_bits": 8},
      "/classifier/classifier.3/Gemm": {"weight_bits": 8, "activations": "int8"}}})";
  QuantRecipe recipe = QuantRecipe::load(dir.file("r.json"));
  recipe.weight_bits = 4;
  EXPECT_EQ(recipe.weight_bits_of("/features/features.1/Conv"), 8);
  EXPECT_EQ(recipe.weight_bits_of("/features/features.4/Conv"), 4);
  const Model q = quantize_static(m, synthetic_table(m, recipe), recipe);
  std::map<std::string, const Node*> producer;
  for (const Node& n : q.graph.nodes) {
    for (const auto& o : n.outputs) producer[o] = &n;
  }
  int checked = 0;
  for (const Node& n : q.graph.nodes) {
    if (n.op_type != "Conv" && n.op_type != "Gemm") continue;
    const Node* dq = producer.at(n.input(1));
    ASSERT_EQ(dq->op_type, "DequantizeLinear") << n.name;
    const auto w = q.graph.initializer(dq->input(0))->to_double_vector();
    double max_abs = 0;
    for (double v : w) max_abs = std::max(max_abs, std::fabs(v));
    const bool eight =
        n.name == "/features/features.1/Conv" || n.name == "/classifier/classifier.3/Gemm";
    EXPECT_EQ(max_abs, eight ? 127 : 7) << n.name;
    ++checked;
  }
  EXPECT_EQ(checked, 7);
  const std::string meta = q.metadata.back().second;
  EXPECT_NE(meta.find("4-bit (2 node(s) with their own width)"), std::string::npos) << meta;

  for (const char* text : {R"({"nodes": {"/features/features.1/Conv": {"weight_bits": 9}}})",
                           R"({"nodes": {"/features/features.1/Conv": {"weight_bits": "8"}}})",
                           R"({"nodes": {"/features/features.1/Conv": {"bits": 8}}})"}) {
    std::ofstream(dir.file("bad.json")) << text;
    EXPECT_THROW(QuantRecipe::load(dir.file("bad.json")), Error) << text;
  }
  QuantRecipe ghost;
  ghost.node_weight_bits["ghost"] = 4;
  EXPECT_THROW(plan_quantization(m.graph, ghost), Error);
  QuantRecipe dynamic;
  dynamic.node_weight_bits["/features/features.1/Conv"] = 4;
  EXPECT_NO_THROW(plan_quantization(m.graph, dynamic));
  EXPECT_THROW(plan_quantization(m.graph, dynamic, quant::PlanMode::kDynamic), Error);
}

TEST(QuantizeStatic, BadRecipesAndModelsAreRefused) {
  const Model& m = prepared_cnn();
  QuantRecipe r;
  r.skip_nodes = {"no_such_node"};
  EXPECT_THROW(plan_quantization(m.graph, r), Error);
  r = QuantRecipe{};
  r.node_overrides["ghost"] = "skip";
  EXPECT_THROW(plan_quantization(m.graph, r), Error);
  TempDir dir;
  for (const char* text : {"[1, 2]", "{\"activations\": \"int4\"}", "{\"skipp\": []}",
                           "{\"weights\": 3}", "not json"}) {
    std::ofstream(dir.file("bad.json")) << text;
    EXPECT_THROW(QuantRecipe::load(dir.file("bad.json")), Error) << text;
  }
  // An already quantized model.
  const Model qdq = load_model(testing::test_model("ort/cnn.ort_qdq.onnx"));
  try {
    prepare_for_quantization(qdq);
    FAIL() << "an already quantized model was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already quantized"), std::string::npos);
  }
  // A table without the tensors the recipe needs.
  EXPECT_THROW(quantize_static(m, CalibrationTable{}, QuantRecipe{}), Error);
}

TEST(Calibrate, ShardsMergeToOneRun) {
  const Model& m = prepared_cnn();
  for (CalibrationMethod method : {CalibrationMethod::kMinMax, CalibrationMethod::kEntropy}) {
    CalibrateOptions o;
    o.observer.method = method;
    o.batch = 8;
    o.progress = false;
    o.calib_size = 48;
    const auto all = calibrate(m, *open_dataset("random:48:1x28x28"), QuantRecipe{}, o);
    o.calib_size = 24;
    DataOptions second;
    second.offset = 24;
    auto a = calibrate(m, *open_dataset("random:48:1x28x28"), QuantRecipe{}, o);
    const auto b = calibrate(m, *open_dataset("random:48:1x28x28", second), QuantRecipe{}, o);
    a.merge(b);
    TempDir dir;
    a.save(dir.file("a.json"));
    all.save(dir.file("all.json"));
    std::ifstream fa(dir.file("a.json")), fb(dir.file("all.json"));
    const std::string ta((std::istreambuf_iterator<char>(fa)), {});
    const std::string tb((std::istreambuf_iterator<char>(fb)), {});
    EXPECT_EQ(ta, tb) << calibration_method_name(method);
    EXPECT_EQ(all.samples, 48);
  }
}

TEST(Calibrate, StopsOnInterruptAndRejectsBadData) {
  const Model& m = prepared_cnn();
  CalibrateOptions o;
  o.progress = false;
  request_interrupt();
  try {
    calibrate(m, *open_dataset("random:64:1x28x28"), QuantRecipe{}, o);
    ADD_FAILURE() << "calibration ignored the interrupt";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInterrupted);
  }
  clear_interrupt();
  EXPECT_THROW(calibrate(m, *open_dataset("random:8:3x32x32"), QuantRecipe{}, o), Error);
}

}  // namespace
}  // namespace quench
