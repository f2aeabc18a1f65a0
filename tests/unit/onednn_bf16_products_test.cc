// bfloat16 products on oneDNN (docs/quantization.md, eq. (158)): the fused ops on bfloat16
// operands, fast (oneDNN) against reference; the runtime pass that makes them from a file's rounded
// operands; the float32 <-> bfloat16 Cast on oneDNN's reorder against the reference Cast.
#include <cstdlib>
#include <random>

#include "core/half.h"
#include "kernels/x86/cpu_features.h"
#include "ops/domains.h"
#include "passes/runtime_passes.h"
#include "quench/session.h"
#include "session_test_util.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;
using testing::random_tensor;

// Float32 results: the fast kernel sums the same products in another order (as the float32
// kernels' kFastFloatRtol). bfloat16 results: that difference may cross a rounding boundary, one
// unit in the last place (2^-8 relative) either way.
constexpr double kFloatRtol = 1e-4;
constexpr double kFloatAtol = 1e-5;
constexpr double kBf16Rtol = 1.0 / 256;
constexpr double kBf16Atol = 1e-5;

// Random float32 values that are bfloat16 values.
Tensor bf16_valued(const Shape& shape, uint32_t seed) {
  Tensor t = random_tensor(shape, seed);
  for (float& v : t.values<float>()) v = bfloat16_to_float(float_to_bfloat16(v));
  return t;
}

Tensor to_bf16(const Tensor& f) {
  Tensor t = Tensor::empty(DType::kBFloat16, f.shape());
  const float* src = f.data<float>();
  auto* dst = static_cast<uint16_t*>(t.raw_data());
  for (int64_t i = 0; i < f.numel(); ++i) dst[i] = float_to_bfloat16(src[i]);
  return t;
}

Tensor to_float(const Tensor& t) {
  if (t.dtype() == DType::kFloat32) return t;
  Tensor f = Tensor::empty(DType::kFloat32, t.shape());
  const auto* src = static_cast<const uint16_t*>(t.raw_data());
  for (int64_t i = 0; i < t.numel(); ++i) f.data<float>()[i] = bfloat16_to_float(src[i]);
  return f;
}

// One operand of the fused node: a runtime input (of `type`) or a constant float32 tensor, whose
// values are bfloat16 ones unless it is a bias.
struct Operand {
  Shape shape;
  DType type = DType::kFloat32;
  bool constant = false;
  bool bias = false;
};
Operand bf16_input(Shape s) { return {std::move(s), DType::kBFloat16, false, false}; }
Operand float_input(Shape s) { return {std::move(s), DType::kFloat32, false, false}; }
Operand weights(Shape s) { return {std::move(s), DType::kFloat32, true, false}; }
Operand bias(Shape s) { return {std::move(s), DType::kFloat32, true, true}; }

struct FusedCase {
  std::string name;
  std::string op;  // FusedConv, FusedMatMul, FusedGemm
  std::vector<Operand> inputs;
  std::vector<std::pair<std::string, AttributeValue>> attrs;
  DType output = DType::kFloat32;
};

void PrintTo(const FusedCase& c, std::ostream* os) { *os << c.name; }

Model fused_model(const FusedCase& c, std::vector<Tensor>& feeds) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.opsets[kInternalDomain] = 17;
  std::vector<std::string> inputs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const Operand& o = c.inputs[i];
    const std::string name = "in" + std::to_string(i);
    const auto seed = static_cast<uint32_t>(10 + i);
    if (o.constant) {
      g.initializers[name] = o.bias ? random_tensor(o.shape, seed) : bf16_valued(o.shape, seed);
    } else {
      Tensor t = bf16_valued(o.shape, seed);
      if (o.type == DType::kBFloat16) t = to_bf16(t);
      g.inputs.push_back(name);
      g.values[name] = ValueInfo{t.dtype(), symbolic(t.shape()), ""};
      feeds.push_back(t);
    }
    inputs.push_back(name);
  }
  Node node = make_node(c.op, inputs, {"y"}, {}, kInternalDomain);
  node.name = "op";
  for (const auto& [k, v] : c.attrs) node.set_attr(k, v);
  node.set_attr("to", static_cast<int64_t>(c.output));
  g.nodes.push_back(node);
  g.outputs = {"y"};
  return m;
}

class Bf16Fused : public ::testing::TestWithParam<FusedCase> {};

