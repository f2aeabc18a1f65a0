// The training engine's fast kernels against its references: Conv's oneDNN primitives (forward,
// backward data, backward weights and bias) against the im2col kernel, and MaxPool's training
// forward against the reference interpreter (bit-exact: a max is exact).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "ops/evaluate.h"
#include "train/gradient.h"
#include "train/gradients/conv_im2col.h"
#include "train_gradcheck.h"

namespace quench::train {
namespace {

using testing::expect_close;
using testing::random_tensor;
using Attrs = std::map<std::string, AttributeValue>;
using Ints = std::vector<int64_t>;

// Float sums in a different order (blocked kernels vs one GEMM per sample): relative to the
// magnitude of the sums, which for inputs in [-1, 1] grow with the reduction length.
constexpr double kFastVsReferenceTol = 1e-4;

Node conv_node(const Attrs& attrs, bool bias) {
  Node n;
  n.name = "conv";
  n.op_type = "Conv";
  n.inputs = {"x", "w"};
  if (bias) n.inputs.push_back("b");
  n.outputs = {"y"};
  for (const auto& [k, v] : attrs) n.set_attr(k, v);
  return n;
}

struct ConvCase {
  Shape x, w;
  Attrs attrs;
  bool bias;
};

void check_conv(const ConvCase& c, uint32_t seed) {
  std::mt19937 rng(seed);
  const Node node = conv_node(c.attrs, c.bias);
  const Tensor x = random_tensor(c.x, rng), w = random_tensor(c.w, rng);
  const Tensor b = c.bias ? random_tensor({c.w[0]}, rng) : Tensor();
  std::vector<const Tensor*> in = {&x, &w};
  if (c.bias) in.push_back(&b);
  const GradientDef* def = find_gradient("Conv");
  ASSERT_NE(def, nullptr);
  const std::vector<Tensor> fast_y = def->forward(node, in);
  const std::vector<Tensor> ref_y = conv_forward_im2col(node, in);
  ASSERT_EQ(fast_y.size(), 1u);
  expect_close(fast_y[0], ref_y[0], kFastVsReferenceTol, "forward " + node.describe());

  const Tensor dy = random_tensor(ref_y[0].shape(), rng);
  GradContext ctx{node, in, {&ref_y[0]}, {dy}, {true, true, c.bias}, 17, true};
  const std::vector<Tensor> fast = def->backward(ctx);
  const std::vector<Tensor> ref = conv_backward_im2col(ctx);
  expect_close(fast[0], ref[0], kFastVsReferenceTol, "dx");
  expect_close(fast[1], ref[1], kFastVsReferenceTol, "dw");
  if (c.bias) expect_close(fast[2], ref[2], kFastVsReferenceTol, "db");

  // Only the weights' gradient wanted (the first layer): no dx computed, dw the same.
  GradContext weights_only{node, in, {&ref_y[0]}, {dy}, {false, true, false}, 17};
  const std::vector<Tensor> w_only = def->backward(weights_only);
  EXPECT_FALSE(w_only[0].defined());
  expect_close(w_only[1], ref[1], kFastVsReferenceTol, "dw alone");
}

TEST(TrainFastKernels, ConvMatchesIm2col) {
  const std::vector<ConvCase> cases = {
      {{2, 3, 9, 9}, {8, 3, 3, 3}, {{"pads", Ints{1, 1, 1, 1}}}, true},
      {{3, 1, 28, 28}, {16, 1, 3, 3}, {{"pads", Ints{1, 1, 1, 1}}}, true},
      {{2, 16, 14, 14},
       {32, 16, 3, 3},
       {{"pads", Ints{1, 1, 1, 1}}, {"strides", Ints{2, 2}}},
       false},
      {{1, 4, 11, 10},
       {6, 4, 3, 2},
       {{"pads", Ints{1, 0, 2, 1}}, {"strides", Ints{2, 1}}, {"dilations", Ints{2, 2}}},
       true},
      {{2, 8, 7, 7}, {12, 4, 3, 3}, {{"group", int64_t{2}}, {"pads", Ints{1, 1, 1, 1}}}, true},
      {{2, 24, 10, 10},
       {24, 1, 3, 3},
       {{"group", int64_t{24}}, {"pads", Ints{1, 1, 1, 1}}, {"strides", Ints{2, 2}}},
       true},
      {{2, 32, 7, 7}, {64, 32, 1, 1}, {}, false},
      {{2, 5, 17}, {7, 5, 3}, {{"pads", Ints{1, 1}}, {"strides", Ints{2}}}, true},
  };
  uint32_t seed = 1;
  for (const ConvCase& c : cases) {
    SCOPED_TRACE("case " + std::to_string(seed));
    check_conv(c, seed++);
  }
}

TEST(TrainFastKernels, MaxPoolForwardMatchesReference) {
  std::mt19937 rng(7);
  const std::vector<std::pair<Shape, Attrs>> cases = {
      {{2, 3, 8, 8}, {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}},
      {{1, 2, 7, 9},
       {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}},
      {{1, 2, 7, 7},
       {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t{1}}}},
      {{1, 2, 9, 9}, {{"kernel_shape", Ints{2, 2}}, {"dilations", Ints{2, 2}}}},
      {{2, 3, 15}, {{"kernel_shape", Ints{3}}, {"strides", Ints{2}}}},
  };
  const GradientDef* def = find_gradient("MaxPool");
  ASSERT_NE(def, nullptr);
  for (const auto& [shape, attrs] : cases) {
    Node n;
    n.name = "pool";
    n.op_type = "MaxPool";
    n.inputs = {"x"};
    n.outputs = {"y"};
    for (const auto& [k, v] : attrs) n.set_attr(k, v);
    Tensor x = random_tensor(shape, rng);
    x.data<float>()[3] = std::nanf("");  // NaN propagates as in the reference
    const std::vector<Tensor> fast = def->forward(n, {&x});
    const std::vector<Tensor> ref = evaluate_node(n, 17, {&x});
    ASSERT_EQ(fast.size(), 1u);
    ASSERT_EQ(fast[0].shape(), ref[0].shape()) << n.describe();
    for (int64_t i = 0; i < ref[0].numel(); ++i) {
      const float a = fast[0].data<float>()[i], b = ref[0].data<float>()[i];
      EXPECT_TRUE(a == b || (std::isnan(a) && std::isnan(b))) << i << ": " << a << " vs " << b;
    }
  }
}

}  // namespace
}  // namespace quench::train
