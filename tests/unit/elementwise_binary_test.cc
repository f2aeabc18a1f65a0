// Binary and variadic element-wise ops, Pow and Where: broadcasting, integer semantics, NaN.
#include <cmath>
#include <cstring>
#include <limits>

#include "core/half.h"
#include "quench/passes.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;
using testing::run_node;
using testing::tensors_near;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Tensor floats(Shape shape, std::vector<float> values) {
  return Tensor::from_vector<float>(std::move(shape), values);
}

// Values 0, 1, 2, ... scaled, so that every element of a small tensor is distinct.
Tensor iota(Shape shape, float scale) {
  Tensor t = Tensor::empty(DType::kFloat32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = scale * static_cast<float>(i + 1);
  return t;
}

Tensor run2(const std::string& op, const Tensor& a, const Tensor& b,
            std::initializer_list<std::pair<std::string, AttributeValue>> attrs = {}) {
  return run_node(make_node(op, {"a", "b"}, {"c"}, attrs), {a, b}).at(0);
}

std::vector<uint8_t> bools(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DType::kBool);
  std::vector<uint8_t> out(static_cast<size_t>(t.numel()));
  if (!out.empty()) std::memcpy(out.data(), t.raw_data(), out.size());
  return out;
}

// a - b computed by explicit numpy index arithmetic, the oracle for the broadcast planner.
Tensor naive_sub(const Tensor& a, const Tensor& b, const Shape& out_shape) {
  Tensor out = Tensor::empty(DType::kFloat32, out_shape);
  const int rank = static_cast<int>(out_shape.size());
  auto element = [&](const Tensor& t, const Shape& index) {
    int64_t offset = 0;
    for (int d = 0; d < t.rank(); ++d) {
      const int64_t coord = index[rank - t.rank() + d];
      offset = offset * t.shape()[d] + (t.shape()[d] == 1 ? 0 : coord);
    }
    return t.data<float>()[offset];
  };
  Shape index(rank, 0);
  for (int64_t i = 0; i < out.numel(); ++i) {
    out.data<float>()[i] = element(a, index) - element(b, index);
    for (int d = rank - 1; d >= 0; --d) {
      if (++index[d] < out_shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

struct BroadcastCase {
  Shape a, b, out;
};

TEST(ElementwiseBinary, BroadcastingMatchesNumpyIndexing) {
  const std::vector<BroadcastCase> cases = {
      {{2, 3}, {2, 3}, {2, 3}},        // same shape
      {{2, 3}, {}, {2, 3}},            // scalar
      {{}, {2, 3}, {2, 3}},            // scalar first
      {{2, 3}, {3}, {2, 3}},           // row
      {{2, 3}, {2, 1}, {2, 3}},        // column
      {{2, 1}, {1, 3}, {2, 3}},        // outer
      {{4}, {2, 3, 4}, {2, 3, 4}},     // rank-extending
      {{2, 1, 4}, {3, 1}, {2, 3, 4}},  // both broadcast
      {{1, 3, 1, 5}, {2, 1, 4, 5}, {2, 3, 4, 5}},
      {{2, 3, 1}, {1, 1, 1}, {2, 3, 1}},  // trailing size-1 dims
      {{1, 1}, {1}, {1, 1}},
      {{0, 3}, {3}, {0, 3}},  // empty
  };
  for (const auto& c : cases) {
    const Tensor a = iota(c.a, 1.f), b = iota(c.b, 100.f);
    const Tensor got = run2("Sub", a, b);
    EXPECT_EQ(got.shape(), c.out) << shape_str(c.a) << " - " << shape_str(c.b);
    EXPECT_TRUE(tensors_near(got, naive_sub(a, b, c.out), 0, 0))
        << shape_str(c.a) << " - " << shape_str(c.b);
  }
}

TEST(ElementwiseBinary, ArithmeticOnFloats) {
  const Tensor a = floats({4}, {1.f, -2.f, 3.f, 8.f});
  const Tensor b = floats({4}, {2.f, 4.f, -1.f, 0.5f});
  EXPECT_TRUE(tensors_near(run2("Add", a, b), floats({4}, {3.f, 2.f, 2.f, 8.5f}), 0, 0));
  EXPECT_TRUE(tensors_near(run2("Mul", a, b), floats({4}, {2.f, -8.f, -3.f, 4.f}), 0, 0));
  EXPECT_TRUE(tensors_near(run2("Div", a, b), floats({4}, {0.5f, -0.5f, -3.f, 16.f}), 0, 0));
}

TEST(ElementwiseBinary, Uint8WrapsAround) {
  const Tensor a = Tensor::from_vector<uint8_t>({3}, {250, 3, 16});
  const Tensor b = Tensor::from_vector<uint8_t>({3}, {10, 5, 17});
  EXPECT_EQ(run2("Add", a, b).to_int64_vector(), (std::vector<int64_t>{4, 8, 33}));
  EXPECT_EQ(run2("Sub", a, b).to_int64_vector(), (std::vector<int64_t>{240, 254, 255}));
  EXPECT_EQ(run2("Mul", a, b).to_int64_vector(), (std::vector<int64_t>{196, 15, 16}));
  EXPECT_EQ(run2("Add", a, b).dtype(), DType::kUInt8);
}

TEST(ElementwiseBinary, Int32OverflowWraps) {
  const int32_t max = std::numeric_limits<int32_t>::max();
  const Tensor a = Tensor::from_vector<int32_t>({2}, {max, max});
  const Tensor b = Tensor::from_vector<int32_t>({2}, {1, 2});
  EXPECT_EQ(run2("Add", a, b).to_int64_vector(),
            (std::vector<int64_t>{std::numeric_limits<int32_t>::min(), -2147483647}));
  EXPECT_EQ(run2("Mul", a, b).to_int64_vector(), (std::vector<int64_t>{max, -2}));
}

TEST(ElementwiseBinary, IntegerDivisionTruncatesTowardZero) {
  const Tensor a = Tensor::from_vector<int32_t>({5}, {-7, 7, -7, 7, 5});
  const Tensor b = Tensor::from_vector<int32_t>({5}, {2, 2, -2, -2, 0});
  EXPECT_EQ(run2("Div", a, b).to_int64_vector(), (std::vector<int64_t>{-3, 3, 3, -3, 0}));
  const int64_t min = std::numeric_limits<int64_t>::min();
  const Tensor lowest = Tensor::from_vector<int64_t>({1}, {min});
  EXPECT_EQ(run2("Div", lowest, Tensor::from_vector<int64_t>({1}, {-1})).to_int64_vector(),
            (std::vector<int64_t>{min}));
}

TEST(ElementwiseBinary, ModFollowsTheDivisorOrTheDividend) {
  const Tensor a = Tensor::from_vector<int32_t>({5}, {-7, 7, -7, 7, 4});
  const Tensor b = Tensor::from_vector<int32_t>({5}, {3, 3, -3, -3, 0});
  EXPECT_EQ(run2("Mod", a, b).to_int64_vector(), (std::vector<int64_t>{2, 1, -1, -2, 0}));
  EXPECT_EQ(run2("Mod", a, b, {{"fmod", int64_t{1}}}).to_int64_vector(),
            (std::vector<int64_t>{-1, 1, -1, 1, 0}));
  const Tensor f =
      run2("Mod", floats({2}, {-7.5f, 7.5f}), floats({1}, {2.f}), {{"fmod", int64_t{1}}});
  EXPECT_TRUE(tensors_near(f, floats({2}, {-1.5f, 1.5f}), 0, 0));
}

TEST(ElementwiseBinary, ModOfFloatsNeedsFmod) {
  EXPECT_THROW(run2("Mod", floats({1}, {1.f}), floats({1}, {1.f})), Error);
  EXPECT_THROW(run2("Mod", floats({1}, {1.f}), floats({1}, {1.f}), {{"fmod", int64_t{2}}}), Error);
}

TEST(ElementwiseBinary, MinMaxPropagateNaN) {
  const Tensor a = floats({3}, {1.f, kNaN, 3.f});
  const Tensor b = floats({3}, {2.f, 0.f, kNaN});
  EXPECT_TRUE(tensors_near(run2("Max", a, b), floats({3}, {2.f, kNaN, kNaN}), 0, 0));
  EXPECT_TRUE(tensors_near(run2("Min", a, b), floats({3}, {1.f, kNaN, kNaN}), 0, 0));
}

TEST(ElementwiseVariadic, FoldsAndBroadcastsAllInputs) {
  const Tensor a = floats({2, 1}, {1.f, 5.f});
  const Tensor b = floats({3}, {2.f, 4.f, 6.f});
  const Tensor c = floats({}, {3.f});
  const Node max = make_node("Max", {"a", "b", "c"}, {"y"});
  EXPECT_TRUE(tensors_near(run_node(max, {a, b, c}).at(0),
                           floats({2, 3}, {3.f, 4.f, 6.f, 5.f, 5.f, 6.f}), 0, 0));
  const Node sum = make_node("Sum", {"a", "b", "c"}, {"y"});
  EXPECT_TRUE(tensors_near(run_node(sum, {a, b, c}).at(0),
                           floats({2, 3}, {6.f, 8.f, 10.f, 10.f, 12.f, 14.f}), 0, 0));
  const Node mean = make_node("Mean", {"a", "b", "c"}, {"y"});
  EXPECT_TRUE(tensors_near(run_node(mean, {a, b, c}).at(0),
                           floats({2, 3}, {2.f, 8.f / 3, 10.f / 3, 10.f / 3, 4.f, 14.f / 3}), 0,
                           1e-6));
  const Node min = make_node("Min", {"a"}, {"y"});
  EXPECT_TRUE(tensors_near(run_node(min, {a}).at(0), a, 0, 0));
}

TEST(ElementwiseVariadic, IntegerMinMax) {
  const Tensor a = Tensor::from_vector<uint16_t>({3}, {1, 60000, 7});
  const Tensor b = Tensor::from_vector<uint16_t>({3}, {2, 5, 7});
  EXPECT_EQ(run2("Max", a, b).to_int64_vector(), (std::vector<int64_t>{2, 60000, 7}));
  EXPECT_EQ(run2("Min", a, b).to_int64_vector(), (std::vector<int64_t>{1, 5, 7}));
  EXPECT_THROW(run2("Sum", a, b), Error);  // Sum and Mean take float types
}

TEST(ElementwiseBinary, ComparisonsGiveBool) {
  const Tensor a = floats({2, 2}, {1.f, 2.f, 3.f, kNaN});
  const Tensor b = floats({2}, {2.f, 2.f});
  EXPECT_EQ(bools(run2("Equal", a, b)), (std::vector<uint8_t>{0, 1, 0, 0}));
  EXPECT_EQ(bools(run2("Less", a, b)), (std::vector<uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(bools(run2("Greater", a, b)), (std::vector<uint8_t>{0, 0, 1, 0}));
  EXPECT_EQ(bools(run2("LessOrEqual", a, b)), (std::vector<uint8_t>{1, 1, 0, 0}));
  EXPECT_EQ(bools(run2("GreaterOrEqual", a, b)), (std::vector<uint8_t>{0, 1, 1, 0}));
  const Tensor i = Tensor::from_vector<int64_t>({2}, {-1, 4});
  EXPECT_EQ(bools(run2("Less", i, Tensor::scalar<int64_t>(0))), (std::vector<uint8_t>{1, 0}));
}

TEST(ElementwiseBinary, LogicOnBools) {
  const Tensor a = Tensor::from_vector<bool>({2, 2}, {false, false, true, true});
  const Tensor b = Tensor::from_vector<bool>({2}, {false, true});
  EXPECT_EQ(bools(run2("And", a, b)), (std::vector<uint8_t>{0, 0, 0, 1}));
  EXPECT_EQ(bools(run2("Or", a, b)), (std::vector<uint8_t>{0, 1, 1, 1}));
  EXPECT_EQ(bools(run2("Xor", a, b)), (std::vector<uint8_t>{0, 1, 1, 0}));
  EXPECT_EQ(bools(run2("Equal", a, b)), (std::vector<uint8_t>{1, 0, 0, 1}));
  EXPECT_THROW(run2("And", floats({1}, {1.f}), floats({1}, {1.f})), Error);
}

TEST(ElementwiseBinary, BitShift) {
  const Tensor x = Tensor::from_vector<uint8_t>({4}, {1, 255, 16, 3});
  const Tensor s = Tensor::from_vector<uint8_t>({4}, {3, 1, 8, 0});
  EXPECT_EQ(run2("BitShift", x, s, {{"direction", std::string("LEFT")}}).to_int64_vector(),
            (std::vector<int64_t>{8, 254, 0, 3}));
  EXPECT_EQ(run2("BitShift", x, s, {{"direction", std::string("RIGHT")}}).to_int64_vector(),
            (std::vector<int64_t>{0, 127, 0, 3}));
  EXPECT_THROW(run2("BitShift", x, s, {{"direction", std::string("UP")}}), Error);
}

TEST(ElementwiseBinary, Float16InputsComputeInFloat) {
  Tensor a = Tensor::empty(DType::kFloat16, {2});
  Tensor b = Tensor::empty(DType::kFloat16, {2});
  auto* pa = static_cast<uint16_t*>(a.raw_data());
  auto* pb = static_cast<uint16_t*>(b.raw_data());
  pa[0] = float_to_half(1.f), pa[1] = float_to_half(2048.f);
  pb[0] = float_to_half(1.f / 3), pb[1] = float_to_half(1.f);
  const Tensor c = run2("Add", a, b);
  ASSERT_EQ(c.dtype(), DType::kFloat16);
  const auto* pc = static_cast<const uint16_t*>(c.raw_data());
  EXPECT_EQ(pc[0], float_to_half(1.f + half_to_float(pb[0])));
  EXPECT_EQ(half_to_float(pc[1]), 2048.f);  // 2049 is a tie between 2048 and 2050: to even
}

TEST(ElementwiseBinary, MismatchedTypesOrShapesAreErrors) {
  try {
    run2("Add", floats({2}, {1.f, 2.f}), Tensor::from_vector<int32_t>({2}, {1, 2}));
    FAIL() << "Add of float and int32 must fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("int32"), std::string::npos) << e.what();
  }
  EXPECT_THROW(run2("Mul", floats({2}, {1.f, 2.f}), floats({3}, {1.f, 2.f, 3.f})), Error);
  EXPECT_THROW(run2("Equal", floats({1}, {1.f}), Tensor::from_vector<double>({1}, {1.0})), Error);
}

TEST(ElementwisePow, FloatAndMixedTypes) {
  const Tensor base = floats({3}, {2.f, 9.f, -2.f});
  EXPECT_TRUE(tensors_near(run2("Pow", base, floats({3}, {3.f, 0.5f, 2.f})),
                           floats({3}, {8.f, 3.f, 4.f}), 0, 1e-6));
  const Tensor int_exponent = run2("Pow", base, Tensor::from_vector<int64_t>({1}, {3}));
  EXPECT_EQ(int_exponent.dtype(), DType::kFloat32);
  EXPECT_TRUE(tensors_near(int_exponent, floats({3}, {8.f, 729.f, -8.f}), 0, 0));
}

TEST(ElementwisePow, IntegerBaseTruncatesAndWraps) {
  const Tensor base = Tensor::from_vector<int32_t>({4}, {2, 3, -2, 5});
  const Tensor y = run2("Pow", base, floats({4}, {0.5f, 2.f, 3.f, -1.f}));
  EXPECT_EQ(y.dtype(), DType::kInt32);
  EXPECT_EQ(y.to_int64_vector(), (std::vector<int64_t>{1, 9, -8, 0}));
  const Tensor i = Tensor::from_vector<int64_t>({4}, {2, -1, 1, 3});
  const Tensor e = Tensor::from_vector<int64_t>({4}, {62, -3, -5, -1});
  EXPECT_EQ(run2("Pow", i, e).to_int64_vector(),
            (std::vector<int64_t>{int64_t{1} << 62, -1, 1, 0}));
  EXPECT_EQ(
      run2("Pow", Tensor::from_vector<int32_t>({1}, {2}), Tensor::from_vector<int32_t>({1}, {31}))
          .to_int64_vector(),
      (std::vector<int64_t>{std::numeric_limits<int32_t>::min()}));
}

TEST(ElementwiseWhere, BroadcastsAllThreeInputs) {
  const Tensor condition = Tensor::from_vector<bool>({2, 1}, {true, false});
  const Tensor x = floats({1, 3}, {1.f, 2.f, 3.f});
  const Tensor y = floats({}, {-1.f});
  const Node node = make_node("Where", {"c", "x", "y"}, {"z"});
  EXPECT_TRUE(tensors_near(run_node(node, {condition, x, y}).at(0),
                           floats({2, 3}, {1.f, 2.f, 3.f, -1.f, -1.f, -1.f}), 0, 0));
  const Tensor per_element = Tensor::from_vector<bool>({3}, {false, true, false});
  const Tensor xi = Tensor::from_vector<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor yi = Tensor::from_vector<int64_t>({2, 1}, {-1, -2});
  EXPECT_EQ(run_node(node, {per_element, xi, yi}).at(0).to_int64_vector(),
            (std::vector<int64_t>{-1, 2, -1, -2, 5, -2}));
}

TEST(ElementwiseWhere, TypeErrors) {
  const Node node = make_node("Where", {"c", "x", "y"}, {"z"});
  const Tensor x = floats({1}, {1.f});
  EXPECT_THROW(run_node(node, {x, x, x}), Error);  // condition not bool
  EXPECT_THROW(run_node(node, {Tensor::scalar(true), x, Tensor::scalar<int64_t>(1)}), Error);
}

// A chain run by a Session, where the runtime may let outputs reuse their inputs' buffers.
TEST(ElementwiseSession, ChainWithBroadcastsAndReusedBuffers) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  g.outputs = {"y"};
  g.values["x"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim(2), Dim(3)}, ""};
  g.initializers["row"] = floats({3}, {1.f, -2.f, 0.5f});
  g.initializers["col"] = floats({2, 1}, {10.f, -10.f});
  g.nodes = {make_node("Add", {"x", "row"}, {"shifted"}),
             make_node("Mul", {"shifted", "shifted"}, {"squared"}),
             make_node("Sub", {"col", "squared"}, {"diff"}),
             make_node("Max", {"diff", "x", "row"}, {"biggest"}),
             make_node("Relu", {"biggest"}, {"y"})};
  for (size_t i = 0; i < g.nodes.size(); ++i) g.nodes[i].name = "n" + std::to_string(i);
  Session session(m);
  const std::vector<float> x = {0.f, 1.f, -1.f, 3.f, -4.f, 2.f};
  const std::vector<float> row = {1.f, -2.f, 0.5f}, col = {10.f, -10.f};
  std::vector<float> want(6);
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < 3; ++c) {
      const float shifted = x[r * 3 + c] + row[c];
      const float diff = col[r] - shifted * shifted;
      want[r * 3 + c] = std::max({diff, x[r * 3 + c], row[c], 0.f});
    }
  }
  const auto y = session.run({floats({2, 3}, x)});
  ASSERT_EQ(y.size(), 1u);
  EXPECT_TRUE(tensors_near(y[0], floats({2, 3}, want), 0, 0));
}

// Shape inference with symbolic and unknown dims.
TEST(ElementwiseInference, SymbolicBroadcastAndTypes) {
  Graph g;
  g.opsets[""] = 17;
  g.inputs = {"x", "row", "col", "unknown"};
  g.values["x"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("N"), Dim(3)}, ""};
  g.values["row"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim(3)}, ""};
  g.values["col"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("M"), Dim(1)}, ""};
  g.values["unknown"] = ValueInfo{DType::kFloat32, std::nullopt, ""};
  g.nodes = {make_node("Add", {"x", "row"}, {"sum"}), make_node("Less", {"col", "row"}, {"less"}),
             make_node("Mul", {"x", "unknown"}, {"product"}),
             make_node("Cast", {"x"}, {"half"}, {{"to", int64_t{10}}})};
  g.outputs = {"sum", "less", "product", "half"};
  infer_shapes(g);
  EXPECT_EQ(g.values["sum"].dtype, DType::kFloat32);
  EXPECT_EQ(*g.values["sum"].shape, (SymbolicShape{Dim("N"), Dim(3)}));
  EXPECT_EQ(g.values["less"].dtype, DType::kBool);
  EXPECT_EQ(*g.values["less"].shape, (SymbolicShape{Dim("M"), Dim(3)}));
  EXPECT_EQ(g.values["product"].dtype, DType::kFloat32);
  EXPECT_FALSE(g.values["product"].shape.has_value());
  EXPECT_EQ(g.values["half"].dtype, DType::kFloat16);
  EXPECT_EQ(*g.values["half"].shape, (SymbolicShape{Dim("N"), Dim(3)}));
}

}  // namespace
}  // namespace quench
