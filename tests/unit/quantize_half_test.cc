// --mode fp16 / bf16 (convert_to_half_precision) and quench running half-precision models
// (compute_half_in_float): types, casts, the kept-float list, and results against float math.
#include <cmath>
#include <map>

#include "core/half.h"
#include "quench/model_io.h"
#include "quench/passes.h"
#include "quench/quantize.h"
#include "quench/session.h"
#include "session_test_util.h"
#include "test_util.h"

namespace quench {
namespace {

// One float16 rounding of a value of magnitude <= 1 (10 fraction bits), twice for the product's
// rounding and the output's.
constexpr double kHalfTolerance = 2.0 / 1024;

Tensor run_one(const Model& m, const Tensor& x) {
  return Session(m, testing::one_thread(true)).run({x})[0];
}

DType value_type(const Graph& g, const std::string& v) {
  if (const Tensor* t = g.initializer(v)) return t->dtype();
  const ValueInfo* info = g.info(v);
  return info ? info->dtype : DType::kUndefined;
}

class HalfModels : public ::testing::TestWithParam<DType> {};

TEST_P(HalfModels, CnnWeightsHalfIoFloatSameTop1) {
  const DType half = GetParam();
  const Model fp32 = prepare_for_quantization(load_model(testing::test_model("cnn.onnx")));
  HalfPrecisionOptions options;
  options.type = half;
  QuantizeReport report;
  const Model m = convert_to_half_precision(fp32, QuantRecipe{}, options, &report);
  EXPECT_NO_THROW(check_model(m));
  for (const auto& [name, t] : m.graph.initializers) {
    // Every float weight stored in 16 bits; single values read in float32 (the input
    // normalisation's mean and scale, in bfloat16) are the ops' parameters and stay exact.
    if (t.numel() > 1) {
      EXPECT_NE(t.dtype(), DType::kFloat32) << name;
    }
  }
  EXPECT_EQ(value_type(m.graph, m.graph.inputs[0]), DType::kFloat32);
  EXPECT_EQ(value_type(m.graph, m.graph.outputs[0]), DType::kFloat32);
  EXPECT_EQ(report.weight_bytes_after * 2, report.weight_bytes_before);
  // Ops in the list (and, in bfloat16, data movement carrying products' operands) read and write
  // the half type; the others float32.
  std::map<std::string, std::string> reason;
  for (const NodeDecision& d : report.nodes) reason[d.node] = d.reason;
  for (const Node& n : m.graph.nodes) {
    if (n.op_type == "Cast") continue;
    const bool in_half = reason[n.name].rfind("runs in", 0) == 0;
    EXPECT_EQ(in_half, half_precision_ops(half).count(n.op_type) != 0 ||
                           reason[n.name] == "runs in bfloat16 (moves products' operands)")
        << n.name;
    EXPECT_EQ(value_type(m.graph, n.outputs[0]), in_half ? half : DType::kFloat32) << n.name;
  }
  const Tensor x = testing::fmnist_images_or_random(64);
  testing::expect_same_top1(run_one(m, x), run_one(fp32, x));

  options.keep_io_types = false;
  const Model io = convert_to_half_precision(fp32, QuantRecipe{}, options);
  EXPECT_EQ(value_type(io.graph, io.graph.inputs[0]), half);
  EXPECT_EQ(value_type(io.graph, io.graph.outputs[0]), half);
}

INSTANTIATE_TEST_SUITE_P(Types, HalfModels, ::testing::Values(DType::kFloat16, DType::kBFloat16));

TEST(HalfPrecision, VitKeepsNormalisationsAndSoftmaxFloat) {
  const Model fp32 = prepare_for_quantization(load_model(testing::test_model("vit.onnx")));
  QuantRecipe recipe;
  recipe.skip_op_types = {"Gemm"};
  QuantizeReport report;
  const Model m = convert_to_half_precision(fp32, recipe, HalfPrecisionOptions{}, &report);
  EXPECT_NO_THROW(check_model(m));
  int kept = 0;
  for (const Node& n : m.graph.nodes) {
    if (n.op_type == "LayerNormalization" || n.op_type == "Softmax" || n.op_type == "Gemm") {
      EXPECT_EQ(value_type(m.graph, n.inputs[0]), DType::kFloat32) << n.name;
      EXPECT_EQ(value_type(m.graph, n.outputs[0]), DType::kFloat32) << n.name;
      ++kept;
    }
    if (n.op_type == "MatMul") {
      EXPECT_EQ(value_type(m.graph, n.outputs[0]), DType::kFloat16) << n.name;
    }
  }
  EXPECT_EQ(kept, 9 + 4 + 1);
  for (const NodeDecision& d : report.nodes) {
    if (d.op_type == "Gemm") {
      EXPECT_EQ(d.reason, "op type skipped by the recipe");
    }
  }
  const Tensor x = testing::fmnist_images_or_random(64);
  testing::expect_same_top1(run_one(m, x), run_one(fp32, x));
}

// eq. (158): in bfloat16 mode each product's operands are rounded (Cast to bfloat16 and back),
// its bias is not, and a product the recipe skips reads float32 values.
TEST(HalfPrecision, Bf16RoundsProductOperands) {
  const Model fp32 = prepare_for_quantization(load_model(testing::test_model("cnn.onnx")));
  HalfPrecisionOptions options;
  options.type = DType::kBFloat16;
  QuantRecipe recipe;
  recipe.skip_nodes = {"/features/features.8/Conv"};
  QuantizeReport report;
  const Model m = convert_to_half_precision(fp32, recipe, options, &report);
  const Graph& g = m.graph;
  std::map<std::string, const Node*> producer;
  for (const Node& n : g.nodes) producer[n.outputs[0]] = &n;
  auto cast_to = [&](const std::string& v, DType to) -> const Node* {
    const auto it = producer.find(v);
    if (it == producer.end() || it->second->op_type != "Cast") return nullptr;
    return it->second->attr_int("to", 0) == static_cast<int64_t>(to) ? it->second : nullptr;
  };
  int rounded = 0;
  for (const Node& n : g.nodes) {
    if (n.op_type != "Conv" && n.op_type != "Gemm") continue;
    const bool skipped = n.name == "/features/features.8/Conv";
    const Node* x = cast_to(n.input(0), DType::kFloat32);
    if (skipped) {
      EXPECT_EQ(x, nullptr) << n.name;
      continue;
    }
    ASSERT_NE(x, nullptr) << n.name;
    EXPECT_EQ(value_type(g, x->input(0)), DType::kBFloat16) << n.name;
    const Node* w = cast_to(n.input(1), DType::kFloat32);
    ASSERT_NE(w, nullptr) << n.name;
    EXPECT_EQ(value_type(g, w->input(0)), DType::kBFloat16) << n.name;
    EXPECT_EQ(value_type(g, n.outputs[0]), DType::kFloat32) << n.name;
    ++rounded;
  }
  EXPECT_EQ(rounded, 5 + 2 - 1);
  for (const NodeDecision& d : report.nodes) {
    if (d.op_type == "Conv" && d.node != "/features/features.8/Conv") {
      EXPECT_EQ(d.reason, "bfloat16 operands, float32 arithmetic");
      EXPECT_TRUE(d.quantized);
    }
  }
  const Tensor x = testing::fmnist_images_or_random(64);
  testing::expect_same_top1(run_one(m, x), run_one(fp32, x));
}

// bfloat16 vit: the heads' data movement between products moves bfloat16 values, so every Cast to
// float32 feeds a product (its rounded operand) and nothing else; LayerNormalization and Softmax
// compute and write float32.
TEST(HalfPrecision, Bf16DataMovementCarriesOnlyOperands) {
  const Model fp32 = prepare_for_quantization(load_model(testing::test_model("vit.onnx")));
  HalfPrecisionOptions options;
  options.type = DType::kBFloat16;
  QuantizeReport report;
  const Model m = convert_to_half_precision(fp32, QuantRecipe{}, options, &report);
  EXPECT_NO_THROW(check_model(m));
  const Graph& g = m.graph;
  std::map<std::string, std::vector<const Node*>> readers;
  for (const Node& n : g.nodes) {
    for (const std::string& in : n.inputs) readers[in].push_back(&n);
  }
  int moved = 0, casts_to_float = 0;
  for (const Node& n : g.nodes) {
    if (n.op_type == "Transpose" && value_type(g, n.outputs[0]) == DType::kBFloat16) ++moved;
    if (n.op_type == "LayerNormalization" || n.op_type == "Softmax") {
      EXPECT_EQ(value_type(g, n.outputs[0]), DType::kFloat32) << n.name;
    }
    if (n.op_type != "Cast" || value_type(g, n.input(0)) != DType::kBFloat16 ||
        g.is_initializer(n.input(0))) {
      continue;
    }
    ++casts_to_float;
    for (const Node* r : readers[n.outputs[0]]) {
      EXPECT_TRUE(r->op_type == "MatMul" || r->op_type == "Gemm" || r->op_type == "Conv")
          << n.name << " is read by " << r->name;
    }
  }
  EXPECT_GT(moved, 0);
  EXPECT_GT(casts_to_float, 0);
  // Single values read in float32 (GELU's √2, 1 and 0.5) stay float32 and exact.
  int exact = 0;
  for (const Node& n : g.nodes) {
    if (n.op_type != "Div" && n.op_type != "Add" && n.op_type != "Mul") continue;
    for (const std::string& in : n.inputs) {
      const Tensor* t = g.initializer(in);
      const bool is_float =
          t != nullptr && (t->dtype() == DType::kFloat32 || t->dtype() == DType::kBFloat16);
      if (!is_float || t->numel() != 1) continue;
      EXPECT_EQ(t->dtype(), DType::kFloat32) << n.name << " reads " << in;
      ++exact;
    }
  }
  EXPECT_GT(exact, 0);
  const Tensor x = testing::fmnist_images_or_random(64);
  testing::expect_same_top1(run_one(m, x), run_one(fp32, x));
}

TEST(HalfPrecision, BadRequestsAreRefused) {
  const Model fp32 = prepare_for_quantization(load_model(testing::test_model("cnn.onnx")));
  const Model m = convert_to_half_precision(fp32, QuantRecipe{}, HalfPrecisionOptions{});
  try {
    convert_to_half_precision(m, QuantRecipe{}, HalfPrecisionOptions{});
    FAIL() << "a float16 model was converted again";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("already holds float16"), std::string::npos) << e.what();
  }
  QuantRecipe first;
  first.skip_nodes = {"first"};
  EXPECT_THROW(convert_to_half_precision(fp32, first, HalfPrecisionOptions{}), Error);
  HalfPrecisionOptions int8;
  int8.type = DType::kInt8;
  EXPECT_THROW(convert_to_half_precision(fp32, QuantRecipe{}, int8), Error);
}

// x [2, 3] float16 -> MatMul(w float16) -> Relu -> y float16, as a file written by another tool.
Model half_matmul_model(DType w_type) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  g.outputs = {"y"};
  g.values["x"] = ValueInfo{DType::kFloat16, SymbolicShape{2, 3}, ""};
  g.values["y"] = ValueInfo{DType::kFloat16, std::nullopt, ""};
  Tensor w = Tensor::empty(w_type, {3, 2});
  const float values[] = {0.5f, -0.25f, 0.125f, 1.f, -0.75f, 0.3f};
  for (int i = 0; i < 6; ++i) {
    static_cast<uint16_t*>(w.raw_data())[i] =
        w_type == DType::kFloat16 ? float_to_half(values[i]) : float_to_bfloat16(values[i]);
  }
  g.initializers["w"] = w;
  g.values["w"] = ValueInfo{w_type, SymbolicShape{3, 2}, ""};
  g.nodes = {testing::make_node("MatMul", {"x", "w"}, {"xw"}),
             testing::make_node("Relu", {"xw"}, {"y"})};
  g.nodes[0].name = "matmul";
  g.nodes[1].name = "relu";
  return m;
}

