// Unary element-wise ops and Clip on small hand-checked examples.
#include <cmath>
#include <cstring>
#include <limits>

#include "core/half.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;
using testing::run_node;
using testing::tensors_near;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
// Results of float32 math functions against values computed in double by hand.
constexpr double kFloatTol = 1e-6;

Tensor floats(Shape shape, std::vector<float> values) {
  return Tensor::from_vector<float>(std::move(shape), values);
}

Tensor run1(const std::string& op, const Tensor& x,
            std::initializer_list<std::pair<std::string, AttributeValue>> attrs = {},
            int64_t opset = 17) {
  return run_node(make_node(op, {"x"}, {"y"}, attrs), {x}, opset).at(0);
}

std::vector<uint8_t> bools(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DType::kBool);
  std::vector<uint8_t> out(static_cast<size_t>(t.numel()));
  if (!out.empty()) std::memcpy(out.data(), t.raw_data(), out.size());
  return out;
}

TEST(ElementwiseUnary, ReluKeepsShapeAndZeroesNegatives) {
  const Tensor y = run1("Relu", floats({2, 2}, {-1.f, 0.f, 2.5f, -0.f}));
  EXPECT_TRUE(tensors_near(y, floats({2, 2}, {0.f, 0.f, 2.5f, 0.f}), 0, 0));
}

TEST(ElementwiseUnary, ReluOnSignedIntegersFromOpset14) {
  const Tensor y = run1("Relu", Tensor::from_vector<int32_t>({3}, {-5, 0, 7}));
  EXPECT_EQ(y.dtype(), DType::kInt32);
  EXPECT_EQ(y.to_int64_vector(), (std::vector<int64_t>{0, 0, 7}));
  const Tensor y8 = run1("Relu", Tensor::from_vector<int8_t>({2}, {-128, 127}));
  EXPECT_EQ(y8.to_int64_vector(), (std::vector<int64_t>{0, 127}));
}

TEST(ElementwiseUnary, ReluPropagatesNaN) {
  const Tensor y = run1("Relu", floats({1}, {kNaN}));
  EXPECT_TRUE(std::isnan(y.data<float>()[0]));
}

TEST(ElementwiseUnary, EmptyTensor) {
  const Tensor y = run1("Sigmoid", Tensor::zeros(DType::kFloat32, {0, 3}));
  EXPECT_EQ(y.shape(), (Shape{0, 3}));
}

TEST(ElementwiseUnary, ActivationsWithAttributes) {
  const Tensor x = floats({3}, {-2.f, 0.f, 3.f});
  EXPECT_TRUE(
      tensors_near(run1("LeakyRelu", x, {{"alpha", 0.5f}}), floats({3}, {-1.f, 0.f, 3.f}), 0, 0));
  EXPECT_TRUE(tensors_near(run1("LeakyRelu", x), floats({3}, {-0.02f, 0.f, 3.f}), 0, kFloatTol));
  EXPECT_TRUE(tensors_near(run1("Elu", x, {{"alpha", 2.f}}),
                           floats({3}, {float(2 * std::expm1(-2.0)), 0.f, 3.f}), 0, kFloatTol));
  EXPECT_TRUE(tensors_near(run1("HardSigmoid", x, {{"alpha", 0.25f}, {"beta", 0.5f}}),
                           floats({3}, {0.f, 0.5f, 1.f}), 0, 0));
}

TEST(ElementwiseUnary, SeluDefaults) {
  const double alpha = 1.67326319217681884765625, gamma = 1.05070102214813232421875;
  const Tensor y = run1("Selu", floats({2}, {-1.f, 2.f}));
  EXPECT_TRUE(tensors_near(
      y, floats({2}, {float(gamma * alpha * std::expm1(-1.0)), float(gamma * 2)}), 0, kFloatTol));
}

TEST(ElementwiseUnary, SigmoidAndSoftplusDoNotOverflow) {
  const Tensor x = floats({4}, {-100.f, -1.f, 1.f, 100.f});
  const Tensor s = run1("Sigmoid", x);
  EXPECT_TRUE(
      tensors_near(s,
                   floats({4}, {float(1 / (1 + std::exp(100.0))), float(1 / (1 + std::exp(1.0))),
                                float(1 / (1 + std::exp(-1.0))), 1.f}),
                   0, kFloatTol));
  const Tensor p = run1("Softplus", x);
  EXPECT_TRUE(tensors_near(
      p,
      floats({4}, {float(std::log1p(std::exp(-100.0))), float(std::log1p(std::exp(-1.0))),
                   float(std::log1p(std::exp(1.0))), 100.f}),
      0, kFloatTol));
}

TEST(ElementwiseUnary, HardSwishAndSoftsign) {
  const Tensor x = floats({4}, {-4.f, -1.f, 1.f, 4.f});
  EXPECT_TRUE(
      tensors_near(run1("HardSwish", x), floats({4}, {0.f, -1.f / 3, 2.f / 3, 4.f}), 0, kFloatTol));
  EXPECT_TRUE(
      tensors_near(run1("Softsign", x), floats({4}, {-0.8f, -0.5f, 0.5f, 0.8f}), 0, kFloatTol));
}

