// Every registered gradient against central finite differences (train_gradcheck.h), on small
// random shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "quench/error.h"
#include "train/gradient.h"
#include "train/loss.h"
#include "train_gradcheck.h"

namespace quench::train {
namespace {

using testing::all_initializers;
using testing::gradient_mismatches;
using testing::random_tensor;
using testing::single_node_graph;
using Attrs = std::map<std::string, AttributeValue>;
using Ints = std::vector<int64_t>;

std::vector<std::string> float_initializers(const Graph& g) {
  std::vector<std::string> names;
  for (const auto& [name, t] : g.initializers) {
    if (t.dtype() == DType::kFloat32) names.push_back(name);
  }
  return names;
}

void expect_gradients(const Graph& g, uint32_t seed = 1) {
  EXPECT_EQ(gradient_mismatches(g, float_initializers(g), "y", seed), 0);
}

TEST(TrainGradients, Conv2dPadded) {
  std::mt19937 rng(1);
  const Graph g = single_node_graph(
      "Conv",
      {random_tensor({2, 3, 5, 5}, rng), random_tensor({4, 3, 3, 3}, rng), random_tensor({4}, rng)},
      Attrs{{"pads", Ints{1, 1, 1, 1}}});
  expect_gradients(g);
}

TEST(TrainGradients, Conv2dStridesDilationsAsymmetricPads) {
  std::mt19937 rng(2);
  const Graph g = single_node_graph(
      "Conv", {random_tensor({1, 2, 7, 6}, rng), random_tensor({3, 2, 2, 3}, rng)},
      Attrs{{"pads", Ints{1, 0, 2, 1}}, {"strides", Ints{2, 1}}, {"dilations", Ints{2, 2}}});
  expect_gradients(g);
}

TEST(TrainGradients, Conv2dGroupedAndDepthwise) {
  std::mt19937 rng(3);
  expect_gradients(single_node_graph(
      "Conv",
      {random_tensor({2, 4, 4, 4}, rng), random_tensor({6, 2, 3, 3}, rng), random_tensor({6}, rng)},
      Attrs{{"group", int64_t{2}}, {"pads", Ints{1, 1, 1, 1}}}));
  expect_gradients(single_node_graph(
      "Conv", {random_tensor({1, 3, 5, 5}, rng), random_tensor({3, 1, 3, 3}, rng)},
      Attrs{{"group", int64_t{3}}, {"strides", Ints{2, 2}}}));
}

TEST(TrainGradients, Conv1d) {
  std::mt19937 rng(4);
  expect_gradients(single_node_graph("Conv",
                                     {random_tensor({2, 2, 9}, rng), random_tensor({3, 2, 3}, rng)},
                                     Attrs{{"pads", Ints{2, 1}}, {"strides", Ints{2}}}));
}

TEST(TrainGradients, WrongGradientIsCaught) {
  // The checker itself: a gradient 10% off must fail it.
  std::mt19937 rng(5);
  const Graph g = single_node_graph(
      "Conv", {random_tensor({1, 2, 4, 4}, rng), random_tensor({2, 2, 3, 3}, rng)});
  EXPECT_GT(gradient_mismatches(g, all_initializers(g), "y", 1, 1.1, false), 0);
  EXPECT_EQ(gradient_mismatches(g, all_initializers(g), "y", 1, 1.0, false), 0);
}

TEST(TrainGradients, GemmTransposesAlphaBetaBroadcastBias) {
  std::mt19937 rng(6);
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      const Shape a = ta ? Shape{4, 3} : Shape{3, 4};
      const Shape b = tb ? Shape{5, 4} : Shape{4, 5};
      for (const Shape& c : {Shape{5}, Shape{3, 1}, Shape{3, 5}}) {
        SCOPED_TRACE(::testing::Message()
                     << "transA " << ta << " transB " << tb << " C " << shape_str(c));
        expect_gradients(single_node_graph(
            "Gemm", {random_tensor(a, rng), random_tensor(b, rng), random_tensor(c, rng)},
            Attrs{{"transA", int64_t{ta}},
                  {"transB", int64_t{tb}},
                  {"alpha", 0.7f},
                  {"beta", 1.3f}}));
      }
    }
  }
}