TEST_P(Bf16Fused, FastMatchesReference) {
  const FusedCase& c = GetParam();
  std::vector<Tensor> feeds;
  const Model m = fused_model(c, feeds);
  Session ref(m, testing::one_thread(false));
  Session fast(m, testing::one_thread(true));
  const Tensor want = ref.run(feeds)[0];
  const Tensor got = fast.run(feeds)[0];
  ASSERT_EQ(want.dtype(), c.output);
  ASSERT_EQ(got.dtype(), c.output);
  const bool bf16 = c.output == DType::kBFloat16;
  EXPECT_TRUE(testing::tensors_near(to_float(got), to_float(want), bf16 ? kBf16Atol : kFloatAtol,
                                    bf16 ? kBf16Rtol : kFloatRtol));
  if (x86::cpu_features().avx512_bf16) {
    EXPECT_NE(testing::impl_of(fast, feeds, "op").find("bf16"), std::string::npos)
        << c.name << testing::impl_of(fast, feeds, "op");
  }
}

using Ints = std::vector<int64_t>;
const DType kB = DType::kBFloat16;

const std::vector<FusedCase> kFusedCases = {
    {"conv_relu_to_bf16",
     "FusedConv",
     {bf16_input({2, 16, 9, 9}), weights({32, 16, 3, 3}), bias({32})},
     {{"pads", Ints{1, 1, 1, 1}}, {"activation", std::string("Relu")}},
     kB},
    {"conv_to_float",
     "FusedConv",
     {bf16_input({2, 16, 8, 8}), weights({24, 16, 1, 1}), bias({24})},
     {}},
    {"conv_sum_float",
     "FusedConv",
     {bf16_input({1, 8, 6, 6}), weights({8, 8, 3, 3}), float_input({1, 8, 6, 6})},
     {{"pads", Ints{1, 1, 1, 1}}, {"sum", int64_t{1}}}},
    {"conv_depthwise_to_bf16",
     "FusedConv",
     {bf16_input({2, 24, 10, 10}), weights({24, 1, 3, 3}), bias({24})},
     {{"group", int64_t{24}}, {"pads", Ints{1, 1, 1, 1}}},
     kB},
    {"matmul_const_bias_to_bf16",
     "FusedMatMul",
     {bf16_input({2, 17, 64}), weights({64, 48}), bias({48})},
     {{"bias", int64_t{1}}},
     kB},
    {"matmul_batched_runtime",
     "FusedMatMul",
     {bf16_input({2, 4, 17, 16}), bf16_input({2, 4, 16, 9})},
     {}},
    {"gemm_transB",
     "FusedGemm",
     {bf16_input({4, 32}), weights({16, 32}), bias({16})},
     {{"transB", int64_t{1}}}},
};

INSTANTIATE_TEST_SUITE_P(Cases, Bf16Fused, ::testing::ValuesIn(kFusedCases),
                         [](const auto& info) { return info.param.name; });

// x -> Cast(bf16) -> Cast(float) -> Conv(W) -> Relu -> Cast(bf16) -> Cast(float) -> MatMul(V) -> y:
// a --mode bf16 file's rounded operands (eq. (158)); `w_exact` makes W bfloat16 values.
Model rounded_operands_model(bool w_exact) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  g.outputs = {"y"};
  g.values["x"] = ValueInfo{DType::kFloat32, SymbolicShape{2, 8, 6, 6}, ""};
  g.initializers["w"] = w_exact ? bf16_valued({16, 8, 3, 3}, 1) : random_tensor({16, 8, 3, 3}, 1);
  g.initializers["b"] = random_tensor({16}, 2);
  g.initializers["v"] = bf16_valued({6, 5}, 3);
  auto cast = [](const std::string& from, DType to, const std::string& out) {
    Node n = make_node("Cast", {from}, {out});
    n.set_attr("to", static_cast<int64_t>(to));
    n.name = out;
    return n;
  };
  Node conv = make_node("Conv", {"x_r", "w", "b"}, {"c"});
  conv.set_attr("pads", Ints{1, 1, 1, 1});
  conv.name = "conv";
  Node matmul = make_node("MatMul", {"r_r", "v"}, {"y"});
  matmul.name = "matmul";
  g.nodes = {cast("x", kB, "x_h"),
             cast("x_h", DType::kFloat32, "x_r"),
             conv,
             make_node("Relu", {"c"}, {"r"}),
             cast("r", kB, "r_h"),
             cast("r_h", DType::kFloat32, "r_r"),
             matmul};
  return m;
}