TEST(ElementwiseUnary, MathFunctions) {
  const Tensor x = floats({2}, {0.25f, 4.f});
  EXPECT_TRUE(tensors_near(run1("Sqrt", x), floats({2}, {0.5f, 2.f}), 0, 0));
  EXPECT_TRUE(tensors_near(run1("Reciprocal", x), floats({2}, {4.f, 0.25f}), 0, 0));
  EXPECT_TRUE(tensors_near(
      run1("Log", x), floats({2}, {float(std::log(0.25)), float(std::log(4.0))}), 0, kFloatTol));
  EXPECT_TRUE(tensors_near(
      run1("Exp", x), floats({2}, {float(std::exp(0.25)), float(std::exp(4.0))}), 0, kFloatTol));
  EXPECT_TRUE(tensors_near(
      run1("Erf", x), floats({2}, {float(std::erf(0.25)), float(std::erf(4.0))}), 0, kFloatTol));
  EXPECT_TRUE(tensors_near(
      run1("Tanh", x), floats({2}, {float(std::tanh(0.25)), float(std::tanh(4.0))}), 0, kFloatTol));
  EXPECT_TRUE(tensors_near(
      run1("Sin", x), floats({2}, {float(std::sin(0.25)), float(std::sin(4.0))}), 0, kFloatTol));
  EXPECT_TRUE(tensors_near(
      run1("Cos", x), floats({2}, {float(std::cos(0.25)), float(std::cos(4.0))}), 0, kFloatTol));
}

TEST(ElementwiseUnary, DoublePrecision) {
  const Tensor y = run1("Sqrt", Tensor::from_vector<double>({1}, {2.0}));
  EXPECT_EQ(y.dtype(), DType::kFloat64);
  EXPECT_EQ(y.data<double>()[0], std::sqrt(2.0));
}

TEST(ElementwiseUnary, Float16ComputesInFloatAndRounds) {
  Tensor x = Tensor::empty(DType::kFloat16, {2});
  auto* bits = static_cast<uint16_t*>(x.raw_data());
  bits[0] = float_to_half(1.f);
  bits[1] = float_to_half(-2.f);
  const Tensor y = run1("Exp", x);
  ASSERT_EQ(y.dtype(), DType::kFloat16);
  const auto* out = static_cast<const uint16_t*>(y.raw_data());
  EXPECT_EQ(out[0], float_to_half(std::exp(1.f)));
  EXPECT_EQ(out[1], float_to_half(std::exp(-2.f)));
}

TEST(ElementwiseUnary, FloorCeilRoundHalfToEven) {
  const Tensor x = floats({8}, {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 2.4f, -2.6f, -1.2f});
  EXPECT_TRUE(tensors_near(run1("Round", x), floats({8}, {0, 2, 2, -0.f, -2, 2, -3, -1}), 0, 0));
  EXPECT_TRUE(tensors_near(run1("Floor", x), floats({8}, {0, 1, 2, -1, -3, 2, -3, -2}), 0, 0));
  EXPECT_TRUE(tensors_near(run1("Ceil", x), floats({8}, {1, 2, 3, -0.f, -2, 3, -2, -1}), 0, 0));
  const Tensor inf = run1("Round", floats({2}, {kInf, kNaN}));
  EXPECT_EQ(inf.data<float>()[0], kInf);
  EXPECT_TRUE(std::isnan(inf.data<float>()[1]));
}

TEST(ElementwiseUnary, NegAbsSignOnIntegersWrap) {
  const Tensor x = Tensor::from_vector<int8_t>({4}, {-128, -3, 0, 5});
  EXPECT_EQ(run1("Neg", x).to_int64_vector(), (std::vector<int64_t>{-128, 3, 0, -5}));
  EXPECT_EQ(run1("Abs", x).to_int64_vector(), (std::vector<int64_t>{-128, 3, 0, 5}));
  EXPECT_EQ(run1("Sign", x).to_int64_vector(), (std::vector<int64_t>{-1, -1, 0, 1}));
  const Tensor big = Tensor::from_vector<int64_t>({2}, {std::numeric_limits<int64_t>::min(), -7});
  EXPECT_EQ(run1("Neg", big).to_int64_vector(),
            (std::vector<int64_t>{std::numeric_limits<int64_t>::min(), 7}));
  EXPECT_EQ(run1("Sign", Tensor::from_vector<uint8_t>({2}, {0, 200})).to_int64_vector(),
            (std::vector<int64_t>{0, 1}));
}

TEST(ElementwiseUnary, SignOfFloatsKeepsZeroAndNaN) {
  const Tensor y = run1("Sign", floats({4}, {-3.f, 0.f, 2.f, kNaN}));
  EXPECT_TRUE(tensors_near(y, floats({4}, {-1.f, 0.f, 1.f, kNaN}), 0, 0));
}

