#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ops/op_registry.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;
using testing::run_node;
using testing::tensors_near;

// Hand-computed expectations are given to 7-8 significant digits.
constexpr double kTol = 1e-6;
constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor f32(Shape shape, std::vector<float> values) {
  return Tensor::from_vector<float>(std::move(shape), values);
}
Tensor i64(Shape shape, std::vector<int64_t> values) {
  return Tensor::from_vector<int64_t>(std::move(shape), values);
}

// Output types and shapes inferred for `node`; an input with no type and no shape is absent.
std::vector<ValueInfo> infer(const Node& node, std::vector<ValueInfo> inputs, int64_t opset = 17,
                             std::vector<const Tensor*> constants = {}) {
  std::vector<const ValueInfo*> ptrs;
  for (const ValueInfo& v : inputs) {
    ptrs.push_back(v.dtype == DType::kUndefined && !v.shape ? nullptr : &v);
  }
  constants.resize(inputs.size(), nullptr);
  std::vector<ValueInfo> outputs(node.outputs.size());
  InferContext ctx(node, opset, ptrs, constants, outputs);
  op_registry().find(node.domain, node.op_type)->infer(ctx);
  return outputs;
}

ValueInfo info(SymbolicShape shape, DType dtype = DType::kFloat32) {
  return ValueInfo{dtype, std::move(shape), ""};
}

template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// The ONNX spec's example data, shape [3,2,2].
Tensor example() { return f32({3, 2, 2}, {5, 1, 20, 2, 30, 1, 40, 2, 55, 1, 60, 2}); }

Node reduce(const std::string& op, std::vector<int64_t> axes, int64_t keepdims = 1) {
  return make_node(op, {"x"}, {"y"}, {{"axes", axes}, {"keepdims", keepdims}});
}

TEST(ReduceMean, KeepDims) {
  const auto y = run_node(reduce("ReduceMean", {1}), {example()}, 11);
  EXPECT_TRUE(tensors_near(y[0], f32({3, 1, 2}, {12.5, 1.5, 35, 1.5, 57.5, 1.5}), kTol, 0));
}

TEST(ReduceMean, DropDimsAndNegativeAxes) {
  const auto y = run_node(reduce("ReduceMean", {-2}, 0), {example()}, 11);
  EXPECT_TRUE(tensors_near(y[0], f32({3, 2}, {12.5, 1.5, 35, 1.5, 57.5, 1.5}), kTol, 0));
  const auto z = run_node(reduce("ReduceMean", {0, -1}, 0), {example()}, 11);
  EXPECT_TRUE(tensors_near(z[0], f32({2}, {15.5, 21}), kTol, 0));
}

TEST(ReduceMean, AllAxes) {
  const Node keep = make_node("ReduceMean", {"x"}, {"y"});
  auto y = run_node(keep, {example()}, 11);
  EXPECT_TRUE(tensors_near(y[0], f32({1, 1, 1}, {18.25}), kTol, 0));
  const Node drop = make_node("ReduceMean", {"x"}, {"y"}, {{"keepdims", int64_t{0}}});
  y = run_node(drop, {example()}, 11);
  EXPECT_TRUE(tensors_near(y[0], f32({}, {18.25}), kTol, 0));
  y = run_node(drop, {f32({}, {3})}, 11);  // a scalar reduces to itself
  EXPECT_TRUE(tensors_near(y[0], f32({}, {3}), kTol, 0));
}

struct OpCase {
  const char* op;
  std::vector<float> want;  // reducing [[1,-2],[3,4]] over axis 1
};

class ReduceOps : public ::testing::TestWithParam<OpCase> {};

TEST_P(ReduceOps, AlongLastAxis) {
  const auto y = run_node(reduce(GetParam().op, {1}, 0), {f32({2, 2}, {1, -2, 3, 4})}, 13);
  EXPECT_TRUE(tensors_near(y[0], f32({2}, GetParam().want), kTol, kTol));
}

