// oneDNN kernels against the reference kernels, case by case from a table (shape, attributes,
// which inputs are constants). Each case also checks that the fast kernel was the one chosen.
#include <random>

#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::random_tensor;

// oneDNN reorders float sums (blocking, FMA): relative error grows with the reduction length.
constexpr double kFastFloatRtol = 1e-4;
constexpr double kFastFloatAtol = 1e-5;

struct Operand {
  Shape shape;
  bool constant = false;
};

struct Case {
  std::string name;
  std::string op;
  std::vector<Operand> inputs;
  std::vector<std::pair<std::string, AttributeValue>> attrs;
  std::vector<std::string> follow;  // activations applied after the op (exercises fusion)
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Model build(const Case& c, std::vector<Tensor>& feeds) {
  std::mt19937 rng(42);
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  Node node;
  node.op_type = c.op;
  node.name = "op";
  for (const auto& [k, v] : c.attrs) node.set_attr(k, v);
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const std::string name = "in" + std::to_string(i);
    node.inputs.push_back(name);
    Tensor t = random_tensor(c.inputs[i].shape, rng);
    if (c.inputs[i].constant) {
      g.initializers[name] = t;
    } else {
      g.inputs.push_back(name);
      g.values[name] = ValueInfo{DType::kFloat32, symbolic(t.shape()), ""};
      feeds.push_back(t);
    }
  }
  node.outputs = {"y0"};
  g.nodes.push_back(node);
  for (size_t i = 0; i < c.follow.size(); ++i) {
    Node act;
    act.op_type = c.follow[i];
    act.name = "act" + std::to_string(i);
    act.inputs = {"y" + std::to_string(i)};
    act.outputs = {"y" + std::to_string(i + 1)};
    g.nodes.push_back(act);
  }
  g.outputs = {"y" + std::to_string(c.follow.size())};
  return m;
}

class OnednnKernel : public ::testing::TestWithParam<Case> {};

TEST_P(OnednnKernel, MatchesReference) {
  const Case& c = GetParam();
  std::vector<Tensor> feeds;
  Model model = build(c, feeds);
  SessionOptions ref_options;
  ref_options.fast_kernels = false;
  Session ref(model, ref_options);
  Session fast(model, SessionOptions{});
  const auto want = ref.run(feeds);
  const auto got = fast.run(feeds);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_TRUE(testing::tensors_near(got[0], want[0], kFastFloatAtol, kFastFloatRtol));
  std::vector<Shape> shapes;
  for (const auto& t : feeds) shapes.push_back(t.shape());
  bool used_onednn = false;
  for (const StepInfo& s : fast.plan_steps(shapes)) {
    used_onednn |= s.impl.rfind("onednn:", 0) == 0 && s.op_type != "Reorder";
  }
  EXPECT_TRUE(used_onednn) << "the fast kernel was not selected";
}

using Attrs = std::vector<std::pair<std::string, AttributeValue>>;
using Ints = std::vector<int64_t>;

Case make(std::string name, std::string op, std::vector<Operand> inputs, Attrs attrs = {},
          std::vector<std::string> follow = {}) {
  return Case{std::move(name), std::move(op), std::move(inputs), std::move(attrs),
              std::move(follow)};
}

Operand runtime(Shape s) { return Operand{std::move(s), false}; }
Operand constant(Shape s) { return Operand{std::move(s), true}; }

