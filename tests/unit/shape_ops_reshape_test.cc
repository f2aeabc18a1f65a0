// Reshape, Flatten, Squeeze, Unsqueeze: shapes, element types, errors, in-place copies.
#include <gtest/gtest.h>

#include <cstring>

#include "ops/op_registry.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;
using testing::run_node;

Tensor i64(Shape shape, std::vector<int64_t> values) {
  return Tensor::from_vector<int64_t>(std::move(shape), values);
}

Tensor iota_f32(Shape shape) {
  Tensor t = Tensor::empty(DType::kFloat32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

// The error kind `fn` throws, or fails the test when it does not throw.
template <class Fn>
ErrorKind error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no quench::Error thrown";
  return ErrorKind::kInternal;
}

// Same bytes, same shape and type: the data moved through unchanged.
void expect_same_data(const Tensor& got, const Tensor& input, const Shape& shape) {
  EXPECT_EQ(got.dtype(), input.dtype());
  EXPECT_EQ(got.shape(), shape);
  ASSERT_EQ(got.nbytes(), input.nbytes());
  if (got.nbytes() != 0) {
    EXPECT_EQ(std::memcmp(got.raw_data(), input.raw_data(), got.nbytes()), 0);
  }
}

Shape reshape(const Tensor& x, std::vector<int64_t> shape, int64_t allowzero = 0,
              int64_t opset = 17) {
  Node n = make_node("Reshape", {"x", "shape"}, {"y"}, {{"allowzero", allowzero}});
  auto y = run_node(n, {x, i64({static_cast<int64_t>(shape.size())}, shape)}, opset);
  expect_same_data(y[0], x, y[0].shape());
  return y[0].shape();
}

TEST(Reshape, ExplicitShape) {
  EXPECT_EQ(reshape(iota_f32({2, 3, 4}), {4, 6}), (Shape{4, 6}));
  EXPECT_EQ(reshape(iota_f32({1}), {}), Shape{});  // empty shape: a scalar
}

TEST(Reshape, ZeroCopiesTheInputDimAndMinusOneIsInferred) {
  EXPECT_EQ(reshape(iota_f32({2, 3, 4}), {0, -1}), (Shape{2, 12}));
  EXPECT_EQ(reshape(iota_f32({2, 3, 4}), {-1, 0}), (Shape{8, 3}));
  EXPECT_EQ(reshape(iota_f32({2, 3, 4}), {0, 0, -1, 1}), (Shape{2, 3, 4, 1}));
}

TEST(Reshape, AllowZeroKeepsZeros) {
  const Tensor empty = Tensor::empty(DType::kFloat32, {0, 3});
  EXPECT_EQ(reshape(empty, {3, 0}, 1, 14), (Shape{3, 0}));
  // Without allowzero the 0 copies dim 1 (3): [3, 3] does not hold 0 elements.
  EXPECT_EQ(error_of([&] { reshape(empty, {3, 0}, 0, 14); }), ErrorKind::kInvalidModel);
  // Before opset 14 the attribute does not exist: 0 copies.
  EXPECT_EQ(reshape(iota_f32({2, 3}), {0, 3}, 1, 13), (Shape{2, 3}));
  EXPECT_EQ(error_of([&] { reshape(empty, {0, -1}, 1, 14); }), ErrorKind::kInvalidModel);
}

TEST(Reshape, EmptyTensorWithInferredDim) {
  EXPECT_EQ(reshape(Tensor::empty(DType::kFloat32, {0, 4}), {-1, 2}), (Shape{0, 2}));
}

TEST(Reshape, MovesEveryElementType) {
  EXPECT_EQ(reshape(i64({2, 2}, {1, -2, 3, -4}), {4}), Shape{4});
  EXPECT_EQ(reshape(Tensor::from_vector<uint8_t>({3}, {1, 2, 255}), {1, 3}), (Shape{1, 3}));
  EXPECT_EQ(reshape(Tensor::from_vector<bool>({2}, {true, false}), {2, 1}), (Shape{2, 1}));
  EXPECT_EQ(reshape(Tensor::zeros(DType::kFloat16, {2, 2}), {4}), Shape{4});
}

TEST(Reshape, RejectsBadShapes) {
  const Tensor x = iota_f32({2, 3});
  try {
    reshape(x, {4, 2});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("[2,3]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[4,2]"), std::string::npos) << e.what();
  }
  EXPECT_EQ(error_of([&] { reshape(x, {-1, -1}); }), ErrorKind::kInvalidModel);
  EXPECT_EQ(error_of([&] { reshape(x, {-2, 3}); }), ErrorKind::kInvalidModel);
  EXPECT_EQ(error_of([&] { reshape(x, {4, -1}); }), ErrorKind::kInvalidModel);    // 6 % 4
  EXPECT_EQ(error_of([&] { reshape(x, {0, 0, 0}); }), ErrorKind::kInvalidModel);  // no dim 2
}

