#include <gtest/gtest.h>

#include <cmath>

#include "ops/op_registry.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;
using testing::run_node;
using testing::tensors_near;

// Hand-computed expectations are given to 7-8 significant digits.
constexpr double kTol = 1e-6;
// Results that depend on epsilon = 1e-5 in a variance.
constexpr double kEpsTol = 1e-4;

Tensor f32(Shape shape, std::vector<float> values) {
  return Tensor::from_vector<float>(std::move(shape), values);
}

// Output types and shapes inferred for `node`; an input with no type and no shape is absent.
std::vector<ValueInfo> infer(const Node& node, std::vector<ValueInfo> inputs, int64_t opset = 17) {
  std::vector<const ValueInfo*> ptrs;
  for (const ValueInfo& v : inputs) {
    ptrs.push_back(v.dtype == DType::kUndefined && !v.shape ? nullptr : &v);
  }
  std::vector<ValueInfo> outputs(node.outputs.size());
  InferContext ctx(node, opset, ptrs, std::vector<const Tensor*>(inputs.size(), nullptr), outputs);
  op_registry().find(node.domain, node.op_type)->infer(ctx);
  return outputs;
}

ValueInfo info(SymbolicShape shape, DType dtype = DType::kFloat32) {
  return ValueInfo{dtype, std::move(shape), ""};
}

template <class Fn>
Error error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  return Error(ErrorKind::kInternal, "(no error)");
}

bool contains(const Error& e, const std::string& text) {
  return std::string(e.what()).find(text) != std::string::npos;
}

// softmax([1,2,3]) and log_softmax([1,2,3]).
const std::vector<float> kSoftmax123 = {0.09003057f, 0.24472847f, 0.66524096f};
const std::vector<float> kLogSoftmax123 = {-2.40760596f, -1.40760596f, -0.40760596f};

TEST(Softmax, Row) {
  const auto y = run_node(make_node("Softmax", {"x"}, {"y"}), {f32({1, 3}, {1, 2, 3})});
  EXPECT_TRUE(tensors_near(y[0], f32({1, 3}, kSoftmax123), kTol, 0));
}

TEST(Softmax, LargeValuesDoNotOverflow) {
  const auto y = run_node(make_node("Softmax", {"x"}, {"y"}), {f32({3}, {1001, 1002, 1003})});
  EXPECT_TRUE(tensors_near(y[0], f32({3}, kSoftmax123), kTol, 0));
  const auto z = run_node(make_node("LogSoftmax", {"x"}, {"y"}), {f32({3}, {-1001, -1000, -999})});
  EXPECT_TRUE(tensors_near(z[0], f32({3}, kLogSoftmax123), 1e-4, 0));
}

TEST(LogSoftmax, Row) {
  const auto y = run_node(make_node("LogSoftmax", {"x"}, {"y"}), {f32({3}, {1, 2, 3})});
  EXPECT_TRUE(tensors_near(y[0], f32({3}, kLogSoftmax123), kTol, 0));
}

TEST(Softmax, AxisBeforeOpset13CoercesTo2D) {
  const Tensor zeros = f32({2, 2, 2}, std::vector<float>(8, 0.f));
  // Opset 11, default axis 1: each batch's 4 values form one row.
  auto y = run_node(make_node("Softmax", {"x"}, {"y"}), {zeros}, 11);
  EXPECT_TRUE(tensors_near(y[0], f32({2, 2, 2}, std::vector<float>(8, 0.25f)), kTol, 0));
  // Opset 13, default axis -1: rows of 2.
  y = run_node(make_node("Softmax", {"x"}, {"y"}), {zeros}, 13);
  EXPECT_TRUE(tensors_near(y[0], f32({2, 2, 2}, std::vector<float>(8, 0.5f)), kTol, 0));
  // Opset 11, axis 0: all 8 values form one row.
  y = run_node(make_node("LogSoftmax", {"x"}, {"y"}, {{"axis", int64_t{0}}}), {zeros}, 11);
  EXPECT_TRUE(tensors_near(y[0], f32({2, 2, 2}, std::vector<float>(8, -std::log(8.f))), kTol, 0));
}

