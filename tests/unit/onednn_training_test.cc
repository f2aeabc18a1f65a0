// The training engine's oneDNN fast paths for activations, pooling, softmax, layer and batch norm
// (kernels/onednn/{eltwise,pool,softmax,layer_norm,batch_norm}_training.h) against its reference
// loops (train/gradients/reference.h). The kernels are called directly, so that a fast path that
// declined (nullptr / false) fails here instead of passing through the reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "kernels/onednn/batch_norm_training.h"
#include "kernels/onednn/eltwise_training.h"
#include "kernels/onednn/layer_norm_training.h"
#include "kernels/onednn/pool_training.h"
#include "kernels/onednn/softmax_training.h"
#include "ops/evaluate.h"
#include "train/gradients/reference.h"
#include "train_gradcheck.h"

namespace quench::train {
namespace {

using testing::expect_close;
using testing::random_tensor;
using Attrs = std::map<std::string, AttributeValue>;
using Ints = std::vector<int64_t>;

// Element-wise derivatives written differently (oneDNN's (2x + 3)/6 against x/3 + 1/2,
// (1 − y)(1 + y) against 1 − y²): a few units in the last place of the values.
constexpr double kElementwiseTol = 1e-6;
// Pooling gradients: the same sums in another order where windows overlap.
constexpr double kPoolTol = 1e-6;
// Batch and layer norm: float sums (oneDNN) against double sums (the reference) over a channel's
// N·spatial elements or a row, relative to the largest value.
constexpr double kBatchNormTol = 1e-4;
// Softmax: one float dot product per row against the reference's double one.
constexpr double kSoftmaxTol = 1e-6;

// Largest |got − want| over max(|want|) must stay within `tol`.
Node node_of(const std::string& op, size_t inputs, const Attrs& attrs = {}) {
  Node n;
  n.name = "n";
  n.op_type = op;
  for (size_t i = 0; i < inputs; ++i) n.inputs.push_back("in" + std::to_string(i));
  n.outputs = {"y"};
  for (const auto& [k, v] : attrs) n.set_attr(k, v);
  return n;
}

TEST(OnednnTraining, ActivationsMatchTheReference) {
  std::mt19937 rng(31);
  struct Case {
    const char* op;
    onednn::EltwiseGrad kind;
  };
  for (const Case& c :
       {Case{"Relu", onednn::EltwiseGrad::kRelu}, Case{"Clip", onednn::EltwiseGrad::kClip},
        Case{"HardSwish", onednn::EltwiseGrad::kHardSwish},
        Case{"Sigmoid", onednn::EltwiseGrad::kSigmoid}, Case{"Tanh", onednn::EltwiseGrad::kTanh}}) {
    SCOPED_TRACE(c.op);
    Tensor x = random_tensor({3, 5, 67}, rng, -4.0f, 4.0f);  // 1005: a tail past every vector
    // The kinks themselves, where the conventions must agree: 0, the clip bounds, ±3.
    for (float v : {0.0f, -1.0f, 1.0f, 3.0f, -3.0f}) x.data<float>()[rng() % x.numel()] = v;
    const Tensor lo = Tensor::scalar(-1.0f), hi = Tensor::scalar(1.0f);
    const bool clip = std::string(c.op) == "Clip";
    const Node node = node_of(c.op, clip ? 3 : 1);
    std::vector<const Tensor*> in = {&x};
    if (clip) in.insert(in.end(), {&lo, &hi});
    const std::vector<Tensor> y = evaluate_node(node, 17, in);
    const Tensor dy = random_tensor(x.shape(), rng);
    GradContext ctx{node, in, {&y[0]}, {dy}, {true, false, false}, 17, true};
    const std::vector<Tensor> want = activation_backward_reference(ctx);

    const bool from_output =
        c.kind == onednn::EltwiseGrad::kSigmoid || c.kind == onednn::EltwiseGrad::kTanh;
    Tensor got = Tensor::empty(DType::kFloat32, x.shape());
    ASSERT_TRUE(onednn::eltwise_backward(c.kind, (from_output ? y[0] : x).data<float>(),
                                         dy.data<float>(), got.data<float>(), x.numel(),
                                         clip ? -1.0f : 0.0f, clip ? 1.0f : 0.0f));
    expect_close(got, want[0], kElementwiseTol, c.op);
    // The masks are exact: a gradient passes whole or not at all.
    if (c.kind == onednn::EltwiseGrad::kRelu || c.kind == onednn::EltwiseGrad::kClip) {
      for (int64_t i = 0; i < x.numel(); ++i) {
        ASSERT_EQ(got.data<float>()[i], want[0].data<float>()[i]) << "x = " << x.data<float>()[i];
      }
    }
  }
}

struct PoolCase {
  const char* op;
  Shape x;
  Attrs attrs;
};

TEST(OnednnTraining, PoolingMatchesTheReference) {
  std::mt19937 rng(32);
  const PoolCase cases[] = {
      {"MaxPool",
       {2, 3, 9, 9},
       {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}},
      {"MaxPool", {2, 3, 8, 8}, {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}},
      {"MaxPool",
       {1, 4, 10, 10},
       {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t{1}}}},
      {"MaxPool", {1, 2, 11, 11}, {{"kernel_shape", Ints{3, 3}}, {"dilations", Ints{2, 2}}}},
      {"MaxPool", {2, 3, 17}, {{"kernel_shape", Ints{3}}, {"strides", Ints{2}}}},
      {"AveragePool",
       {2, 3, 9, 9},
       {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}},
      {"AveragePool",
       {2, 3, 9, 9},
       {{"kernel_shape", Ints{3, 3}},
        {"strides", Ints{2, 2}},
        {"pads", Ints{1, 1, 1, 1}},
        {"count_include_pad", int64_t{1}}}},
      {"AveragePool",
       {1, 2, 10, 10},
       {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t{1}}}},
      {"GlobalAveragePool", {2, 5, 7, 6}, {}},
      {"GlobalAveragePool", {2, 5, 9}, {}},
  };
  for (const PoolCase& c : cases) {
    const Node node = node_of(c.op, 1, c.attrs);
    SCOPED_TRACE(std::string(c.op) + " x " + shape_str(c.x));
    const Tensor x = random_tensor(c.x, rng, -2.0f, 2.0f);
    const std::vector<Tensor> y = evaluate_node(node, 17, {&x});
    const Tensor dy = random_tensor(y[0].shape(), rng);
    GradContext ctx{node, {&x}, {&y[0]}, {dy}, {true}, 17, true};
    const std::vector<Tensor> want = pool_backward_reference(ctx);
    const auto k = onednn::PoolTraining::get(node, x.shape(), y[0].shape());
    ASSERT_NE(k, nullptr);
    Tensor got = Tensor::empty(DType::kFloat32, x.shape());
    k->backward(x.data<float>(), dy.data<float>(), got.data<float>());
    expect_close(got, want[0], kPoolTol, "dx");
  }
}