const std::vector<Case> kCases = {
    make("gemm_transB_bias", "Gemm", {runtime({4, 16}), constant({8, 16}), constant({8})},
         {{"transB", int64_t{1}}}),
    make("gemm_alpha_beta", "Gemm", {runtime({3, 5}), constant({5, 7}), constant({1, 7})},
         {{"alpha", 0.5f}, {"beta", 2.f}}),
    make("gemm_transA", "Gemm", {runtime({5, 3}), constant({5, 7})}, {{"transA", int64_t{1}}}),
    make("gemm_relu", "Gemm", {runtime({2, 128}), constant({10, 128}), constant({10})},
         {{"transB", int64_t{1}}}, {"Relu"}),
    make("matmul_2d_const", "MatMul", {runtime({6, 32}), constant({32, 24})}),
    make("matmul_3d_const", "MatMul", {runtime({2, 17, 64}), constant({64, 192})}),
    make("matmul_batched_runtime", "MatMul", {runtime({2, 4, 17, 16}), runtime({2, 4, 16, 17})}),
    make("matmul_broadcast_runtime", "MatMul", {runtime({1, 4, 9, 8}), runtime({3, 1, 8, 5})}),
    make("matmul_tanh", "MatMul", {runtime({5, 12}), constant({12, 6})}, {}, {"Tanh"}),
    make("conv_3x3_pad", "Conv", {runtime({2, 16, 9, 9}), constant({32, 16, 3, 3}), constant({32})},
         {{"pads", Ints{1, 1, 1, 1}}}),
    make("conv_first_layer", "Conv", {runtime({3, 1, 28, 28}), constant({32, 1, 3, 3})},
         {{"pads", Ints{1, 1, 1, 1}}}, {"Relu"}),
    make("conv_wide_1x1", "Conv", {runtime({1, 96, 7, 7}), constant({160, 96, 1, 1})}, {},
         {"Relu"}),
    make("conv_stride_asym_pad", "Conv", {runtime({1, 8, 11, 10}), constant({16, 8, 3, 3})},
         {{"strides", Ints{2, 2}}, {"pads", Ints{0, 1, 2, 1}}}),
    make("conv_dilated", "Conv", {runtime({1, 8, 12, 12}), constant({8, 8, 3, 3})},
         {{"dilations", Ints{2, 2}}, {"pads", Ints{2, 2, 2, 2}}}),
    make("conv_grouped", "Conv", {runtime({2, 16, 8, 8}), constant({32, 4, 3, 3})},
         {{"group", int64_t{4}}, {"pads", Ints{1, 1, 1, 1}}}),
    make("conv_depthwise_clip", "Conv",
         {runtime({2, 24, 10, 10}), constant({24, 1, 3, 3}), constant({24})},
         {{"group", int64_t{24}}, {"pads", Ints{1, 1, 1, 1}}}, {"Sigmoid"}),
    make("conv_same_upper", "Conv", {runtime({1, 4, 7, 7}), constant({4, 4, 4, 4})},
         {{"auto_pad", std::string("SAME_UPPER")}}),
    make("conv_1d", "Conv", {runtime({2, 4, 20}), constant({6, 4, 5})}, {{"pads", Ints{2, 2}}}),
    make("conv_3d", "Conv", {runtime({1, 4, 5, 6, 7}), constant({6, 4, 3, 3, 3})}),
    make("maxpool_ceil_pads", "MaxPool", {runtime({2, 16, 9, 9})},
         {{"kernel_shape", Ints{3, 3}},
          {"strides", Ints{2, 2}},
          {"pads", Ints{1, 1, 1, 1}},
          {"ceil_mode", int64_t{1}}}),
    make("maxpool_dilated", "MaxPool", {runtime({1, 8, 10, 10})},
         {{"kernel_shape", Ints{2, 2}}, {"dilations", Ints{2, 2}}}),
    make("avgpool_exclude_pad", "AveragePool", {runtime({2, 16, 7, 7})},
         {{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 1, 1, 1}}}),
    make("avgpool_include_pad", "AveragePool", {runtime({2, 16, 7, 7})},
         {{"kernel_shape", Ints{3, 3}},
          {"pads", Ints{1, 1, 1, 1}},
          {"count_include_pad", int64_t{1}}}),
    make("global_avgpool", "GlobalAveragePool", {runtime({4, 64, 7, 7})}),
    make("global_maxpool", "GlobalMaxPool", {runtime({4, 64, 3, 5})}),
    make("softmax_middle_axis", "Softmax", {runtime({3, 5, 7})}, {{"axis", int64_t{1}}}),
    make("logsoftmax", "LogSoftmax", {runtime({6, 10})}),
    make("layer_norm", "LayerNormalization", {runtime({2, 17, 64}), constant({64}), constant({64})},
         {{"epsilon", 1e-5f}}),
    make("layer_norm_two_axes", "LayerNormalization", {runtime({3, 4, 5}), constant({4, 5})},
         {{"axis", int64_t{1}}}),
    make("add_same_shape", "Add", {runtime({2, 16, 5, 5}), runtime({2, 16, 5, 5})}),
    make("mul_broadcast_first", "Mul", {runtime({16, 1, 1}), runtime({2, 16, 5, 5})}),
    make("div_channel", "Div", {runtime({2, 16, 5, 5}), constant({16, 1, 1})}),
    make("hardswish", "HardSwish", {runtime({3, 40})}),
};

INSTANTIATE_TEST_SUITE_P(Table, OnednnKernel, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

}  // namespace
}  // namespace quench
