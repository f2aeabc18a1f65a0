// Cast and CastLike: 16-bit float rounding, float-to-integer truncation and saturation,
// integer wrap-around, bool.
#include <cmath>
#include <cstring>
#include <limits>

#include "core/half.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;
using testing::run_node;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor cast(const Tensor& x, DType to) {
  const Node node = make_node("Cast", {"x"}, {"y"}, {{"to", static_cast<int64_t>(to)}});
  return run_node(node, {x}).at(0);
}

std::vector<uint16_t> bits16(const Tensor& t) {
  std::vector<uint16_t> out(static_cast<size_t>(t.numel()));
  if (!out.empty()) std::memcpy(out.data(), t.raw_data(), out.size() * sizeof(uint16_t));
  return out;
}

Tensor half_tensor(std::vector<uint16_t> bits) {
  Tensor t = Tensor::empty(DType::kFloat16, {static_cast<int64_t>(bits.size())});
  std::memcpy(t.raw_data(), bits.data(), bits.size() * sizeof(uint16_t));
  return t;
}

TEST(ElementwiseCast, FloatToFloat16RoundsToNearestEven) {
  const float smallest_subnormal = std::ldexp(1.f, -24);
  const Tensor x = Tensor::from_vector<float>(
      {10}, {1.f, 65504.f, 65519.f, 65520.f, -1e6f, smallest_subnormal,
             smallest_subnormal / 2,              // tie between 0 and the smallest subnormal: 0
             smallest_subnormal * 1.5f,           // tie between 1 and 2 subnormal steps: 2
             -0.f, 1.f + std::ldexp(1.f, -11)});  // tie between 1 and 1 + 2^-10: 1
  const Tensor y = cast(x, DType::kFloat16);
  ASSERT_EQ(y.dtype(), DType::kFloat16);
  EXPECT_EQ(bits16(y), (std::vector<uint16_t>{0x3c00, 0x7bff, 0x7bff, 0x7c00, 0xfc00, 0x0001,
                                              0x0000, 0x0002, 0x8000, 0x3c00}));
  const Tensor special = cast(Tensor::from_vector<float>({2}, {kInf, kNaN}), DType::kFloat16);
  const auto s = bits16(special);
  EXPECT_EQ(s[0], 0x7c00);
  EXPECT_TRUE(std::isnan(half_to_float(s[1])));
}

TEST(ElementwiseCast, DoubleToFloat16RoundsOnce) {
  // Just above the tie between 1 and 1 + 2^-10. Through float it would become the tie itself
  // and round down to 1; rounded once it goes up.
  const double above_tie = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -30);
  const Tensor y = cast(Tensor::from_vector<double>({2}, {above_tie, 1e300}), DType::kFloat16);
  EXPECT_EQ(bits16(y), (std::vector<uint16_t>{0x3c01, 0x7c00}));
}

TEST(ElementwiseCast, Float16ToOtherTypes) {
  const Tensor h = half_tensor({0x3c00, 0x0001, 0xc500, 0x7c00});  // 1, 2^-24, -5, inf
  const Tensor f = cast(h, DType::kFloat32);
  EXPECT_EQ(f.data<float>()[0], 1.f);
  EXPECT_EQ(f.data<float>()[1], std::ldexp(1.f, -24));
  EXPECT_EQ(f.data<float>()[2], -5.f);
  EXPECT_EQ(f.data<float>()[3], kInf);
  EXPECT_EQ(cast(h, DType::kInt32).to_int64_vector(),
            (std::vector<int64_t>{1, 0, -5, std::numeric_limits<int32_t>::max()}));
}

TEST(ElementwiseCast, BFloat16RoundsToNearestEven) {
  const Tensor x = Tensor::from_vector<float>(
      {4}, {1.f + std::ldexp(1.f, -8), 1.f + 3 * std::ldexp(1.f, -8), 0.47892547f, -2.f});
  const Tensor y = cast(x, DType::kBFloat16);
  ASSERT_EQ(y.dtype(), DType::kBFloat16);
  EXPECT_EQ(bits16(y), (std::vector<uint16_t>{0x3f80, 0x3f82, 0x3ef5, 0xc000}));
  const Tensor back = cast(y, DType::kFloat32);
  EXPECT_EQ(back.data<float>()[1], 1.f + std::ldexp(1.f, -6));
}