TEST(Softmax, MiddleAxis) {
  // Opset 13, axis 1 of [1,3,2]: columns [1,2,3] and [0,0,0].
  const auto y = run_node(make_node("Softmax", {"x"}, {"y"}, {{"axis", int64_t{1}}}),
                          {f32({1, 3, 2}, {1, 0, 2, 0, 3, 0})});
  const float third = 1.f / 3;
  EXPECT_TRUE(tensors_near(
      y[0], f32({1, 3, 2}, {kSoftmax123[0], third, kSoftmax123[1], third, kSoftmax123[2], third}),
      kTol, 0));
}

TEST(Softmax, Double) {
  const auto y = run_node(make_node("Softmax", {"x"}, {"y"}),
                          {Tensor::from_vector<double>({2}, {0, std::log(3.0)})});
  EXPECT_TRUE(tensors_near(y[0], Tensor::from_vector<double>({2}, {0.25, 0.75}), 1e-12, 0));
}

TEST(Hardmax, FirstMaximum) {
  const auto y = run_node(make_node("Hardmax", {"x"}, {"y"}), {f32({2, 3}, {1, 3, 3, 2, 0, 1})});
  EXPECT_TRUE(tensors_near(y[0], f32({2, 3}, {0, 1, 0, 1, 0, 0}), 0, 0));
  const auto z = run_node(make_node("Hardmax", {"x"}, {"y"}, {{"axis", int64_t{0}}}),
                          {f32({2, 3}, {1, 3, 3, 2, 0, 3})});
  EXPECT_TRUE(tensors_near(z[0], f32({2, 3}, {0, 1, 1, 1, 0, 0}), 0, 0));
}

TEST(Softmax, Errors) {
  const Node node = make_node("Softmax", {"x"}, {"y"}, {{"axis", int64_t{2}}});
  EXPECT_TRUE(contains(error_of([&] { infer(node, {info({2, 3})}); }), "out of range"));
  EXPECT_TRUE(contains(
      error_of([&] { infer(make_node("Softmax", {"x"}, {"y"}), {info({2}, DType::kInt32)}); }),
      "float"));
}

// X = [[1,2,3],[4,6,8]]: both rows normalize to [-a, 0, a] with a = sqrt(1.5), and
// 1/std = sqrt(1.5) for the first row, sqrt(3/8) for the second.
constexpr float kA = 1.22474487f;

TEST(LayerNorm, LastAxisWithStatistics) {
  const Node node = make_node("LayerNormalization", {"x", "scale", "bias"},
                              {"y", "mean", "inv_std"}, {{"epsilon", 0.f}});
  const auto out =
      run_node(node, {f32({2, 3}, {1, 2, 3, 4, 6, 8}), f32({3}, {1, 1, 2}), f32({3}, {0, 1, 0})});
  EXPECT_TRUE(tensors_near(out[0], f32({2, 3}, {-kA, 1, 2 * kA, -kA, 1, 2 * kA}), kTol, 0));
  EXPECT_TRUE(tensors_near(out[1], f32({2, 1}, {2, 6}), kTol, 0));
  EXPECT_TRUE(tensors_near(out[2], f32({2, 1}, {kA, 0.61237244f}), kTol, 0));
}