TEST(Bf16Products, PassReadsRoundedOperandsAndWritesBf16) {
  Model m = rounded_operands_model(true);
  Graph g = m.graph;
  infer_shapes(g, InferOptions{true});
  apply_runtime_fusions(g, RuntimeFusionOptions{true});
  eliminate_dead_nodes(g);
  std::map<std::string, const Node*> by_op;
  for (const Node& n : g.nodes) by_op[n.op_type] = &n;
  ASSERT_TRUE(by_op.count("FusedConv"));
  ASSERT_TRUE(by_op.count("FusedMatMul"));
  const Node& conv = *by_op["FusedConv"];
  EXPECT_EQ(conv.input(0), "x_h");  // the bfloat16 value itself
  EXPECT_EQ(conv.input(1), "w");    // float32 weights that are bfloat16 values
  EXPECT_EQ(conv.attr_string("activation", ""), "Relu");
  EXPECT_EQ(conv.attr_int("to", 1), static_cast<int64_t>(kB));  // the Cast after Relu absorbed
  EXPECT_EQ(conv.outputs[0], "r_h");
  EXPECT_EQ(by_op["FusedMatMul"]->input(0), "r_h");
  int casts = 0;
  for (const Node& n : g.nodes) casts += n.op_type == "Cast";
  EXPECT_EQ(casts, 1);  // x's rounding only

  // Weights that are not bfloat16 values keep the float32 product.
  Model inexact = rounded_operands_model(false);
  Graph h = inexact.graph;
  infer_shapes(h, InferOptions{true});
  apply_runtime_fusions(h, RuntimeFusionOptions{true});
  for (const Node& n : h.nodes) {
    if (n.op_type == "FusedConv") {
      EXPECT_EQ(n.input(0), "x_r");
      EXPECT_EQ(n.attr_int("to", 1), 1);
    }
  }
}

// A Gemm with alpha != 1 keeps float32 operands: alpha·B need not be bfloat16 values, which the
// bfloat16 kernel would need.
TEST(Bf16Products, GemmWithAlphaStaysFloat) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  g.outputs = {"y"};
  g.values["x"] = ValueInfo{DType::kFloat32, SymbolicShape{4, 8}, ""};
  g.initializers["b"] = bf16_valued({8, 3}, 4);
  Node to_half = make_node("Cast", {"x"}, {"x_h"});
  to_half.set_attr("to", static_cast<int64_t>(kB));
  Node back = make_node("Cast", {"x_h"}, {"x_r"});
  back.set_attr("to", int64_t{1});
  Node gemm = make_node("Gemm", {"x_r", "b"}, {"y"});
  gemm.set_attr("alpha", 0.5f);
  g.nodes = {to_half, back, gemm};
  infer_shapes(g, InferOptions{true});
  EXPECT_EQ(read_bfloat16_operands(g), 0);
  EXPECT_EQ(g.nodes[2].input(0), "x_r");
  g.nodes[2].set_attr("alpha", 1.f);
  EXPECT_EQ(read_bfloat16_operands(g), 1);
  EXPECT_EQ(g.nodes[2].input(0), "x_h");
}

// The session runs the bf16 plan when asked (QUENCH_BF16_PRODUCTS=1) and the float32 one when
// not; both give the reference's results.
TEST(Bf16Products, SessionMatchesReferenceEitherWay) {
  const Model m = rounded_operands_model(true);
  const std::vector<Tensor> feeds = {random_tensor({2, 8, 6, 6}, 7)};
  const Tensor want = Session(m, testing::one_thread(false)).run(feeds)[0];
  const char* before = std::getenv("QUENCH_BF16_PRODUCTS");
  const std::string saved = before ? before : "";
  for (const char* mode : {"1", "0"}) {
    setenv("QUENCH_BF16_PRODUCTS", mode, 1);
    Session fast(m, testing::one_thread(true));
    const Tensor got = fast.run(feeds)[0];
    EXPECT_TRUE(testing::tensors_near(got, want, kFloatAtol, kBf16Rtol)) << mode;
    const std::string conv = testing::impl_of(fast, feeds, "conv");
    if (std::string(mode) == "1" && x86::cpu_features().avx512_bf16) {
      EXPECT_NE(conv.find("bf16"), std::string::npos) << conv;
    }
    if (std::string(mode) == "0") {
      EXPECT_EQ(conv.find("bf16"), std::string::npos) << conv;
    }
  }
  if (before) {
    setenv("QUENCH_BF16_PRODUCTS", saved.c_str(), 1);
  } else {
    unsetenv("QUENCH_BF16_PRODUCTS");
  }
}