TEST(ElementwiseCast, FloatToIntegerTruncatesAndSaturates) {
  const Tensor x =
      Tensor::from_vector<float>({7}, {2.7f, -2.7f, kNaN, 1e10f, -1e10f, 300.f, -0.5f});
  EXPECT_EQ(cast(x, DType::kInt32).to_int64_vector(),
            (std::vector<int64_t>{2, -2, 0, std::numeric_limits<int32_t>::max(),
                                  std::numeric_limits<int32_t>::min(), 300, 0}));
  EXPECT_EQ(cast(x, DType::kUInt8).to_int64_vector(),
            (std::vector<int64_t>{2, 0, 0, 255, 0, 255, 0}));
  EXPECT_EQ(cast(x, DType::kInt8).to_int64_vector(),
            (std::vector<int64_t>{2, -2, 0, 127, -128, 127, 0}));
  const Tensor big = Tensor::from_vector<double>({2}, {1e19, 9.3e18});
  EXPECT_EQ(cast(big, DType::kInt64).to_int64_vector(),
            (std::vector<int64_t>{std::numeric_limits<int64_t>::max(),
                                  std::numeric_limits<int64_t>::max()}));
  const Tensor u = cast(big, DType::kUInt64);
  EXPECT_EQ(u.data<uint64_t>()[0], 10000000000000000000ull);
}

TEST(ElementwiseCast, IntegerNarrowingWraps) {
  EXPECT_EQ(cast(Tensor::from_vector<int16_t>({2}, {200, -129}), DType::kInt8).to_int64_vector(),
            (std::vector<int64_t>{-56, 127}));
  EXPECT_EQ(cast(Tensor::from_vector<int64_t>({2}, {257, -1}), DType::kUInt8).to_int64_vector(),
            (std::vector<int64_t>{1, 255}));
  const Tensor f = cast(Tensor::from_vector<int64_t>({1}, {16777217}), DType::kFloat32);
  EXPECT_EQ(f.data<float>()[0], 16777216.f);
}

TEST(ElementwiseCast, Bool) {
  const Tensor x = Tensor::from_vector<float>({4}, {0.f, -0.f, kNaN, -2.f});
  const Tensor b = cast(x, DType::kBool);
  ASSERT_EQ(b.dtype(), DType::kBool);
  EXPECT_EQ(b.to_int64_vector(), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(cast(Tensor::from_vector<int32_t>({2}, {0, 36}), DType::kBool).to_int64_vector(),
            (std::vector<int64_t>{0, 1}));
  const Tensor f = cast(Tensor::from_vector<bool>({2}, {true, false}), DType::kFloat64);
  EXPECT_EQ(f.data<double>()[0], 1.0);
  EXPECT_EQ(f.data<double>()[1], 0.0);
}

TEST(ElementwiseCast, CastLikeTakesTheSecondInputsType) {
  const Node node = make_node("CastLike", {"x", "like"}, {"y"});
  const Tensor y =
      run_node(node, {Tensor::from_vector<float>({2}, {1.5f, -3.f}), Tensor::scalar<int64_t>(0)})
          .at(0);
  EXPECT_EQ(y.dtype(), DType::kInt64);
  EXPECT_EQ(y.to_int64_vector(), (std::vector<int64_t>{1, -3}));
}

TEST(ElementwiseCast, UnsupportedTargetsAreErrors) {
  const Tensor x = Tensor::from_vector<float>({1}, {1.f});
  try {
    cast(x, DType::kString);
    FAIL() << "casting to string must fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  }
  const Node unknown = make_node("Cast", {"x"}, {"y"}, {{"to", int64_t{99}}});
  EXPECT_THROW(run_node(unknown, {x}), Error);
  EXPECT_THROW(run_node(make_node("Cast", {"x"}, {"y"}), {x}), Error);  // `to` is required
}

}  // namespace
}  // namespace quench