Shape flatten(const Tensor& x, int64_t axis) {
  auto y = run_node(make_node("Flatten", {"x"}, {"y"}, {{"axis", axis}}), {x});
  expect_same_data(y[0], x, y[0].shape());
  return y[0].shape();
}

TEST(Flatten, SplitsTheDimsAtAxis) {
  const Tensor x = iota_f32({2, 3, 4});
  EXPECT_EQ(flatten(x, 1), (Shape{2, 12}));
  EXPECT_EQ(flatten(x, 0), (Shape{1, 24}));
  EXPECT_EQ(flatten(x, 3), (Shape{24, 1}));
  EXPECT_EQ(flatten(x, -1), (Shape{6, 4}));
  EXPECT_EQ(flatten(x, -3), (Shape{1, 24}));
  EXPECT_EQ(flatten(Tensor::from_vector<uint8_t>({2, 2}, {1, 2, 3, 4}), 1), (Shape{2, 2}));
  EXPECT_EQ(flatten(Tensor::empty(DType::kInt64, {0, 5}), 1), (Shape{0, 5}));
  EXPECT_EQ(error_of([&] { flatten(x, 4); }), ErrorKind::kInvalidModel);
  EXPECT_EQ(error_of([&] { flatten(x, -4); }), ErrorKind::kInvalidModel);
}

Shape squeeze13(const Tensor& x, std::optional<std::vector<int64_t>> axes) {
  Node n = make_node("Squeeze", {"x", axes ? "axes" : ""}, {"y"});
  std::vector<Tensor> inputs{x};
  if (axes) inputs.push_back(i64({static_cast<int64_t>(axes->size())}, *axes));
  auto y = run_node(n, inputs, 13);
  expect_same_data(y[0], x, y[0].shape());
  return y[0].shape();
}

TEST(Squeeze, RemovesSizeOneAxes) {
  const Tensor x = iota_f32({1, 3, 1, 2});
  EXPECT_EQ(squeeze13(x, std::vector<int64_t>{0, -2}), (Shape{3, 2}));
  EXPECT_EQ(squeeze13(x, std::vector<int64_t>{2}), (Shape{1, 3, 2}));
  EXPECT_EQ(squeeze13(x, std::nullopt), (Shape{3, 2}));
  EXPECT_EQ(squeeze13(Tensor::from_vector<bool>({1, 1}, {true}), std::nullopt), Shape{});
  EXPECT_EQ(squeeze13(Tensor::empty(DType::kUInt8, {0, 1}), std::vector<int64_t>{1}), Shape{0});
}

TEST(Squeeze, AxesAttributeBeforeOpset13) {
  const Tensor x = iota_f32({1, 3, 1});
  auto y =
      run_node(make_node("Squeeze", {"x"}, {"y"}, {{"axes", std::vector<int64_t>{-1}}}), {x}, 11);
  EXPECT_EQ(y[0].shape(), (Shape{1, 3}));
}

TEST(Squeeze, RejectsAxesThatAreNotSizeOne) {
  const Tensor x = iota_f32({1, 3});
  EXPECT_EQ(error_of([&] { squeeze13(x, std::vector<int64_t>{1}); }), ErrorKind::kInvalidModel);
  EXPECT_EQ(error_of([&] { squeeze13(x, std::vector<int64_t>{2}); }), ErrorKind::kInvalidModel);
  EXPECT_EQ(error_of([&] {
              squeeze13(x, std::vector<int64_t>{0, -2});
            }),
            ErrorKind::kInvalidModel);  // the same axis twice
}