TEST(OnednnTraining, PoolingDeclinesWhatItCannotExpress) {
  // Indices output, and an averaged window counting a ceil_mode overhang as padding.
  const Node with_indices = [] {
    Node n = node_of("MaxPool", 1, {{"kernel_shape", Ints{2, 2}}});
    n.outputs.push_back("indices");
    return n;
  }();
  EXPECT_EQ(onednn::PoolTraining::get(with_indices, {1, 1, 4, 4}, {1, 1, 3, 3}), nullptr);
  const Node overhang = node_of("AveragePool", 1,
                                {{"kernel_shape", Ints{3, 3}},
                                 {"strides", Ints{2, 2}},
                                 {"ceil_mode", int64_t{1}},
                                 {"count_include_pad", int64_t{1}}});
  EXPECT_EQ(onednn::PoolTraining::get(overhang, {1, 1, 10, 10}, {1, 1, 5, 5}), nullptr);
}

TEST(OnednnTraining, SoftmaxMatchesTheReference) {
  std::mt19937 rng(34);
  struct Case {
    Shape shape;
    int64_t axis, opset;
    int64_t outer, size, inner;
  };
  // Attention scores' rows of 50, an inner axis, and opset 11's flattening from the axis on.
  for (const Case& c : {Case{{2, 4, 50, 50}, -1, 13, 400, 50, 1}, Case{{3, 7, 5}, 1, 13, 3, 7, 5},
                        Case{{3, 7, 5}, 1, 11, 3, 35, 1}}) {
    SCOPED_TRACE(shape_str(c.shape) + " axis " + std::to_string(c.axis));
    const Node node = node_of("Softmax", 1, {{"axis", c.axis}});
    const Tensor x = random_tensor(c.shape, rng, -4.0f, 4.0f);
    const std::vector<Tensor> y = evaluate_node(node, c.opset, {&x});
    const Tensor dy = random_tensor(c.shape, rng);
    GradContext ctx{node, {&x}, {&y[0]}, {dy}, {true}, c.opset, true};
    const std::vector<Tensor> want = softmax_backward_reference(ctx);
    Tensor got = Tensor::empty(DType::kFloat32, c.shape);
    ASSERT_TRUE(onednn::softmax_backward(c.outer, c.size, c.inner, y[0].data<float>(),
                                         dy.data<float>(), got.data<float>()));
    expect_close(got, want[0], kSoftmaxTol, "dx");
  }
}

