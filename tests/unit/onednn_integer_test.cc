// The fast kernels of ONNX Runtime's dynamically quantized models against the reference kernels,
// bit for bit: DynamicQuantizeLinear (kernels/onednn/qquantize.cc, eq. (37)), MatMulInteger
// (qmatmul.cc) and ConvInteger (qconv.cc), whose int32 outputs are exact sums (eqs. (34), (61)).
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "kernels/onednn/context.h"
#include "kernels/x86/cpu_features.h"
#include "quench/data.h"
#include "quench/model_io.h"
#include "quench/session.h"
#include "session_test_util.h"
#include "test_util.h"

namespace quench {
namespace {

constexpr DType kU8 = DType::kUInt8, kS8 = DType::kInt8;
using Ints = std::vector<int64_t>;
using Attrs = std::vector<std::pair<std::string, AttributeValue>>;

// A one-node graph: `inputs` are (name, value, fed at run time) in the node's order; an empty
// name leaves an optional input absent.
struct Input {
  std::string name;
  Tensor value;
  bool fed = false;
};

struct OneNode {
  Model model;
  std::vector<Tensor> feeds;
};

OneNode one_node(const std::string& op, const std::vector<Input>& inputs,
                 const std::vector<std::string>& outputs, const Attrs& attrs = {}) {
  OneNode b;
  Graph& g = b.model.graph;
  g.opsets[""] = 17;
  Node node;
  node.op_type = op;
  node.name = "op";
  node.outputs = outputs;
  for (const auto& [k, v] : attrs) node.set_attr(k, v);
  for (const Input& i : inputs) {
    node.inputs.push_back(i.name);
    if (i.name.empty()) continue;
    if (i.fed) {
      g.inputs.push_back(i.name);
      g.values[i.name] = ValueInfo{i.value.dtype(), symbolic(i.value.shape()), ""};
      b.feeds.push_back(i.value);
    } else {
      g.initializers[i.name] = i.value;
    }
  }
  g.nodes = {node};
  for (const std::string& out : outputs) {
    if (!out.empty()) g.outputs.push_back(out);
  }
  return b;
}

// Runs `b` with the reference and the fast kernels: every output equal bit for bit, and the chosen
// implementation's name starting with `expected` ("onednn:", "x86:" or "ref").
void expect_fast_equals_reference(const OneNode& b, const std::string& op,
                                  const std::string& expected) {
  const Session ref(b.model, testing::one_thread(false));
  const Session quick(b.model, testing::one_thread(true));
  const std::vector<Tensor> want = ref.run(b.feeds);
  const std::vector<Tensor> got = quick.run(b.feeds);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(got[i].equals(want[i])) << op << " output " << i;
  }
  const std::string impl = testing::impl_of(quick, b.feeds, op);
  if (expected == "ref") {
    EXPECT_EQ(impl, "ref");
  } else {
    EXPECT_EQ(impl.rfind(expected, 0), 0u) << "chosen: " << impl;
  }
}
void expect_fast_equals_reference(const OneNode& b, const std::string& op, bool fast) {
  expect_fast_equals_reference(b, op, std::string(fast ? "onednn:" : "ref"));
}

// The implementation of an integer product: oneDNN's where they are exact and it takes the
// configuration (`onednn`), else quench's x86 kernels (exact wherever they run).
std::string product_impl(bool onednn) {
  if (onednn && onednn::int8_products_exact()) return "onednn:";
  return x86::cpu_features().avx2 ? "x86:" : "ref";
}

// DynamicQuantizeLinear ----------------------------------------------------------------------

struct DqlCase {
  std::string name;
  std::vector<float> x;
};
void PrintTo(const DqlCase& c, std::ostream* os) { *os << c.name; }

std::vector<float> uniform(size_t n, float low, float high, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(low, high);
  std::vector<float> v(n);
  for (float& f : v) f = value(rng);
  return v;
}

std::vector<DqlCase> dql_cases() {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<DqlCase> t = {
      {"random", uniform(1000, -3.f, 5.f, 1)},
      {"all_positive", uniform(777, 0.25f, 9.f, 2)},
      {"all_negative", uniform(513, -7.f, -0.5f, 3)},
      {"constant", std::vector<float>(100, 2.5f)},
      {"zeros_only", std::vector<float>(48, 0.f)},
      {"negative_zeros", std::vector<float>(19, -0.f)},
      {"negative_zeros_long", std::vector<float>(130, -0.f)},
      {"one_element", {-1.75f}},
      {"fifteen", uniform(15, -1.f, 1.f, 4)},
      {"seventeen", uniform(17, -1.f, 2.f, 5)},
      {"large_values", uniform(301, -3e38f, 2e38f, 6)},
      {"tiny_values", uniform(99, -1e-38f, 1e-38f, 7)},
  };
  // Exact ties of x / s: multiples of half a step.
  std::vector<float> ties;
  for (int i = -60; i <= 195; ++i) ties.push_back(0.5f * static_cast<float>(i));
  t.push_back({"ties", ties});
  // Long enough for the 64-value vector steps of the range; NaN and infinities inside them.
  std::vector<float> with_nan = uniform(200, -2.f, 2.f, 8);
  with_nan[3] = nan;
  with_nan[37] = nan;
  with_nan[150] = nan;
  t.push_back({"nan_inside", with_nan});
  t.push_back({"nan_only", std::vector<float>(21, nan)});
  std::vector<float> with_inf = uniform(133, -2.f, 2.f, 9);
  with_inf[20] = kInf;
  t.push_back({"positive_infinity", with_inf});
  with_inf[5] = -kInf;
  t.push_back({"both_infinities", with_inf});
  std::vector<float> negative_inf = uniform(18, -2.f, 2.f, 10);
  negative_inf[17] = -kInf;
  t.push_back({"negative_infinity_last", negative_inf});
  return t;
}

class FastDynamicQuantizeLinear : public ::testing::TestWithParam<DqlCase> {};

TEST_P(FastDynamicQuantizeLinear, EqualsReference) {
  const DqlCase& c = GetParam();
  const int64_t n = static_cast<int64_t>(c.x.size());
  const Tensor x = Tensor::from_vector<float>({n}, c.x);
  const OneNode b = one_node("DynamicQuantizeLinear", {{"x", x, true}}, {"y", "y_scale", "y_zp"});
  expect_fast_equals_reference(b, "DynamicQuantizeLinear", true);
}

INSTANTIATE_TEST_SUITE_P(Cases, FastDynamicQuantizeLinear, ::testing::ValuesIn(dql_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(FastDynamicQuantizeLinearShape, FourDimensionalWithOnlyTheData) {
  const Tensor x = Tensor::from_vector<float>({2, 3, 5, 7}, uniform(210, -1.f, 4.f, 11));
  const OneNode b = one_node("DynamicQuantizeLinear", {{"x", x, true}}, {"y", "", ""});
  expect_fast_equals_reference(b, "DynamicQuantizeLinear", true);
}

// MatMulInteger and ConvInteger --------------------------------------------------------------

Tensor random_quant(DType type, const Shape& shape, std::mt19937& rng) {
  Tensor t = Tensor::empty(type, shape);
  std::uniform_int_distribution<int> byte(0, 255);
  auto* data = static_cast<uint8_t*>(t.raw_data());
  for (int64_t i = 0; i < t.numel(); ++i) data[i] = static_cast<uint8_t>(byte(rng));
  return t;
}

Tensor quant_scalar(DType type, int32_t value) {
  if (type == kS8) return Tensor::scalar(static_cast<int8_t>(value));
  return Tensor::scalar(static_cast<uint8_t>(value));
}

// How an operand's zero point is given.
enum class ZeroPoint { kAbsent, kConstant, kRunTime };

struct IntCase {
  std::string name;
  std::string op;  // MatMulInteger or ConvInteger
  Shape x, w;      // A and B, or X and W
  DType x_type = kU8, w_type = kS8;
  ZeroPoint x_zero_point = ZeroPoint::kRunTime;
  int32_t x_zero_point_value = 0;  // default: 131 for u8, -9 for s8
  ZeroPoint w_zero_point = ZeroPoint::kConstant;
  int32_t w_zero_point_value = 0;  // as stored: 0 or 128 keep convolutions fast
  bool w_per_channel = false;      // the zero point once per output channel
  bool w_fed = false;              // B at run time
  Attrs attrs;
  bool fast = true;
  uint8_t w_fill = 0;  // nonzero: every weight byte this value (bound tests)
};
void PrintTo(const IntCase& c, std::ostream* os) { *os << c.name; }

OneNode build(const IntCase& c) {
  std::mt19937 rng(42);
  std::vector<Input> in;
  in.push_back({"x", random_quant(c.x_type, c.x, rng), true});
  Tensor w = random_quant(c.w_type, c.w, rng);
  if (c.w_fill != 0) std::memset(w.raw_data(), c.w_fill, static_cast<size_t>(w.numel()));
  in.push_back({"w", w, c.w_fed});
  const int32_t x_zp = c.x_zero_point_value != 0 ? c.x_zero_point_value
                       : c.x_type == kU8         ? 131
                                                 : -9;
  in.push_back(c.x_zero_point == ZeroPoint::kAbsent ? Input{}
                                                    : Input{"x_zp", quant_scalar(c.x_type, x_zp),
                                                            c.x_zero_point == ZeroPoint::kRunTime});
  if (c.w_zero_point != ZeroPoint::kAbsent) {
    Tensor w_zp = quant_scalar(c.w_type, c.w_zero_point_value);
    if (c.w_per_channel) {
      const int64_t n = c.op == "ConvInteger" ? c.w[0] : c.w.back();
      w_zp = Tensor::empty(c.w_type, {n});
      std::memset(w_zp.raw_data(), static_cast<uint8_t>(c.w_zero_point_value),
                  static_cast<size_t>(n));
    }
    in.push_back({"w_zp", w_zp, c.w_zero_point == ZeroPoint::kRunTime});
  }
  return one_node(c.op, in, {"y"}, c.attrs);
}

class FastIntegerOps : public ::testing::TestWithParam<IntCase> {};

TEST_P(FastIntegerOps, EqualsReference) {
  const IntCase& c = GetParam();
  expect_fast_equals_reference(build(c), c.op, product_impl(c.fast));
}

IntCase matmul(std::string name, Shape a, Shape b, DType a_type, DType b_type) {
  IntCase c;
  c.name = std::move(name);
  c.op = "MatMulInteger";
  c.x = std::move(a);
  c.w = std::move(b);
  c.x_type = a_type;
  c.w_type = b_type;
  return c;
}

IntCase conv(std::string name, Shape x, Shape w, Attrs attrs = {}) {
  IntCase c;
  c.name = std::move(name);
  c.op = "ConvInteger";
  c.x = std::move(x);
  c.w = std::move(w);
  c.attrs = std::move(attrs);
  return c;
}

template <class F>
IntCase with(IntCase c, std::string name, F change) {
  c.name = std::move(name);
  change(c);
  return c;
}

std::vector<IntCase> int_cases() {
  const IntCase mm = matmul("matmul_u8_s8_2d", {7, 40}, {40, 24}, kU8, kS8);
  const IntCase conv3x3 =
      conv("conv_3x3_padded", {2, 16, 9, 9}, {32, 16, 3, 3}, {{"pads", Ints{1, 1, 1, 1}}});
  const Attrs depthwise{{"group", int64_t{24}}, {"pads", Ints{1, 1, 1, 1}}};
  return {
      mm,
      matmul("matmul_u8_u8_3d", {2, 17, 64}, {64, 48}, kU8, kU8),
      matmul("matmul_s8_s8_3d", {3, 5, 32}, {32, 16}, kS8, kS8),
      matmul("matmul_s8_u8", {9, 20}, {20, 12}, kS8, kU8),
      with(mm, "matmul_constant_a_zero_point",
           [](IntCase& c) { c.x_zero_point = ZeroPoint::kConstant; }),
      with(mm, "matmul_no_zero_points",
           [](IntCase& c) {
             c.x_zero_point = ZeroPoint::kAbsent;
             c.w_zero_point = ZeroPoint::kAbsent;
           }),
      with(mm, "matmul_b_zero_point", [](IntCase& c) { c.w_zero_point_value = -5; }),
      with(matmul("", {4, 30}, {30, 8}, kU8, kU8), "matmul_u8_b_zero_point_per_column",
           [](IntCase& c) {
             c.w_zero_point_value = 140;
             c.w_per_channel = true;
           }),
      with(matmul("", {2, 3, 6, 16}, {2, 3, 16, 10}, kU8, kU8), "matmul_b_at_run_time",
           [](IntCase& c) {
             c.w_fed = true;
             c.w_zero_point_value = 120;
           }),
      with(mm, "matmul_b_zero_point_at_run_time_not_onednn",
           [](IntCase& c) {
             c.w_zero_point = ZeroPoint::kRunTime;
             c.fast = false;
           }),
      with(mm, "matmul_zero_point_255", [](IntCase& c) { c.x_zero_point_value = 255; }),
      // Eq. (61): 2000 · 128 > 2^15, past what oneDNN's float conversion keeps exact.
      with(matmul("", {3, 2000}, {2000, 4}, kU8, kS8), "matmul_past_the_bound_not_onednn",
           [](IntCase& c) {
             c.w_fill = 0x80;
             c.fast = false;
           }),
      conv("conv_1x1_unpadded", {2, 24, 7, 7}, {40, 24, 1, 1}),
      conv3x3,
      with(conv3x3, "conv_s8_x", [](IntCase& c) { c.x_type = kS8; }),
      with(conv3x3, "conv_u8_weights",
           [](IntCase& c) {
             c.w_type = kU8;
             c.w_zero_point_value = 128;
           }),
      with(conv3x3, "conv_constant_x_zero_point",
           [](IntCase& c) { c.x_zero_point = ZeroPoint::kConstant; }),
      with(conv("", {2, 24, 7, 7}, {40, 24, 1, 1}), "conv_1x1_constant_x_zero_point",
           [](IntCase& c) { c.x_zero_point = ZeroPoint::kConstant; }),
      with(conv3x3, "conv_no_zero_points",
           [](IntCase& c) {
             c.x_zero_point = ZeroPoint::kAbsent;
             c.w_zero_point = ZeroPoint::kAbsent;
           }),
      with(conv3x3, "conv_weight_zero_point_per_channel_zero",
           [](IntCase& c) { c.w_per_channel = true; }),
      conv("conv_strided", {2, 8, 12, 12}, {16, 8, 3, 3},
           {{"strides", Ints{2, 2}}, {"pads", Ints{1, 0, 1, 2}}}),
      conv("conv_depthwise", {2, 24, 10, 10}, {24, 1, 3, 3}, depthwise),
      conv("conv_depthwise_stride2", {2, 24, 14, 14}, {24, 1, 3, 3},
           {{"group", int64_t{24}}, {"pads", Ints{1, 1, 1, 1}}, {"strides", Ints{2, 2}}}),
      conv("conv_grouped", {1, 16, 8, 8}, {16, 4, 3, 3},
           {{"group", int64_t{4}}, {"pads", Ints{1, 1, 1, 1}}}),
      conv("conv_one_input_channel", {4, 1, 28, 28}, {8, 1, 3, 3}, {{"pads", Ints{1, 1, 1, 1}}}),
      conv("conv_patches", {3, 1, 28, 28}, {16, 1, 4, 4}, {{"strides", Ints{4, 4}}}),
      conv("conv_1d", {2, 8, 20}, {16, 8, 5}),
      // What oneDNN leaves to quench's x86 kernels: a weight zero point (needs Σx per position),
      // and sums past eq. (61)'s bound.
      with(conv3x3, "conv_weight_zero_point_not_onednn",
           [](IntCase& c) {
             c.w_zero_point_value = 3;
             c.fast = false;
           }),
      with(conv("", {1, 300, 4, 4}, {8, 300, 1, 1}), "conv_past_the_bound_not_onednn",
           [](IntCase& c) {
             c.w_fill = 0x80;
             c.fast = false;
           }),
  };
}

INSTANTIATE_TEST_SUITE_P(Table, FastIntegerOps, ::testing::ValuesIn(int_cases()),
                         [](const auto& info) { return info.param.name; });

// Cast (kernels/onednn/cast.cc): integer results to float or a wider integer -------------------

struct CastCase {
  std::string name;
  DType from, to;
  bool fast;
};
void PrintTo(const CastCase& c, std::ostream* os) { *os << c.name; }

Tensor cast_input(DType type) {
  std::mt19937 rng(7);
  if (type == DType::kInt32) {
    // Around 2^24, where float rounds, and the ends of int32.
    std::vector<int32_t> v = {16777217, -16777219, 2147483647, -2147483647 - 1, 0, 33554435};
    std::uniform_int_distribution<int32_t> any(-2147483647 - 1, 2147483647);
    while (v.size() < 61) v.push_back(any(rng));
    return Tensor::from_vector<int32_t>({61}, v);
  }
  if (type == DType::kFloat32)
    return Tensor::from_vector<float>({5}, {1.5f, -2.5f, 3e9f, -0.f, 7.f});
  return random_quant(type, {3, 19}, rng);
}

class FastCast : public ::testing::TestWithParam<CastCase> {};

TEST_P(FastCast, EqualsReference) {
  const CastCase& c = GetParam();
  const OneNode b = one_node("Cast", {{"x", cast_input(c.from), true}}, {"y"},
                             {{"to", static_cast<int64_t>(c.to)}});
  expect_fast_equals_reference(b, "Cast", c.fast);
}

INSTANTIATE_TEST_SUITE_P(Table, FastCast,
                         ::testing::Values(CastCase{"u8_to_float", kU8, DType::kFloat32, true},
                                           CastCase{"s8_to_float", kS8, DType::kFloat32, true},
                                           CastCase{"s32_to_float_rounds_to_nearest", DType::kInt32,
                                                    DType::kFloat32, true},
                                           CastCase{"s8_to_s32", kS8, DType::kInt32, true},
                                           CastCase{"u8_to_s32", kU8, DType::kInt32, true},
                                           CastCase{"float_to_s32_truncates_on_the_reference",
                                                    DType::kFloat32, DType::kInt32, false}),
                         [](const auto& info) { return info.param.name; });

// ConvInteger's channels-last int32 output read by Cast directly, as in ONNX Runtime's dynamic
// models (ConvInteger -> Cast -> Mul).
TEST(FastCast, ReadsConvIntegersLayout) {
  IntCase c;
  c.op = "ConvInteger";
  c.x = {2, 8, 9, 9};
  c.w = {16, 8, 3, 3};
  c.attrs = {{"pads", Ints{1, 1, 1, 1}}};
  OneNode b = build(c);
  Node cast;
  cast.op_type = "Cast";
  cast.name = "cast";
  cast.inputs = {"y"};
  cast.outputs = {"y_float"};
  cast.set_attr("to", static_cast<int64_t>(DType::kFloat32));
  b.model.graph.nodes.push_back(cast);
  b.model.graph.outputs = {"y_float"};
  expect_fast_equals_reference(b, "Cast", true);
  // Cast takes whatever layout ConvInteger chose: no separate reorder step runs between them.
  const Session fast(b.model, SessionOptions{});
  for (const StepInfo& step : fast.plan_steps(testing::shapes_of(b.feeds))) {
    EXPECT_NE(step.op_type, "Reorder") << step.node;
  }
}

// ONNX Runtime's dynamically quantized fixtures run DynamicQuantizeLinear, ConvInteger and
// MatMulInteger on the fast kernels. Those match the reference bit for bit, but the float kernels
// between them (Mul, Add, Clip, LayerNormalization, ...) do not, and one ulp in a tensor's
// maximum moves its scale (eq. (37)), so logits are compared within kDynamicLogitTolerance and
// the predicted classes must agree. On 200 test images mobilenetv2's logits are identical and
// vit's differ by up to 0.051, as much as with the integer ops on their reference kernels.
constexpr double kDynamicLogitTolerance = 0.1;

class OnednnDynamicModel : public ::testing::TestWithParam<std::string> {};

TEST_P(OnednnDynamicModel, FastKernelsRunTheIntegerOps) {
  const Model model = load_model(testing::test_model("ort/" + GetParam() + ".ort_dynamic.onnx"));
  const Tensor x = testing::fmnist_images_or_random(200);
  const Tensor want = Session(model, testing::one_thread(false)).run({x})[0];
  const Session fast(model, SessionOptions{});
  const Tensor got = fast.run({x})[0];
  EXPECT_TRUE(testing::tensors_near(got, want, kDynamicLogitTolerance, 0));
  testing::expect_same_top1(got, want);
  int integer_steps = 0;
  for (const StepInfo& s : fast.plan_steps({x.shape()})) {
    const bool product = s.op_type == "ConvInteger" || s.op_type == "MatMulInteger";
    if (product && !onednn::int8_products_exact()) {
      EXPECT_EQ(s.impl.rfind(product_impl(false), 0), 0u) << s.node << ": " << s.impl;
      ++integer_steps;
    } else if (product || s.op_type == "DynamicQuantizeLinear") {
      EXPECT_EQ(s.impl.rfind("onednn:", 0), 0u) << s.node << " (" << s.op_type << "): " << s.impl;
      ++integer_steps;
    }
  }
  EXPECT_GT(integer_steps, 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, OnednnDynamicModel, ::testing::Values("mobilenetv2", "vit"));

}  // namespace
}  // namespace quench