INSTANTIATE_TEST_SUITE_P(
    Reduce, ReduceOps,
    ::testing::Values(OpCase{"ReduceMean", {-0.5f, 3.5f}}, OpCase{"ReduceMax", {1, 4}},
                      OpCase{"ReduceMin", {-2, 3}}, OpCase{"ReduceProd", {-2, 12}},
                      OpCase{"ReduceL1", {3, 7}}, OpCase{"ReduceL2", {2.23606798f, 5}},
                      OpCase{"ReduceSumSquare", {5, 25}},
                      // log(e + e^-2), log(e^3 + e^4)
                      OpCase{"ReduceLogSumExp", {1.04858735f, 4.31326169f}}),
    [](const ::testing::TestParamInfo<OpCase>& info) { return std::string(info.param.op); });

TEST(ReduceLogSum, PositiveValues) {
  const auto y = run_node(reduce("ReduceLogSum", {0}, 0), {f32({2, 2}, {1, 2, 3, 0.5f})}, 13);
  EXPECT_TRUE(tensors_near(y[0], f32({2}, {std::log(4.f), std::log(2.5f)}), kTol, 0));
}

TEST(ReduceLogSumExp, LargeValuesDoNotOverflow) {
  const auto y = run_node(reduce("ReduceLogSumExp", {0}, 0),
                          {Tensor::from_vector<double>({2}, {1000, 1000})}, 13);
  EXPECT_TRUE(
      tensors_near(y[0], Tensor::from_vector<double>({}, {1000 + std::log(2.0)}), 1e-12, 0));
}

TEST(ReduceMax, PropagatesNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto y = run_node(reduce("ReduceMax", {1}, 0), {f32({2, 3}, {1, nan, 2, 3, 4, 5})}, 13);
  EXPECT_TRUE(std::isnan(y[0].data<float>()[0]));
  EXPECT_EQ(y[0].data<float>()[1], 5.f);
}

TEST(Reduce, EmptyReductions) {
  const Tensor empty = f32({2, 0}, {});
  auto y = run_node(reduce("ReduceSum", {1}, 0), {empty}, 11);
  EXPECT_TRUE(tensors_near(y[0], f32({2}, {0, 0}), 0, 0));
  y = run_node(reduce("ReduceProd", {1}, 0), {empty}, 11);
  EXPECT_TRUE(tensors_near(y[0], f32({2}, {1, 1}), 0, 0));
  y = run_node(reduce("ReduceMax", {1}, 0), {empty}, 11);
  EXPECT_TRUE(y[0].equals(f32({2}, {-kInf, -kInf})));
  y = run_node(reduce("ReduceLogSumExp", {1}, 0), {empty}, 11);
  EXPECT_TRUE(y[0].equals(f32({2}, {-kInf, -kInf})));
  y = run_node(reduce("ReduceSum", {0}, 1), {empty}, 11);  // nothing to compute
  EXPECT_EQ(y[0].shape(), (Shape{1, 0}));
}

TEST(Reduce, IntegerAndDoubleTypes) {
  auto y = run_node(reduce("ReduceSum", {0}, 0),
                    {Tensor::from_vector<int32_t>({2, 2}, {1, 2, 3, -7})}, 11);
  EXPECT_TRUE(y[0].equals(Tensor::from_vector<int32_t>({2}, {4, -5})));
  y = run_node(reduce("ReduceMax", {1}, 0), {i64({2, 2}, {int64_t{1} << 60, 2, -5, -3})}, 11);
  EXPECT_TRUE(y[0].equals(i64({2}, {int64_t{1} << 60, -3})));
  y = run_node(reduce("ReduceMean", {1}, 0), {i64({1, 2}, {3, 4})}, 11);
  EXPECT_TRUE(y[0].equals(i64({1}, {3})));  // integer division
  y = run_node(reduce("ReduceMean", {0}, 0), {Tensor::from_vector<double>({2}, {0.1, 0.2})}, 11);
  EXPECT_TRUE(tensors_near(y[0], Tensor::from_vector<double>({}, {0.15}), 1e-15, 0));
}