TEST(ElementwiseUnary, PredicatesGiveBool) {
  const Tensor x = floats({4}, {1.f, kNaN, kInf, -kInf});
  EXPECT_EQ(bools(run1("IsNaN", x)), (std::vector<uint8_t>{0, 1, 0, 0}));
  EXPECT_EQ(bools(run1("IsInf", x)), (std::vector<uint8_t>{0, 0, 1, 1}));
  EXPECT_EQ(bools(run1("IsInf", x, {{"detect_negative", int64_t{0}}})),
            (std::vector<uint8_t>{0, 0, 1, 0}));
  EXPECT_EQ(bools(run1("IsInf", x, {{"detect_positive", int64_t{0}}})),
            (std::vector<uint8_t>{0, 0, 0, 1}));
  EXPECT_EQ(bools(run1("Not", Tensor::from_vector<bool>({2}, {true, false}))),
            (std::vector<uint8_t>{0, 1}));
}

TEST(ElementwiseUnary, UnsupportedElementTypeIsAnError) {
  try {
    run1("Exp", Tensor::from_vector<int32_t>({1}, {1}));
    FAIL() << "Exp on int32 must fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("int32"), std::string::npos) << e.what();
  }
  EXPECT_THROW(run1("Not", floats({1}, {1.f})), Error);
  EXPECT_THROW(run1("Neg", Tensor::from_vector<uint8_t>({1}, {1})), Error);
}

// Clip

Tensor clip(const Tensor& x, const Tensor& lo, const Tensor& hi, int64_t opset = 13) {
  return run_node(
             make_node("Clip", {"x", lo.defined() ? "lo" : "", hi.defined() ? "hi" : ""}, {"y"}),
             {x, lo, hi}, opset)
      .at(0);
}

TEST(ElementwiseClip, BoundsAsInputs) {
  const Tensor x = floats({5}, {-3.f, -1.f, 0.5f, 2.f, kInf});
  EXPECT_TRUE(tensors_near(clip(x, Tensor::scalar(-1.f), Tensor::scalar(1.f)),
                           floats({5}, {-1.f, -1.f, 0.5f, 1.f, 1.f}), 0, 0));
}

TEST(ElementwiseClip, AbsentBoundDoesNotClip) {
  // Exact comparisons (Tensor::equals): tensors_near does not treat inf as near inf.
  const Tensor x = floats({4}, {-kInf, -3.f, 2.f, kInf});
  EXPECT_TRUE(clip(x, Tensor(), Tensor::scalar(0.f)).equals(floats({4}, {-kInf, -3.f, 0.f, 0.f})));
  EXPECT_TRUE(clip(x, Tensor::scalar(0.f), Tensor()).equals(floats({4}, {0.f, 0.f, 2.f, kInf})));
  EXPECT_TRUE(clip(x, Tensor(), Tensor()).equals(x));
}

TEST(ElementwiseClip, MinAboveMaxGivesMax) {
  const Tensor x = floats({3}, {-5.f, 0.f, 5.f});
  EXPECT_TRUE(tensors_near(clip(x, Tensor::scalar(2.f), Tensor::scalar(1.f)),
                           floats({3}, {1.f, 1.f, 1.f}), 0, 0));
}

TEST(ElementwiseClip, Integers) {
  const Tensor x = Tensor::from_vector<int8_t>({4}, {-128, -5, 5, 127});
  const Tensor y = clip(x, Tensor::scalar<int8_t>(-10), Tensor::scalar<int8_t>(100));
  EXPECT_EQ(y.dtype(), DType::kInt8);
  EXPECT_EQ(y.to_int64_vector(), (std::vector<int64_t>{-10, -5, 5, 100}));
  const Tensor u = clip(Tensor::from_vector<uint8_t>({3}, {0, 100, 255}), Tensor(),
                        Tensor::scalar<uint8_t>(200));
  EXPECT_EQ(u.to_int64_vector(), (std::vector<int64_t>{0, 100, 200}));
}

TEST(ElementwiseClip, AttributesBeforeOpset11) {
  const Tensor x = floats({3}, {-3.f, 0.f, 3.f});
  const Node node = make_node("Clip", {"x"}, {"y"}, {{"min", -1.f}, {"max", 2.f}});
  EXPECT_TRUE(tensors_near(run_node(node, {x}, 6).at(0), floats({3}, {-1.f, 0.f, 2.f}), 0, 0));
  // Clip-6 defaults to the float range: infinities clip to it.
  const Tensor y = run_node(make_node("Clip", {"x"}, {"y"}), {floats({1}, {kInf})}, 6).at(0);
  EXPECT_EQ(y.data<float>()[0], std::numeric_limits<float>::max());
  // From opset 11 the attributes are gone: only inputs bound.
  EXPECT_TRUE(tensors_near(run_node(node, {x}, 11).at(0), x, 0, 0));
}

TEST(ElementwiseClip, BadBoundsAreErrors) {
  const Tensor x = floats({2}, {1.f, 2.f});
  EXPECT_THROW(clip(x, floats({2}, {0.f, 0.f}), Tensor()), Error);  // not a scalar
  EXPECT_THROW(clip(x, Tensor::scalar(0.0), Tensor()), Error);      // another type
}

}  // namespace
}  // namespace quench