TEST(OnednnTraining, LayerNormMatchesTheReference) {
  std::mt19937 rng(35);
  for (const bool with_bias : {true, false}) {
    for (const auto& [shape, axis] :
         {std::pair{Shape{4, 50, 64}, int64_t{-1}}, std::pair{Shape{3, 4, 5, 6}, int64_t{1}}}) {
      SCOPED_TRACE(shape_str(shape) + (with_bias ? " with bias" : " without bias"));
      const Shape group(shape.begin() + (axis < 0 ? shape.size() - 1 : axis), shape.end());
      const Tensor x = random_tensor(shape, rng, -2.0f, 3.0f);
      const Tensor gamma = random_tensor(group, rng, 0.5f, 1.5f), beta = random_tensor(group, rng);
      const Node node =
          node_of("LayerNormalization", with_bias ? 3 : 2, {{"axis", axis}, {"epsilon", 1e-5f}});
      std::vector<const Tensor*> in = {&x, &gamma};
      if (with_bias) in.push_back(&beta);
      const std::vector<Tensor> y = evaluate_node(node, 17, in);
      const Tensor dy = random_tensor(shape, rng);
      GradContext ctx{node, in, {&y[0]}, {dy}, {true, true, with_bias}, 17, true};
      const std::vector<Tensor> want = layer_norm_backward_reference(ctx);
      const int64_t n = gamma.numel();
      Tensor dx = Tensor::empty(DType::kFloat32, shape);
      Tensor dgamma = Tensor::empty(DType::kFloat32, group),
             dbeta = Tensor::empty(DType::kFloat32, group);
      ASSERT_TRUE(onednn::layer_norm_backward(
          x.numel() / n, n, 1e-5f, x.data<float>(), gamma.data<float>(),
          with_bias ? beta.data<float>() : nullptr, dy.data<float>(), dx.data<float>(),
          dgamma.data<float>(), with_bias ? dbeta.data<float>() : nullptr));
      expect_close(dx, want[0], kBatchNormTol, "dx");
      expect_close(dgamma, want[1], kBatchNormTol, "dgamma");
      if (with_bias) expect_close(dbeta, want[2], kBatchNormTol, "dbeta");
    }
  }
}

TEST(OnednnTraining, BatchNormMatchesTheReference) {
  std::mt19937 rng(33);
  for (const Shape& shape : {Shape{4, 3, 5, 7}, Shape{16, 6}, Shape{2, 4, 3, 3, 2}}) {
    SCOPED_TRACE(shape_str(shape));
    const int64_t c = shape[1];
    const Tensor x = random_tensor(shape, rng, -2.0f, 3.0f);
    const Tensor gamma = random_tensor({c}, rng, 0.5f, 1.5f), beta = random_tensor({c}, rng);
    const Tensor mean = random_tensor({c}, rng), var = random_tensor({c}, rng, 0.5f, 2.0f);
    const Node node = node_of("BatchNormalization", 5, {{"epsilon", 1e-3f}, {"momentum", 0.8f}});
    const std::vector<const Tensor*> in = {&x, &gamma, &beta, &mean, &var};

    // The training forward: y and the batch statistics (the reference reports them through
    // the running statistics it updates).
    UpdatedInputs updated;
    const std::vector<Tensor> want_y = batch_norm_training_forward_reference(node, in, updated);
    ASSERT_EQ(updated.size(), 2u);
    const auto train = onednn::BatchNormTraining::get(shape, 1e-3f, false);
    ASSERT_NE(train, nullptr);
    Tensor y = Tensor::empty(DType::kFloat32, shape);
    std::vector<float> batch_mean(static_cast<size_t>(c)), batch_var(static_cast<size_t>(c));
    train->forward(x.data<float>(), gamma.data<float>(), beta.data<float>(), y.data<float>(),
                   batch_mean.data(), batch_var.data());
    expect_close(y, want_y[0], kBatchNormTol, "y");
    for (int64_t i = 0; i < c; ++i) {
      const float m = 0.8f * mean.data<float>()[i] + 0.2f * batch_mean[i];
      const float v = 0.8f * var.data<float>()[i] + 0.2f * batch_var[i];
      EXPECT_NEAR(m, updated[0].second.data<float>()[i], 1e-5) << "running mean " << i;
      EXPECT_NEAR(v, updated[1].second.data<float>()[i], 1e-5) << "running variance " << i;
    }

    // The backward, in training mode and frozen.
    const Tensor dy = random_tensor(shape, rng);
    for (const bool frozen : {false, true}) {
      SCOPED_TRACE(frozen ? "frozen" : "training");
      GradContext ctx{node, in, {&want_y[0]}, {dy}, {true, true, true}, 17, !frozen};
      const std::vector<Tensor> want = batch_norm_backward_reference(ctx);
      const auto k = onednn::BatchNormTraining::get(shape, 1e-3f, frozen);
      ASSERT_NE(k, nullptr);
      Tensor dx = Tensor::empty(DType::kFloat32, shape);
      Tensor dgamma = Tensor::empty(DType::kFloat32, {c}),
             dbeta = Tensor::empty(DType::kFloat32, {c});
      k->backward(x.data<float>(), frozen ? mean.data<float>() : batch_mean.data(),
                  frozen ? var.data<float>() : batch_var.data(), gamma.data<float>(),
                  beta.data<float>(), dy.data<float>(), dx.data<float>(), dgamma.data<float>(),
                  dbeta.data<float>());
      expect_close(dx, want[0], kBatchNormTol, "dx");
      expect_close(dgamma, want[1], kBatchNormTol, "dgamma");
      expect_close(dbeta, want[2], kBatchNormTol, "dbeta");
    }
  }
}

}  // namespace
}  // namespace quench::train