TEST(TrainGradients, MatMulBatchedBroadcast) {
  std::mt19937 rng(7);
  expect_gradients(
      single_node_graph("MatMul", {random_tensor({2, 3, 4}, rng), random_tensor({4, 5}, rng)}));
  expect_gradients(single_node_graph(
      "MatMul", {random_tensor({2, 1, 3, 4}, rng), random_tensor({3, 4, 2}, rng)}));
}

TEST(TrainGradients, Activations) {
  std::mt19937 rng(8);
  for (const char* op : {"Relu", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid"}) {
    SCOPED_TRACE(op);
    // Away from the kinks (0 for Relu, +-3 for HardSwish, +-2.5 for HardSigmoid).
    Tensor x = random_tensor({2, 3, 4}, rng, -2.0f, 2.0f, 0.05f);
    expect_gradients(single_node_graph(op, {x}));
  }
  Tensor x = random_tensor({3, 4}, rng, -2.0f, 2.0f);
  for (float& v : x.values<float>()) {
    if (std::fabs(std::fabs(v) - 1.0f) < 0.05f) v = 0.5f;  // away from the clip bounds
  }
  Graph clip = single_node_graph("Clip", {x, Tensor::scalar(-1.0f), Tensor::scalar(1.0f)});
  EXPECT_EQ(gradient_mismatches(clip, {"in0"}, "y", 1), 0);
}

TEST(TrainGradients, BinaryOpsWithBroadcasting) {
  std::mt19937 rng(9);
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    SCOPED_TRACE(op);
    const float lo = std::string(op) == "Div" ? 0.5f : -1.0f;
    expect_gradients(single_node_graph(
        op, {random_tensor({2, 3, 4}, rng), random_tensor({3, 1}, rng, lo, 1.5f)}));
    expect_gradients(
        single_node_graph(op, {random_tensor({1, 4}, rng), random_tensor({3, 1}, rng, lo, 1.5f)}));
  }
}

