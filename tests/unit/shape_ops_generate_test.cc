// Ops that make or copy whole tensors: Constant, ConstantOfShape, Range, Size, Shape, Identity,
// Dropout.
#include <gtest/gtest.h>

#include "test_util.h"

namespace quench {
namespace {

using testing::make;
using testing::make_node;
using testing::run_node;
using testing::same;

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

Tensor constant(std::initializer_list<std::pair<std::string, AttributeValue>> attrs) {
  return run_node(make_node("Constant", {}, {"y"}, attrs), {})[0];
}

TEST(Constant, EveryValueAttribute) {
  const Tensor value = make<int32_t>({2}, {3, -4});
  EXPECT_TRUE(same(constant({{"value", value}}), value));
  EXPECT_TRUE(same(constant({{"value_float", 1.5f}}), Tensor::scalar(1.5f)));
  EXPECT_TRUE(
      same(constant({{"value_floats", std::vector<float>{1, 2}}}), make<float>({2}, {1, 2})));
  EXPECT_TRUE(same(constant({{"value_int", int64_t{-3}}}), Tensor::scalar<int64_t>(-3)));
  EXPECT_TRUE(same(constant({{"value_ints", std::vector<int64_t>{5}}}), make<int64_t>({1}, {5})));
}

TEST(Constant, RejectsStringsSparseAndAmbiguity) {
  EXPECT_EQ(error_of([] {
              constant({{"value_string", std::string("a")}});
            }),
            ErrorKind::kUnsupported);
  EXPECT_EQ(error_of([] {
              constant({{"value_strings", std::vector<std::string>{"a"}}});
            }),
            ErrorKind::kUnsupported);
  EXPECT_EQ(error_of([] {
              constant({{"sparse_value", OpaqueAttribute{"x"}}});
            }),
            ErrorKind::kUnsupported);
  EXPECT_EQ(error_of([] { constant({}); }), ErrorKind::kInvalidModel);
  EXPECT_EQ(error_of([] {
              constant({{"value_float", 1.f}, {"value_int", int64_t{1}}});
            }),
            ErrorKind::kInvalidModel);
}

Tensor constant_of_shape(std::vector<int64_t> shape, const Tensor* value = nullptr) {
  Node n = make_node("ConstantOfShape", {"shape"}, {"y"});
  if (value != nullptr) n.set_attr("value", *value);
  return run_node(n, {make<int64_t>({static_cast<int64_t>(shape.size())}, shape)})[0];
}

TEST(ConstantOfShape, FillsWithTheValue) {
  EXPECT_TRUE(same(constant_of_shape({2, 3}), Tensor::zeros(DType::kFloat32, {2, 3})));
  const Tensor seven = make<int32_t>({1}, {7});
  EXPECT_TRUE(same(constant_of_shape({3}, &seven), make<int32_t>({3}, {7, 7, 7})));
  const Tensor yes = make<bool>({1}, {true});
  EXPECT_TRUE(same(constant_of_shape({2}, &yes), make<bool>({2}, {true, true})));
  const Tensor big = make<int64_t>({1}, {1LL << 40});
  EXPECT_TRUE(same(constant_of_shape({}, &big), Tensor::scalar<int64_t>(1LL << 40)));
  EXPECT_EQ(constant_of_shape({2, 0}).shape(), (Shape{2, 0}));
}

TEST(ConstantOfShape, RejectsBadInputs) {
  EXPECT_THROW(constant_of_shape({2, -1}), Error);
  const Tensor two = make<float>({2}, {1, 2});
  EXPECT_THROW(constant_of_shape({2}, &two), Error);
  EXPECT_THROW(run_node(make_node("ConstantOfShape", {"s"}, {"y"}), {make<int32_t>({1}, {2})}),
               Error);
}

template <class T>
Tensor range(T start, T limit, T delta) {
  return run_node(make_node("Range", {"s", "l", "d"}, {"y"}),
                  {Tensor::scalar(start), Tensor::scalar(limit), Tensor::scalar(delta)})[0];
}

TEST(Range, FloatAndIntegerTypes) {
  EXPECT_TRUE(same(range(1.f, 5.f, 2.f), make<float>({2}, {1, 3})));
  EXPECT_TRUE(same(range(0.5, 1.0, 0.2), make<double>({3}, {0.5, 0.5 + 0.2, 0.5 + 2 * 0.2})));
  EXPECT_TRUE(same(range<int32_t>(10, 4, -3), make<int32_t>({2}, {10, 7})));
  EXPECT_TRUE(same(range<int16_t>(-2, 1, 1), make<int16_t>({3}, {-2, -1, 0})));
  EXPECT_TRUE(same(range<int64_t>(0, INT64_MAX, INT64_MAX / 2),
                   make<int64_t>({3}, {0, INT64_MAX / 2, INT64_MAX / 2 * 2})));
  EXPECT_EQ(range<int64_t>(5, 1, 1).shape(), Shape{0});
}

TEST(Range, RejectsZeroDeltaAndMixedTypes) {
  EXPECT_THROW(range<int64_t>(0, 3, 0), Error);
  EXPECT_THROW(range(0.f, 1.f, 0.f), Error);
  EXPECT_THROW(run_node(make_node("Range", {"s", "l", "d"}, {"y"}),
                        {Tensor::scalar(0.f), Tensor::scalar<int64_t>(3), Tensor::scalar(1.f)}),
               Error);
  EXPECT_THROW(range<uint8_t>(0, 3, 1), Error);
}

TEST(Size, CountsElements) {
  auto y = run_node(make_node("Size", {"x"}, {"y"}), {Tensor::zeros(DType::kUInt8, {2, 3, 4})});
  EXPECT_TRUE(same(y[0], Tensor::scalar<int64_t>(24)));
  y = run_node(make_node("Size", {"x"}, {"y"}), {Tensor::zeros(DType::kBool, {3, 0})});
  EXPECT_TRUE(same(y[0], Tensor::scalar<int64_t>(0)));
}

TEST(Shape, StartAndEndFromOpset15) {
  const Tensor x = Tensor::zeros(DType::kInt8, {2, 3, 4});
  auto y = run_node(make_node("Shape", {"x"}, {"y"}), {x});
  EXPECT_TRUE(same(y[0], make<int64_t>({3}, {2, 3, 4})));
  y = run_node(make_node("Shape", {"x"}, {"y"}, {{"start", int64_t{-2}}, {"end", int64_t{100}}}),
               {x});
  EXPECT_TRUE(same(y[0], make<int64_t>({2}, {3, 4})));
}

TEST(Identity, CopiesEveryType) {
  for (const Tensor& x : {make<int8_t>({2}, {-1, 1}), make<bool>({1}, {true}),
                          Tensor::zeros(DType::kFloat16, {2, 0})}) {
    EXPECT_TRUE(same(run_node(make_node("Identity", {"x"}, {"y"}), {x})[0], x));
  }
}

TEST(Dropout, InferenceCopiesAndKeepsEveryElement) {
  const Tensor x = make<float>({3}, {1, -2, 3});
  auto y = run_node(make_node("Dropout", {"x"}, {"y", "mask"}), {x}, 13);
  EXPECT_TRUE(same(y[0], x));
  EXPECT_TRUE(same(y[1], make<bool>({3}, {true, true, true})));
  // Before opset 10 the mask has the data's type.
  y = run_node(make_node("Dropout", {"x"}, {"y", "mask"}, {{"ratio", 0.3f}}), {x}, 7);
  EXPECT_TRUE(same(y[0], x));
  EXPECT_TRUE(same(y[1], make<float>({3}, {1, 1, 1})));
  // A ratio input without training mode is ignored.
  y = run_node(make_node("Dropout", {"x", "r"}, {"y"}), {x, Tensor::scalar(0.5f)}, 12);
  EXPECT_TRUE(same(y[0], x));
}

TEST(Dropout, TrainingModeOnlyWithZeroRatio) {
  const Tensor x = make<float>({2}, {1, 2});
  Node n = make_node("Dropout", {"x", "r", "t"}, {"y", "mask"});
  auto y = run_node(n, {x, Tensor::scalar(0.f), Tensor::scalar(true)}, 13);
  EXPECT_TRUE(same(y[0], x));
  EXPECT_TRUE(same(y[1], make<bool>({2}, {true, true})));
  y = run_node(n, {x, Tensor::scalar(0.5f), Tensor::scalar(false)}, 13);
  EXPECT_TRUE(same(y[0], x));
  EXPECT_EQ(error_of([&] {
              run_node(n, {x, Tensor::scalar(0.5f), Tensor::scalar(true)}, 13);
            }),
            ErrorKind::kUnsupported);
  // Without a ratio input the ratio is 0.5.
  Node no_ratio = make_node("Dropout", {"x", "", "t"}, {"y"});
  EXPECT_EQ(error_of([&] {
              run_node(no_ratio, {x, Tensor(), Tensor::scalar(true)}, 13);
            }),
            ErrorKind::kUnsupported);
}

}  // namespace
}  // namespace quench