TEST(ReduceSum, AxesInputFromOpset13) {
  const Node node = make_node("ReduceSum", {"x", "axes"}, {"y"}, {{"keepdims", int64_t{0}}});
  auto y = run_node(node, {example(), i64({1}, {-1})}, 13);
  EXPECT_TRUE(tensors_near(y[0], f32({3, 2}, {6, 22, 31, 42, 56, 62}), 0, 0));
  // Empty axes: every dim.
  y = run_node(node, {example(), i64({0}, {})}, 13);
  EXPECT_TRUE(tensors_near(y[0], f32({}, {219}), 0, 0));
  const Node no_axes = make_node("ReduceSum", {"x"}, {"y"});
  y = run_node(no_axes, {example()}, 13);
  EXPECT_TRUE(tensors_near(y[0], f32({1, 1, 1}, {219}), 0, 0));
}

TEST(ReduceSum, NoopWithEmptyAxes) {
  const Node node = make_node("ReduceSum", {"x", "axes"}, {"y"},
                              {{"keepdims", int64_t{0}}, {"noop_with_empty_axes", int64_t{1}}});
  auto y = run_node(node, {example(), i64({0}, {})}, 13);
  EXPECT_TRUE(tensors_near(y[0], example(), 0, 0));
  const Node no_axes = make_node("ReduceSum", {"x"}, {"y"}, {{"noop_with_empty_axes", int64_t{1}}});
  y = run_node(no_axes, {example()}, 13);
  EXPECT_TRUE(tensors_near(y[0], example(), 0, 0));
}

TEST(Reduce, AxesInputFromOpset18) {
  const Node node = make_node("ReduceMax", {"x", "axes"}, {"y"});
  const auto y = run_node(node, {example(), i64({1}, {0})}, 18);
  EXPECT_TRUE(tensors_near(y[0], f32({1, 2, 2}, {55, 1, 60, 2}), 0, 0));
}

// ReduceSum whose axes are a graph input: the kernel reads them when it runs.
Model run_time_axes_model(Shape declared_output) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 13;
  g.inputs = {"x", "axes"};
  g.outputs = {"y"};
  g.values["x"] = ValueInfo{DType::kFloat32, symbolic({3, 2, 2}), ""};
  g.values["axes"] = ValueInfo{DType::kInt64, symbolic({1}), ""};
  g.values["y"] = ValueInfo{DType::kFloat32, symbolic(declared_output), ""};
  g.nodes.push_back(make_node("ReduceSum", {"x", "axes"}, {"y"}));
  return m;
}

TEST(ReduceSum, AxesKnownOnlyAtRunTime) {
  Session session(run_time_axes_model({3, 1, 2}));
  auto y = session.run({example(), i64({1}, {1})});
  EXPECT_TRUE(tensors_near(y[0], f32({3, 1, 2}, {25, 3, 70, 3, 115, 3}), 0, 0));
  y = session.run({example(), i64({1}, {-2})});
  EXPECT_TRUE(tensors_near(y[0], f32({3, 1, 2}, {25, 3, 70, 3, 115, 3}), 0, 0));
  // Axes that give another shape than the declared one, or out of range.
  EXPECT_NE(error_of([&] {
              session.run({example(), i64({1}, {0})});
            }).find("another shape than the planned [3,1,2]"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              session.run({example(), i64({1}, {3})});
            }).find("axis 3 is out of range"),
            std::string::npos);
}