// Distinct values 0.1 apart in random order: a finite-difference step never changes which element
// of a window is the maximum.
Tensor separated_tensor(Shape shape, std::mt19937& rng) {
  Tensor t = Tensor::empty(DType::kFloat32, std::move(shape));
  std::vector<float> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.1f * static_cast<float>(i);
  std::shuffle(v.begin(), v.end(), rng);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

TEST(TrainGradients, Pools) {
  std::mt19937 rng(10);
  expect_gradients(single_node_graph("MaxPool", {separated_tensor({2, 2, 6, 6}, rng)},
                                     Attrs{{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}));
  expect_gradients(single_node_graph(
      "MaxPool", {separated_tensor({1, 2, 5, 5}, rng)},
      Attrs{{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}));
  for (int64_t include_pad : {0, 1}) {
    expect_gradients(single_node_graph("AveragePool", {random_tensor({1, 2, 5, 4}, rng)},
                                       Attrs{{"kernel_shape", Ints{3, 2}},
                                             {"strides", Ints{2, 1}},
                                             {"pads", Ints{1, 0, 1, 1}},
                                             {"count_include_pad", include_pad}}));
  }
  expect_gradients(single_node_graph("GlobalAveragePool", {random_tensor({2, 3, 4, 5}, rng)}));
}

TEST(TrainGradients, ShapeOps) {
  std::mt19937 rng(11);
  expect_gradients(single_node_graph("Flatten", {random_tensor({2, 3, 2, 2}, rng)},
                                     Attrs{{"axis", int64_t{2}}}));
  expect_gradients(single_node_graph(
      "Reshape", {random_tensor({2, 3, 4}, rng), Tensor::from_vector<int64_t>({2}, {4, -1})}));
  expect_gradients(single_node_graph("Transpose", {random_tensor({2, 3, 4}, rng)},
                                     Attrs{{"perm", Ints{1, 2, 0}}}));
}

TEST(TrainGradients, ConcatSplitGather) {
  std::mt19937 rng(15);
  expect_gradients(single_node_graph("Concat",
                                     {random_tensor({2, 3, 2}, rng), random_tensor({2, 1, 2}, rng)},
                                     Attrs{{"axis", int64_t{1}}}));
  // Split into two, joined again the other way round: both outputs' gradients reach the input.
  Graph g;
  g.opsets[""] = 17;
  g.initializers["x"] = random_tensor({2, 5}, rng);
  g.initializers["split"] = Tensor::from_vector<int64_t>({2}, {2, 3});
  Node split;
  split.name = "split";
  split.op_type = "Split";
  split.inputs = {"x", "split"};
  split.outputs = {"a", "b"};
  split.set_attr("axis", int64_t{1});
  Node concat;
  concat.name = "concat";
  concat.op_type = "Concat";
  concat.inputs = {"b", "a"};
  concat.outputs = {"y"};
  concat.set_attr("axis", int64_t{1});
  g.nodes = {split, concat};
  g.outputs = {"y"};
  EXPECT_EQ(gradient_mismatches(g, {"x"}, "y", 2), 0);
  // A repeated index gathers the same row twice: its gradient is the sum of both.
  expect_gradients(single_node_graph(
      "Gather", {random_tensor({3, 4}, rng), Tensor::from_vector<int64_t>({3}, {2, 0, -1})},
      Attrs{{"axis", int64_t{0}}}));
  expect_gradients(single_node_graph(
      "Gather", {random_tensor({2, 4, 3}, rng), Tensor::from_vector<int64_t>({2, 2}, {1, 3, 3, 0})},
      Attrs{{"axis", int64_t{1}}}));
}

TEST(TrainGradients, Slice) {
  std::mt19937 rng(19);
  auto ints = [](std::vector<int64_t> v) {
    return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
  };
  // Positive steps with a negative start, and a negative step with an end past the front.
  expect_gradients(single_node_graph("Slice", {random_tensor({3, 6, 4}, rng), ints({-5, 1}),
                                               ints({6, 100}), ints({1, 2}), ints({2, 2})}));
  expect_gradients(single_node_graph(
      "Slice", {random_tensor({5, 4}, rng), ints({4}), ints({-100}), ints({0}), ints({-2})}));
}

TEST(TrainGradients, SoftmaxAndReduceMean) {
  std::mt19937 rng(16);
  expect_gradients(single_node_graph("Softmax", {random_tensor({2, 3, 4}, rng, -2.0f, 2.0f)},
                                     Attrs{{"axis", int64_t{1}}}));
  Graph old = single_node_graph("Softmax", {random_tensor({2, 3, 4}, rng, -2.0f, 2.0f)},
                                Attrs{{"axis", int64_t{1}}});
  old.opsets[""] = 11;  // over the flattened dims 1 and 2
  expect_gradients(old);
  expect_gradients(single_node_graph("ReduceMean", {random_tensor({2, 3, 4}, rng)},
                                     Attrs{{"axes", Ints{1}}, {"keepdims", int64_t{0}}}));
  expect_gradients(single_node_graph("ReduceMean", {random_tensor({2, 3, 4}, rng)}));
}

TEST(TrainGradients, LayerNormalization) {
  std::mt19937 rng(17);
  expect_gradients(
      single_node_graph("LayerNormalization", {random_tensor({2, 3, 4}, rng, -2.0f, 2.0f),
                                               random_tensor({4}, rng), random_tensor({4}, rng)}));
  expect_gradients(single_node_graph("LayerNormalization",
                                     {random_tensor({2, 3, 4}, rng, -2.0f, 2.0f),
                                      random_tensor({3, 4}, rng), random_tensor({3, 4}, rng)},
                                     Attrs{{"axis", int64_t{1}}, {"epsilon", 1e-3f}}));
}

TEST(TrainGradients, BatchNormalizationTrainingMode) {
  std::mt19937 rng(18);
  // Gradients through the batch statistics, of X, scale and bias (not of the running stats).
  const Graph g = single_node_graph(
      "BatchNormalization",
      {random_tensor({3, 2, 2, 3}, rng, -2.0f, 2.0f), random_tensor({2}, rng),
       random_tensor({2}, rng), random_tensor({2}, rng), random_tensor({2}, rng, 0.5f, 1.5f)});
  EXPECT_EQ(gradient_mismatches(g, {"in0", "in1", "in2"}, "y", 4), 0);
}

TEST(TrainGradients, BatchNormalizationUpdatesRunningStatistics) {
  // One channel, X = {1, 2, 3, 6}: batch mean 3, population variance 3.5; momentum 0.9 from
  // mean 0 / variance 1: running mean 0.3, running variance 0.9 + 0.35 = 1.25. Y uses the batch
  // statistics: (6 − 3) / sqrt(3.5 + 1e-5) for the last element (scale 1, bias 0).
  Graph g = single_node_graph(
      "BatchNormalization",
      {Tensor::from_vector<float>({4, 1}, {1, 2, 3, 6}), Tensor::from_vector<float>({1}, {1}),
       Tensor::from_vector<float>({1}, {0}), Tensor::from_vector<float>({1}, {0}),
       Tensor::from_vector<float>({1}, {1})});
  Tape tape(g, {"in1", "in2"});
  tape.forward({});
  EXPECT_NEAR(tape.buffers().at("in3").data<float>()[0], 0.3f, 1e-6f);
  EXPECT_NEAR(tape.buffers().at("in4").data<float>()[0], 1.25f, 1e-6f);
  EXPECT_NEAR(tape.value("y").data<float>()[3], 3.0 / std::sqrt(3.5 + 1e-5), 1e-5);
  tape.forward({});  // a second step moves them further
  EXPECT_NEAR(tape.buffers().at("in3").data<float>()[0], 0.57f, 1e-6f);
  // Inference mode uses the running statistics: (6 − 0.57) / sqrt(1.475 + 1e-5).
  tape.forward({}, false);
  EXPECT_NEAR(tape.value("y").data<float>()[3], (6 - 0.57) / std::sqrt(1.475 + 1e-5), 1e-4);
}

TEST(TrainGradients, BatchNormalizationFrozen) {
  std::mt19937 rng(19);
  // Frozen: the running statistics normalise; gradients of X, scale and bias.
  const Graph g = single_node_graph(
      "BatchNormalization",
      {random_tensor({3, 2, 2, 3}, rng, -2.0f, 2.0f), random_tensor({2}, rng),
       random_tensor({2}, rng), random_tensor({2}, rng), random_tensor({2}, rng, 0.5f, 1.5f)});
  EXPECT_EQ(gradient_mismatches(g, {"in0", "in1", "in2"}, "y", 5, 1.0, true, true), 0);
}

TEST(TrainGradients, BatchNormalizationFrozenKeepsRunningStatistics) {
  // X = {1, 2, 3, 6}, running mean 0.5 / variance 2: frozen, Y = (x − 0.5) / sqrt(2 + 1e-5)
  // and the running statistics stay.
  Graph g = single_node_graph(
      "BatchNormalization",
      {Tensor::from_vector<float>({4, 1}, {1, 2, 3, 6}), Tensor::from_vector<float>({1}, {1}),
       Tensor::from_vector<float>({1}, {0}), Tensor::from_vector<float>({1}, {0.5f}),
       Tensor::from_vector<float>({1}, {2})});
  Tape tape(g, {"in1", "in2"});
  tape.set_batch_norm_frozen(true);
  tape.forward({});
  EXPECT_EQ(tape.buffers().at("in3").data<float>()[0], 0.5f);
  EXPECT_EQ(tape.buffers().at("in4").data<float>()[0], 2.0f);
  EXPECT_NEAR(tape.value("y").data<float>()[3], 5.5 / std::sqrt(2 + 1e-5), 1e-5);
  tape.set_batch_norm_frozen(false);
  tape.forward({});  // unfrozen, they move again: 0.9 · 0.5 + 0.1 · 3
  EXPECT_NEAR(tape.buffers().at("in3").data<float>()[0], 0.75f, 1e-6f);
}

TEST(TrainGradients, FanOutSums) {
  // y = (a * a) + a: dy/da = 2a + 1, reached through two uses of a and two of t.
  std::mt19937 rng(12);
  Graph g;
  g.opsets[""] = 17;
  g.initializers["a"] = random_tensor({3, 4}, rng);
  Node mul;
  mul.op_type = "Mul";
  mul.name = "mul";
  mul.inputs = {"a", "a"};
  mul.outputs = {"t"};
  Node add;
  add.op_type = "Add";
  add.name = "add";
  add.inputs = {"t", "a"};
  add.outputs = {"y"};
  g.nodes = {mul, add};
  g.outputs = {"y"};
  EXPECT_EQ(gradient_mismatches(g, {"a"}, "y", 3), 0);
}

TEST(TrainGradients, ErfPowWhereExpandCast) {
  // The ops a PyTorch-exported transformer adds (GELU as Erf, Pow, Where, Expand, Cast).
  std::mt19937 rng(21);
  expect_gradients(single_node_graph("Erf", {random_tensor({3, 4}, rng, -2.0f, 2.0f)}));
  // Pow: positive bases (the exponent's gradient needs ln A), exponent broadcast over rows.
  expect_gradients(single_node_graph(
      "Pow", {random_tensor({3, 4}, rng, 0.5f, 2.0f), random_tensor({4}, rng, 0.5f, 3.0f)}));
  Tensor cond = Tensor::empty(DType::kBool, {3, 1});
  cond.data<bool>()[0] = true;
  cond.data<bool>()[1] = false;
  cond.data<bool>()[2] = true;
  const Graph where =
      single_node_graph("Where", {cond, random_tensor({3, 4}, rng), random_tensor({1, 4}, rng)});
  EXPECT_EQ(gradient_mismatches(where, {"in1", "in2"}, "y", 21), 0);
  const Graph expand = single_node_graph(
      "Expand", {random_tensor({1, 3, 1}, rng), Tensor::from_vector<int64_t>({3}, {2, 3, 4})});
  EXPECT_EQ(gradient_mismatches(expand, {"in0"}, "y", 22), 0);
  expect_gradients(
      single_node_graph("Cast", {random_tensor({2, 3}, rng)}, Attrs{{"to", int64_t{1}}}));
  // A deliberately wrong gradient is caught (the check can fail).
  EXPECT_GT(gradient_mismatches(expand, {"in0"}, "y", 22, 0.5, false), 0);
}

TEST(TrainGradients, RefusesOpWithoutGradient) {
  std::mt19937 rng(13);
  Graph g = single_node_graph("Floor", {random_tensor({2, 2}, rng)});
  g.nodes[0].name = "floor_node";
  try {
    Tape tape(g, {"in0"});
    FAIL() << "expected kUnsupported";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("floor_node"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Floor"), std::string::npos) << e.what();
  }
}

TEST(TrainLoss, SoftmaxCrossEntropyMatchesFiniteDifferences) {
  std::mt19937 rng(14);
  const Tensor z = random_tensor({3, 5}, rng, -3.0f, 3.0f);
  const std::vector<int64_t> labels = {0, 4, 2};
  const LossResult r = softmax_cross_entropy(z, labels);
  for (int64_t i = 0; i < z.numel(); ++i) {
    Tensor zp = z.clone();
    Tensor zm = z.clone();
    zp.data<float>()[i] += testing::kFdStep;
    zm.data<float>()[i] -= testing::kFdStep;
    const double numeric =
        (softmax_cross_entropy(zp, labels).loss - softmax_cross_entropy(zm, labels).loss) /
        (2.0 * testing::kFdStep);
    EXPECT_NEAR(r.grad.data<float>()[i], numeric,
                testing::kFdAbsTol + testing::kFdRelTol * std::fabs(numeric))
        << i;
  }
}

TEST(TrainLoss, LabelOutOfRangeIsAClearError) {
  const Tensor z = Tensor::zeros(DType::kFloat32, {2, 3});
  try {
    softmax_cross_entropy(z, {1, 3});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("sample 1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quench::train