// A convolution's float32 output read both as a rounded operand and as a graph output (a residual
// stream): the Cast to bfloat16 reads the convolution's blocked layout and keeps it for the next
// convolution; both outputs match the reference.
TEST(Bf16Products, CastOfBlockedOutputMatchesReference) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  g.outputs = {"c", "y"};
  g.values["x"] = ValueInfo{DType::kFloat32, SymbolicShape{2, 16, 7, 7}, ""};
  g.initializers["w1"] = bf16_valued({16, 16, 3, 3}, 1);
  g.initializers["w2"] = bf16_valued({16, 16, 3, 3}, 2);
  auto conv = [](const std::string& x, const std::string& w, const std::string& y) {
    Node n = make_node("Conv", {x, w}, {y});
    n.set_attr("pads", Ints{1, 1, 1, 1});
    n.name = y;
    return n;
  };
  Node to_half = make_node("Cast", {"c"}, {"c_h"});
  to_half.set_attr("to", static_cast<int64_t>(kB));
  to_half.name = "to_half";
  Node back = make_node("Cast", {"c_h"}, {"c_r"});
  back.set_attr("to", int64_t{1});
  g.nodes = {conv("x", "w1", "c"), to_half, back, conv("c_r", "w2", "y")};
  const std::vector<Tensor> feeds = {random_tensor({2, 16, 7, 7}, 3)};
  const auto want = Session(m, testing::one_thread(false)).run(feeds);
  const char* before = std::getenv("QUENCH_BF16_PRODUCTS");
  const std::string saved = before ? before : "";
  setenv("QUENCH_BF16_PRODUCTS", "1", 1);
  Session fast(m, testing::one_thread(true));
  const auto got = fast.run(feeds);
  if (before) {
    setenv("QUENCH_BF16_PRODUCTS", saved.c_str(), 1);
  } else {
    unsetenv("QUENCH_BF16_PRODUCTS");
  }
  EXPECT_EQ(testing::impl_of(fast, feeds, "to_half"), "onednn:reorder");
  EXPECT_TRUE(testing::tensors_near(got[0], want[0], kFloatAtol, kFloatRtol));
  EXPECT_TRUE(testing::tensors_near(got[1], want[1], kFloatAtol, kBf16Rtol));
}

// float32 -> bfloat16 -> float32 on oneDNN's reorder: the reference Cast's bits (round to nearest
// even; ties, negative values and a NaN included).
TEST(Bf16Products, FastCastMatchesReferenceBits) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  g.outputs = {"y", "z"};
  g.values["x"] = ValueInfo{DType::kFloat32, SymbolicShape{4, 64}, ""};
  Node to_half = make_node("Cast", {"x"}, {"y"});
  to_half.set_attr("to", static_cast<int64_t>(kB));
  to_half.name = "to_half";
  Node back = make_node("Cast", {"y"}, {"z"});
  back.set_attr("to", int64_t{1});
  g.nodes = {to_half, back};
  Tensor x = random_tensor({4, 64}, 5, -100.f, 100.f);
  float* v = x.data<float>();
  v[0] = std::bit_cast<float>(0x3f808000u);  // a tie, rounds down to even
  v[1] = std::bit_cast<float>(0x3f818000u);  // a tie, rounds up to even
  v[2] = -std::bit_cast<float>(0x3f80c000u);
  v[3] = std::numeric_limits<float>::quiet_NaN();
  v[4] = std::numeric_limits<float>::infinity();
  const std::vector<Tensor> feeds = {x};
  Session ref(m, testing::one_thread(false));
  Session fast(m, testing::one_thread(true));
  const auto want = ref.run(feeds);
  const auto got = fast.run(feeds);
  EXPECT_EQ(testing::impl_of(fast, feeds, "to_half"), "onednn:reorder");
  const auto* w = static_cast<const uint16_t*>(want[0].raw_data());
  const auto* h = static_cast<const uint16_t*>(got[0].raw_data());
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (i == 3) {  // any quiet NaN
      EXPECT_TRUE(std::isnan(bfloat16_to_float(h[i])));
      continue;
    }
    EXPECT_EQ(h[i], w[i]) << i << ": " << v[i];
  }
}

}  // namespace
}  // namespace quench