TEST(LayerNorm, AxisOneNormalizesTrailingDims) {
  // X [2,2,2], axis 1: rows [1,2,3,4] (mean 2.5, variance 1.25) and [2,2,2,2] (variance 0).
  const Node node =
      make_node("LayerNormalization", {"x", "scale"}, {"y", "", "inv_std"}, {{"axis", int64_t{1}}});
  const auto out =
      run_node(node, {f32({2, 2, 2}, {1, 2, 3, 4, 2, 2, 2, 2}), f32({2, 2}, {1, 1, 1, 1})});
  const float s = 1.f / std::sqrt(1.25f);
  EXPECT_TRUE(tensors_near(
      out[0], f32({2, 2, 2}, {-1.5f * s, -0.5f * s, 0.5f * s, 1.5f * s, 0, 0, 0, 0}), kEpsTol, 0));
  EXPECT_FALSE(out[1].defined());
  EXPECT_EQ(out[2].shape(), (Shape{2, 1, 1}));
  EXPECT_NEAR(out[2].data<float>()[0], s, kEpsTol);
  EXPECT_NEAR(out[2].data<float>()[1], 1 / std::sqrt(1e-5), 1.0);
}

TEST(LayerNorm, BroadcastsScaleAndBias) {
  // axis 1 of [1,2,2]: the scale [2] varies along the last dim only; the bias [2,1] along the
  // middle dim only. Rows normalize [1,3,5,7] to [-b,-c,c,b] with b = 3/sqrt(5), c = 1/sqrt(5).
  const float b = 3 / std::sqrt(5.f), c = 1 / std::sqrt(5.f);
  const Node node = make_node("LayerNormalization", {"x", "scale", "bias"}, {"y"},
                              {{"axis", int64_t{1}}, {"epsilon", 0.f}});
  const auto out =
      run_node(node, {f32({1, 2, 2}, {1, 3, 5, 7}), f32({2}, {1, 10}), f32({2, 1}, {100, 200})});
  EXPECT_TRUE(tensors_near(out[0], f32({1, 2, 2}, {100 - b, 100 - 10 * c, 200 + c, 200 + 10 * b}),
                           kTol, kTol));
  // A scale that varies by row: [2,1] against X [2,2] normalized on the last axis.
  const Node by_row = make_node("LayerNormalization", {"x", "scale"}, {"y"}, {{"epsilon", 0.f}});
  const auto rows = run_node(by_row, {f32({2, 2}, {1, 3, 3, 1}), f32({2, 1}, {2, -1})});
  EXPECT_TRUE(tensors_near(rows[0], f32({2, 2}, {-2, 2, -1, 1}), kTol, 0));
}

TEST(LayerNorm, InfersShapes) {
  const Node node = make_node("LayerNormalization", {"x", "scale"}, {"y", "mean", "inv_std"},
                              {{"axis", int64_t{-2}}});
  const auto out = infer(
      node, {info({Dim("N"), Dim("S"), 8}, DType::kFloat64), info({Dim("S"), 8}, DType::kFloat64)});
  EXPECT_EQ(out[0].dtype, DType::kFloat64);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N"), Dim("S"), 8}));
  EXPECT_EQ(out[1].dtype, DType::kFloat32);
  EXPECT_EQ(*out[1].shape, (SymbolicShape{Dim("N"), 1, 1}));
  EXPECT_EQ(*out[2].shape, (SymbolicShape{Dim("N"), 1, 1}));
}

TEST(LayerNorm, Errors) {
  const Node node = make_node("LayerNormalization", {"x", "scale"}, {"y"});
  EXPECT_TRUE(contains(error_of([&] {
                         infer(node, {info({2, 3}), info({4})});
                       }),
                       "Scale of shape [4] cannot be broadcast to X of shape [2,3]"));
  const Node bad_axis =
      make_node("LayerNormalization", {"x", "scale"}, {"y"}, {{"axis", int64_t{2}}});
  EXPECT_TRUE(contains(error_of([&] {
                         infer(bad_axis, {info({2, 3}), info({3})});
                       }),
                       "out of range"));
  const Node stash =
      make_node("LayerNormalization", {"x", "scale"}, {"y"}, {{"stash_type", int64_t{7}}});
  EXPECT_TRUE(contains(error_of([&] { infer(stash, {info({2, 3}), info({3})}); }), "stash_type"));
}