TEST(Reduce, InfersShapes) {
  auto out = infer(reduce("ReduceMean", {-1}, 0), {info({Dim("N"), Dim("S"), 8})}, 11);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N"), Dim("S")}));
  out = infer(reduce("ReduceMax", {0, 2}, 1), {info({Dim("N"), Dim("S"), 8})}, 11);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{1, Dim("S"), 1}));
  // Axes as an input: from its value when constant, from its length when empty.
  const Node sum = make_node("ReduceSum", {"x", "axes"}, {"y"}, {{"keepdims", int64_t{0}}});
  const Tensor axes = i64({1}, {1});
  out = infer(sum, {info({Dim("N"), 4}), info({1}, DType::kInt64)}, 13, {nullptr, &axes});
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N")}));
  out = infer(sum, {info({Dim("N"), 4}), info({0}, DType::kInt64)}, 13);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{}));
  out = infer(sum, {info({Dim("N"), 4}), info({1}, DType::kInt64)}, 13);
  EXPECT_EQ(out[0].dtype, DType::kFloat32);
  EXPECT_FALSE(out[0].shape.has_value());
}

TEST(Reduce, Errors) {
  EXPECT_NE(error_of([&] {
              infer(reduce("ReduceMean", {2}), {info({2, 3})}, 11);
            }).find("axis 2 is out of range for rank 2"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              infer(reduce("ReduceSum", {0}), {info({2, 3})}, 13);
            }).find("axes is an input at opset 13"),
            std::string::npos);
  const Node mean_with_input = make_node("ReduceMean", {"x", "axes"}, {"y"});
  EXPECT_NE(error_of([&] {
              infer(mean_with_input, {info({2, 3}), info({1}, DType::kInt64)}, 13);
            }).find("axes is an attribute at opset 13"),
            std::string::npos);
  const Node sum = make_node("ReduceSum", {"x", "axes"}, {"y"});
  EXPECT_NE(error_of([&] {
              infer(sum, {info({2, 3}), info({1}, DType::kInt32)}, 13);
            }).find("axes must be int64"),
            std::string::npos);
  EXPECT_THROW(run_node(reduce("ReduceSum", {0}), {Tensor::from_vector<bool>({1}, {true})}, 11),
               Error);
}

TEST(ArgMax, AxesAndKeepDims) {
  const Tensor x = f32({2, 2}, {2, 1, 3, 10});
  auto y = run_node(make_node("ArgMax", {"x"}, {"y"}), {x});
  EXPECT_TRUE(y[0].equals(i64({1, 2}, {1, 1})));
  y = run_node(make_node("ArgMax", {"x"}, {"y"}, {{"axis", int64_t{-1}}, {"keepdims", int64_t{0}}}),
               {x});
  EXPECT_TRUE(y[0].equals(i64({2}, {0, 1})));
  y = run_node(make_node("ArgMin", {"x"}, {"y"}, {{"axis", int64_t{1}}}), {x});
  EXPECT_TRUE(y[0].equals(i64({2, 1}, {1, 0})));
}

TEST(ArgMax, SelectLastIndex) {
  const Tensor x = Tensor::from_vector<int32_t>({1, 4}, {2, 5, 5, 1});
  auto y = run_node(make_node("ArgMax", {"x"}, {"y"}, {{"axis", int64_t{1}}}), {x});
  EXPECT_TRUE(y[0].equals(i64({1, 1}, {1})));
  y = run_node(
      make_node("ArgMax", {"x"}, {"y"}, {{"axis", int64_t{1}}, {"select_last_index", int64_t{1}}}),
      {x});
  EXPECT_TRUE(y[0].equals(i64({1, 1}, {2})));
  const Tensor ties = i64({3}, {1, 1, 4});
  y = run_node(make_node("ArgMin", {"x"}, {"y"}, {{"select_last_index", int64_t{1}}}), {ties});
  EXPECT_TRUE(y[0].equals(i64({1}, {1})));
}

TEST(ArgMax, InfersShapeAndErrors) {
  const Node node =
      make_node("ArgMin", {"x"}, {"y"}, {{"axis", int64_t{1}}, {"keepdims", int64_t{0}}});
  const auto out = infer(node, {info({Dim("N"), 5, 7})});
  EXPECT_EQ(out[0].dtype, DType::kInt64);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N"), 7}));
  EXPECT_THROW(infer(node, {info({4})}), Error);
  EXPECT_THROW(infer(node, {info({2, 0})}), Error);
}

}  // namespace
}  // namespace quench