TEST(HalfPrecision, RuntimeComputesInFloatAndRoundsEveryValue) {
  const Model m = half_matmul_model(DType::kFloat16);
  Tensor x = Tensor::empty(DType::kFloat16, {2, 3});
  const float xs[] = {0.1f, -0.2f, 0.7f, 1.f, 0.3f, -0.9f};
  for (int i = 0; i < 6; ++i) static_cast<uint16_t*>(x.raw_data())[i] = float_to_half(xs[i]);
  const Tensor y = run_one(m, x);
  ASSERT_EQ(y.dtype(), DType::kFloat16);
  const Tensor& w = *m.graph.initializer("w");
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < 2; ++c) {
      double sum = 0;
      for (int k = 0; k < 3; ++k) {
        sum += static_cast<double>(
                   half_to_float(static_cast<const uint16_t*>(x.raw_data())[r * 3 + k])) *
               half_to_float(static_cast<const uint16_t*>(w.raw_data())[k * 2 + c]);
      }
      const double want = std::max(sum, 0.0);
      const float got = half_to_float(static_cast<const uint16_t*>(y.raw_data())[r * 2 + c]);
      EXPECT_NEAR(got, want, kHalfTolerance) << r << "," << c;
      // The output is a float16 value: converting it back is exact.
      EXPECT_EQ(half_to_float(float_to_half(got)), got);
    }
  }
}

TEST(HalfPrecision, MixedHalfTypesInOneNodeAreRefused) {
  Model m = half_matmul_model(DType::kBFloat16);  // x float16, w bfloat16
  Graph g = m.graph;
  try {
    compute_half_in_float(g);
    FAIL() << "a node mixing float16 and bfloat16 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("mixes float16 and bfloat16"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace quench