// X [1,2,1,2] with channels [1,2] and [3,4]; scale [1,2], B [0,1], mean [1,3], var [4,1]:
// channel 0: (x - 1) / 2, channel 1: (x - 3) * 2 + 1.
std::vector<Tensor> batch_norm_inputs() {
  return {f32({1, 2, 1, 2}, {1, 2, 3, 4}), f32({2}, {1, 2}), f32({2}, {0, 1}), f32({2}, {1, 3}),
          f32({2}, {4, 1})};
}

TEST(BatchNorm, Inference) {
  for (int64_t opset : {7, 9, 14, 15}) {
    const Node node =
        make_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"}, {{"epsilon", 0.f}});
    const auto y = run_node(node, batch_norm_inputs(), opset);
    EXPECT_TRUE(tensors_near(y[0], f32({1, 2, 1, 2}, {0, 0.5f, 1, 3}), kTol, 0)) << opset;
  }
}

TEST(BatchNorm, Opset7PerActivation) {
  // spatial=0: parameters of shape [C, D] = [2,2], one per element of X[n].
  const Node node = make_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"},
                              {{"epsilon", 0.f}, {"spatial", int64_t{0}}});
  const auto y =
      run_node(node,
               {f32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}), f32({2, 2}, {1, 2, 3, 4}),
                f32({2, 2}, {0, 0, 0, 1}), f32({2, 2}, {1, 1, 1, 1}), f32({2, 2}, {1, 4, 1, 4})},
               7);
  EXPECT_TRUE(tensors_near(y[0], f32({2, 2, 2}, {0, 1, 6, 7, 4, 5, 18, 15}), kTol, 0));
}

TEST(BatchNorm, Errors) {
  const Node training = make_node("BatchNormalization", {"x", "s", "b", "m", "v"},
                                  {"y", "rm", "rv"}, {{"training_mode", int64_t{1}}});
  EXPECT_EQ(error_of([&] { run_node(training, batch_norm_inputs(), 15); }).kind(),
            ErrorKind::kUnsupported);
  const Node old_training =
      make_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y", "mean", "var"});
  EXPECT_EQ(error_of([&] { run_node(old_training, batch_norm_inputs(), 9); }).kind(),
            ErrorKind::kUnsupported);
  // Extra outputs without training_mode are invalid from opset 14.
  EXPECT_TRUE(contains(
      error_of([&] {
        infer(old_training, {info({1, 2}), info({2}), info({2}), info({2}), info({2})}, 14);
      }),
      "training_mode"));
  const Node node = make_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"});
  EXPECT_TRUE(contains(error_of([&] {
                         infer(node, {info({1, 2, 5}), info({2}), info({3}), info({2}), info({2})});
                       }),
                       "B has shape [3], expected [2]"));
}

TEST(BatchNorm, InfersShape) {
  const Node node = make_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"});
  const auto out = infer(node, {info({Dim("N"), 3, Dim("H"), Dim("W")}), info({3}), info({3}),
                                info({Dim("C")}), info({3})});
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N"), 3, Dim("H"), Dim("W")}));
}

TEST(InstanceNorm, PerChannelStatistics) {
  // Channel 0 [1,3]: mean 2, variance 1; channel 1 [5,5]: variance 0, so y = B.
  const Node node = make_node("InstanceNormalization", {"x", "s", "b"}, {"y"});
  const auto y = run_node(node, {f32({1, 2, 2}, {1, 3, 5, 5}), f32({2}, {2, 3}), f32({2}, {0, 1})});
  EXPECT_TRUE(tensors_near(y[0], f32({1, 2, 2}, {-2, 2, 1, 1}), kEpsTol, 0));
  EXPECT_THROW(infer(node, {info({1, 2, 2}), info({3}), info({2})}), Error);
}

}  // namespace
}  // namespace quench