Shape unsqueeze13(const Tensor& x, std::vector<int64_t> axes) {
  auto y = run_node(make_node("Unsqueeze", {"x", "axes"}, {"y"}),
                    {x, i64({static_cast<int64_t>(axes.size())}, axes)}, 13);
  expect_same_data(y[0], x, y[0].shape());
  return y[0].shape();
}

TEST(Unsqueeze, InsertsAxesOfTheOutput) {
  const Tensor x = iota_f32({3, 4});
  EXPECT_EQ(unsqueeze13(x, {0, 3}), (Shape{1, 3, 4, 1}));
  EXPECT_EQ(unsqueeze13(x, {3, 0}), (Shape{1, 3, 4, 1}));
  EXPECT_EQ(unsqueeze13(x, {-1}), (Shape{3, 4, 1}));
  EXPECT_EQ(unsqueeze13(x, {1, -2}), (Shape{3, 1, 1, 4}));
  EXPECT_EQ(unsqueeze13(i64({}, {7}), {0}), Shape{1});
  EXPECT_EQ(unsqueeze13(Tensor::empty(DType::kBool, {0}), {0}), (Shape{1, 0}));
  auto y = run_node(make_node("Unsqueeze", {"x"}, {"y"}, {{"axes", std::vector<int64_t>{0, -1}}}),
                    {x}, 11);
  EXPECT_EQ(y[0].shape(), (Shape{1, 3, 4, 1}));
}

TEST(Unsqueeze, RejectsBadAxes) {
  const Tensor x = iota_f32({3});
  EXPECT_EQ(error_of([&] { unsqueeze13(x, {2}); }), ErrorKind::kInvalidModel);
  EXPECT_EQ(error_of([&] { unsqueeze13(x, {0, -3}); }), ErrorKind::kInvalidModel);  // axis 0 twice
  EXPECT_EQ(error_of([&] { run_node(make_node("Unsqueeze", {"x"}, {"y"}), {x}, 11); }),
            ErrorKind::kInvalidModel);  // axes attribute missing
}

// The relabelling ops let the runtime alias output and input, and stay right when it does.
TEST(ReshapeFamily, KernelsCopyInPlace) {
  struct Case {
    Node node;
    std::vector<Tensor> inputs;
    Shape out_shape;
  };
  const Tensor x = iota_f32({1, 2, 3});
  const std::vector<Case> cases = {
      {make_node("Reshape", {"x", "s"}, {"y"}), {x, i64({1}, {6})}, {6}},
      {make_node("Flatten", {"x"}, {"y"}), {x}, {1, 6}},
      {make_node("Squeeze", {"x"}, {"y"}), {x}, {2, 3}},
      {make_node("Unsqueeze", {"x", "a"}, {"y"}), {x, i64({1}, {0})}, {1, 1, 2, 3}},
      {make_node("Identity", {"x"}, {"y"}), {x}, {1, 2, 3}},
      {make_node("Dropout", {"x"}, {"y"}), {x}, {1, 2, 3}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.node.op_type);
    KernelContext ctx{c.node, 17, {}, {}, 1};
    for (const Tensor& t : c.inputs) ctx.inputs.push_back({t.dtype(), t.shape(), nullptr, {}});
    ctx.outputs.push_back({DType::kFloat32, c.out_shape, nullptr, {}});
    auto kernel = op_registry().find("", c.node.op_type)->reference(ctx);
    ASSERT_NE(kernel, nullptr);
    EXPECT_EQ(kernel->inplace_input(), 0);
    Tensor buffer = x.clone();
    std::vector<const void*> in{buffer.raw_data()};
    for (size_t i = 1; i < c.inputs.size(); ++i) in.push_back(c.inputs[i].raw_data());
    std::vector<void*> out{buffer.raw_data()};
    kernel->run(KernelArgs{in.data(), out.data(), nullptr, nullptr});
    EXPECT_TRUE(buffer.equals(x));
  }
}

}  // namespace
}  // namespace quench
