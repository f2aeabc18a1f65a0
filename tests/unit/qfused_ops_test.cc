// QFusedConv and QFusedMatMul (src/ops/qfused_ops.cc): equal to QLinearConv / QLinearMatMul
// without epilogue, hand-checked bias, sum and clamp, parameters read at build and at run time,
// shape inference and errors.
#include <random>

#include "ops/fused.h"
#include "ops/quantized/qfused.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;
using testing::run_node;

Tensor f32(Shape shape, std::vector<float> v) { return Tensor::from_vector(std::move(shape), v); }
Tensor u8(Shape shape, std::vector<uint8_t> v) { return Tensor::from_vector(std::move(shape), v); }
Tensor s8(Shape shape, std::vector<int8_t> v) { return Tensor::from_vector(std::move(shape), v); }
Tensor i32(Shape shape, std::vector<int32_t> v) { return Tensor::from_vector(std::move(shape), v); }
Tensor scalar(float v) { return Tensor::scalar(v); }
ValueInfo value(DType type, SymbolicShape shape) { return ValueInfo{type, std::move(shape), ""}; }

const std::vector<std::string> kConvInputs{"x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "b"};
const std::vector<std::string> kMatMulInputs{"a", "sa", "za", "b", "sb", "zb", "sy", "zy"};

// `base` plus optional trailing inputs (empty names for absent ones).
std::vector<std::string> with(std::vector<std::string> base, std::vector<std::string> extra) {
  base.insert(base.end(), extra.begin(), extra.end());
  return base;
}

Node qfused(const std::string& op, std::vector<std::string> inputs,
            std::initializer_list<std::pair<std::string, AttributeValue>> attrs = {}) {
  return make_node(op, std::move(inputs), {"y"}, attrs, kInternalDomain);
}

// Runs `node` with every input constant at build time (run_node) and, in a session, with every
// input fed at run time; both must agree bit for bit. Returns the first.
Tensor run_both(const Node& node, const std::vector<Tensor>& inputs) {
  const Tensor prepared = run_node(node, inputs)[0];
  Model model;
  Graph& g = model.graph;
  g.opsets[""] = 17;
  g.opsets[kInternalDomain] = 17;
  std::vector<Tensor> fed;
  Node graph_node = node;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) {
      graph_node.inputs[i].clear();
      continue;
    }
    g.inputs.push_back(node.inputs[i]);
    g.values[node.inputs[i]] = ValueInfo{inputs[i].dtype(), symbolic(inputs[i].shape()), ""};
    fed.push_back(inputs[i]);
  }
  g.outputs = {"y"};
  g.nodes = {graph_node};
  SessionOptions options;
  options.threads = 1;
  options.fast_kernels = false;
  const Tensor at_run_time = Session(std::move(model), options).run(fed)[0];
  EXPECT_TRUE(prepared.equals(at_run_time)) << node.op_type << ": run-time parameters differ";
  return prepared;
}

// The QLinearConv example of quant_ops_test.cc: per-channel weights with a bias; y (z_y = 100,
// s_y = 0.25) = [100, 110, 120, 130 | 97, 57, 17, 0] before any epilogue.
std::vector<Tensor> conv_example() {
  return {u8({1, 1, 2, 2}, {10, 20, 30, 40}),
          scalar(0.5f),
          u8({}, {10}),
          s8({2, 1, 1, 1}, {2, -4}),
          f32({2}, {0.25f, 0.5f}),
          s8({2}, {0, 0}),
          scalar(0.25f),
          u8({}, {100}),
          i32({2}, {1, -3})};
}

TEST(QFusedConv, WithoutEpilogueIsQLinearConv) {
  const Tensor y = run_both(qfused("QFusedConv", kConvInputs), conv_example());
  EXPECT_TRUE(y.equals(u8({1, 2, 2, 2}, {100, 110, 120, 130, 97, 57, 17, 0})));
}

TEST(QFusedConv, ReluAndClipBoundsInRealUnits) {
  // Relu: real values below 0 (y below z_y = 100) become 0, i.e. 100.
  const Tensor relu =
      run_both(qfused("QFusedConv", kConvInputs, {{"act_min", 0.f}}), conv_example());
  EXPECT_TRUE(relu.equals(u8({1, 2, 2, 2}, {100, 110, 120, 130, 100, 100, 100, 100})));
  // Clip(−1, 5): in units of s_y = 0.25, [−4, 20] around z_y: y in [96, 120].
  const Tensor clip = run_both(
      qfused("QFusedConv", kConvInputs, {{"act_min", -1.f}, {"act_max", 5.f}}), conv_example());
  EXPECT_TRUE(clip.equals(u8({1, 2, 2, 2}, {100, 110, 120, 120, 97, 96, 96, 96})));
}

TEST(QFusedConv, YMaxBoundsEachChannelAfterRounding) {
  // Eq. (157) after Relu: y = [100, 110, 120, 130 | 100, 100, 100, 100], then min with 115 for
  // channel 0 and 99 for channel 1 (below the Relu's floor: a bound wins over the clamp).
  std::vector<Tensor> inputs = conv_example();
  inputs.resize(QFusedInputs::kYMax);
  inputs.push_back(u8({2}, {115, 99}));
  std::vector<std::string> names = with(kConvInputs, {"", "", ""});
  names.push_back("ymax");
  const Tensor y = run_both(qfused("QFusedConv", names, {{"act_min", 0.f}}), inputs);
  EXPECT_TRUE(y.equals(u8({1, 2, 2, 2}, {100, 110, 115, 115, 99, 99, 99, 99})));
  // A bound of y's other type, or one per something else than the output channels: named.
  std::vector<Tensor> signed_bounds = inputs;
  signed_bounds.back() = s8({2}, {1, 2});
  EXPECT_THROW(run_node(qfused("QFusedConv", names), signed_bounds), Error);
  std::vector<Tensor> three = inputs;
  three.back() = u8({3}, {1, 2, 3});
  try {
    run_node(qfused("QFusedConv", names), three);
    ADD_FAILURE() << "three bounds for two channels were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("y_max has shape [3], expected [2]"), std::string::npos)
        << e.what();
  }
  // QFusedMatMul has no y_max.
  std::vector<std::string> mm = with(kMatMulInputs, {"", "", "", ""});
  mm.push_back("ymax");
  std::vector<ValueInfo> infos(mm.size());
  infos[QFusedInputs::kYMax] = value(DType::kUInt8, {2});
  EXPECT_THROW(testing::infer_node(qfused("QFusedMatMul", mm), infos), Error);
}

TEST(QFusedConv, ActivationOnTheRealValueAtEachChannelsStep) {
  // Eq. (150): float(acc)·M = [0.5, 10.5, 20.5, 30.5 | −3, −43, −83, −123] output steps; at
  // t = s_y = 0.25 the real values are [0.125, 2.625, 5.125, 7.625 | −0.75, −10.75, ...], whose
  // swish r·sigmoid(r) is [0.0664, 2.4477, 5.0947, 7.6213 | −0.2406, −0.0002, ~0, ~0]: /t and
  // rounded, [0, 10, 20, 30 | −1, 0, 0, 0] around z_y = 100.
  const Tensor swish = run_both(
      qfused("QFusedConv", kConvInputs, {{"activation", std::string("Swish")}}), conv_example());
  EXPECT_TRUE(swish.equals(u8({1, 2, 2, 2}, {100, 110, 120, 130, 99, 100, 100, 100})));
  // Channel 1 at t = 0.1: real values [−0.3, −4.3, −8.3, −12.3], swish [−0.1277, −0.0576,
  // −0.0021, ~0], /t [−1.28, −0.58, −0.02, ~0].
  const Tensor steps = run_both(qfused("QFusedConv", kConvInputs,
                                       {{"activation", std::string("Swish")},
                                        {"activation_scales", std::vector<float>{0.25f, 0.1f}}}),
                                conv_example());
  EXPECT_TRUE(steps.equals(u8({1, 2, 2, 2}, {100, 110, 120, 130, 99, 99, 100, 100})));
  // An unknown activation, a step that is not positive, a step count that is not the channels'.
  EXPECT_THROW(run_node(qfused("QFusedConv", kConvInputs, {{"activation", std::string("Bogus")}}),
                        conv_example()),
               Error);
  EXPECT_THROW(run_node(qfused("QFusedConv", kConvInputs,
                               {{"activation", std::string("Swish")},
                                {"activation_scales", std::vector<float>{0.25f, -1.f}}}),
                        conv_example()),
               Error);
  EXPECT_THROW(run_node(qfused("QFusedConv", kConvInputs,
                               {{"activation", std::string("Swish")},
                                {"activation_scales", std::vector<float>{0.25f, 0.1f, 0.2f}}}),
                        conv_example()),
               Error);
  EXPECT_THROW(run_node(qfused("QFusedConv", kConvInputs,
                               {{"activation_scales", std::vector<float>{0.25f}}}),
                        conv_example()),
               Error);
}

TEST(QFusedConv, AddsASumOfAnotherTypeBeforeTheClamp) {
  // sum (s8, s = 0.5, z = −2): sum − z = [0, 1, −4, 10, 2, 2, 2, 2]; ratio s_sum/s_y = 2 adds
  // [0, 2, −8, 20, 4, 4, 4, 4] to float(acc)·M = [0.5, 10.5, 20.5, 30.5, −3, −43, −83, −123].
  std::vector<Tensor> inputs = conv_example();
  inputs.push_back(s8({1, 2, 2, 2}, {-2, -1, -6, 8, 0, 0, 0, 0}));
  inputs.push_back(scalar(0.5f));
  inputs.push_back(s8({}, {-2}));
  const Node node = qfused("QFusedConv", with(kConvInputs, {"s", "ss", "zs"}));
  EXPECT_TRUE(
      run_both(node, inputs).equals(u8({1, 2, 2, 2}, {100, 112, 112, 150, 101, 61, 21, 0})));
  // With Relu the sum is added first: −3 + 4 = 1 stays, the rest clamp to 0.
  const Node relu = qfused("QFusedConv", with(kConvInputs, {"s", "ss", "zs"}), {{"act_min", 0.f}});
  EXPECT_TRUE(
      run_both(relu, inputs).equals(u8({1, 2, 2, 2}, {100, 112, 112, 150, 101, 100, 100, 100})));
}

TEST(QFusedConv, SignedOutputAndSumWithoutZeroPoint) {
  // y s8 with z_y = 0 and s_y = 0.25; sum u8 without zero point (0), s_sum = 0.25: ratio 1.
  std::vector<Tensor> inputs = conv_example();
  inputs[7] = s8({}, {0});
  inputs.push_back(u8({1, 2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7}));
  inputs.push_back(scalar(0.25f));
  inputs.push_back(Tensor());
  const Node node = qfused("QFusedConv", with(kConvInputs, {"s", "ss", ""}));
  // [0.5, 10.5, 20.5, 30.5, −3, −43, −83, −123] plus the sum, rounded half to even.
  EXPECT_TRUE(run_both(node, inputs).equals(s8({1, 2, 2, 2}, {0, 12, 22, 34, 1, -38, -77, -116})));
}

// Random operands for exact comparisons with the base ops.
template <class T>
Tensor random_tensor(Shape shape, std::mt19937& rng) {
  std::uniform_int_distribution<int> dist(std::numeric_limits<T>::lowest(),
                                          std::numeric_limits<T>::max());
  std::vector<T> v(static_cast<size_t>(shape_numel(shape)));
  for (T& x : v) x = static_cast<T>(dist(rng));
  return Tensor::from_vector(std::move(shape), v);
}

template <class X>
void expect_conv_equals_qlinear_conv(std::mt19937& rng) {
  // Grouped, strided, padded, per-channel weights with bias.
  const std::initializer_list<std::pair<std::string, AttributeValue>> attrs = {
      {"group", int64_t{2}},
      {"strides", std::vector<int64_t>{2, 1}},
      {"pads", std::vector<int64_t>{1, 0, 1, 1}}};
  std::vector<Tensor> inputs{random_tensor<X>({2, 4, 5, 6}, rng),
                             scalar(0.02f),
                             random_tensor<X>({}, rng),
                             random_tensor<int8_t>({6, 2, 3, 3}, rng),
                             f32({6}, {0.01f, 0.02f, 0.003f, 0.05f, 0.011f, 0.007f}),
                             s8({6}, {0, 0, 0, 0, 0, 0}),
                             scalar(0.3f),
                             random_tensor<uint8_t>({}, rng),
                             i32({6}, {100, -2000, 5, 0, 77, -31})};
  const Node base = make_node("QLinearConv", kConvInputs, {"y"}, attrs);
  const Node fused = make_node("QFusedConv", kConvInputs, {"y"}, attrs, kInternalDomain);
  EXPECT_TRUE(run_both(fused, inputs).equals(run_node(base, inputs)[0]));
}

TEST(QFusedConv, EqualsQLinearConvBitForBit) {
  std::mt19937 rng(7);
  expect_conv_equals_qlinear_conv<uint8_t>(rng);
  expect_conv_equals_qlinear_conv<int8_t>(rng);
}

TEST(QFusedConv, InfersAndRejects) {
  const auto f = value(DType::kFloat32, {});
  std::vector<ValueInfo> inputs{value(DType::kUInt8, {1, 3, 8, 8}),
                                f,
                                value(DType::kUInt8, {}),
                                value(DType::kInt8, {4, 3, 3, 3}),
                                value(DType::kFloat32, {4}),
                                value(DType::kInt8, {4}),
                                f,
                                value(DType::kInt8, {}),
                                value(DType::kInt32, {4}),
                                value(DType::kUInt8, {1, 4, 6, 6}),
                                f,
                                value(DType::kUInt8, {})};
  const Node node = qfused("QFusedConv", with(kConvInputs, {"s", "ss", "zs"}));
  auto out = testing::infer_node(node, inputs);
  EXPECT_EQ(out[0].dtype, DType::kInt8);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{1, 4, 6, 6}));
  // Unknown shapes are tolerated.
  std::vector<ValueInfo> unknown = inputs;
  unknown[0].shape.reset();
  unknown[9].shape = SymbolicShape{Dim("N"), 4, Dim(), 6};
  EXPECT_NO_THROW(testing::infer_node(node, unknown));
  // A sum of another shape; of a float type; with a per-channel scale; a bias of wrong length.
  std::vector<ValueInfo> bad = inputs;
  bad[9].shape = SymbolicShape{1, 4, 6, 5};
  EXPECT_THROW(testing::infer_node(node, bad), Error);
  bad = inputs;
  bad[9].dtype = DType::kFloat32;
  EXPECT_THROW(testing::infer_node(node, bad), Error);
  bad = inputs;
  bad[10].shape = SymbolicShape{4};
  EXPECT_THROW(testing::infer_node(node, bad), Error);
  bad = inputs;
  bad[8].shape = SymbolicShape{3};
  EXPECT_THROW(testing::infer_node(node, bad), Error);
  // A sum without its scale.
  const Node no_scale = qfused("QFusedConv", with(kConvInputs, {"s", "", "zs"}));
  bad = inputs;
  bad[10] = ValueInfo{};
  EXPECT_THROW(testing::infer_node(no_scale, bad), Error);
  // Bounds out of order.
  const Node reversed = qfused("QFusedConv", with(kConvInputs, {"s", "ss", "zs"}),
                               {{"act_min", 2.f}, {"act_max", 1.f}});
  EXPECT_THROW(testing::infer_node(reversed, inputs), Error);
}

TEST(QFusedConv, KernelRejectsASumOfAnotherShape) {
  std::vector<Tensor> inputs = conv_example();
  inputs.push_back(u8({1, 2, 2, 1}, {0, 0, 0, 0}));
  inputs.push_back(scalar(0.5f));
  inputs.push_back(u8({}, {0}));
  EXPECT_THROW(run_node(qfused("QFusedConv", with(kConvInputs, {"s", "ss", "zs"})), inputs), Error);
  std::vector<Tensor> short_bias = conv_example();
  short_bias[8] = i32({1}, {0});
  EXPECT_THROW(run_node(qfused("QFusedConv", kConvInputs), short_bias), Error);
}

// ---- QFusedMatMul ----

// The QLinearMatMul example of quant_ops_test.cc: sums [[−6, 10], [−12, 25]] with M = [1, 0.5]
// per column; y (z_y = 20) = [[14, 25], [8, 32]] (12.5 rounds to 12).
std::vector<Tensor> matmul_example() {
  return {u8({2, 3}, {1, 2, 3, 4, 5, 6}),
          scalar(0.5f),
          u8({}, {1}),
          s8({3, 2}, {1, -1, 0, 2, -3, 4}),
          f32({2}, {0.5f, 0.25f}),
          s8({2}, {0, 0}),
          scalar(0.25f),
          u8({}, {20})};
}

TEST(QFusedMatMul, WithoutEpilogueIsQLinearMatMul) {
  const Tensor y = run_both(qfused("QFusedMatMul", kMatMulInputs), matmul_example());
  EXPECT_TRUE(y.equals(u8({2, 2}, {14, 25, 8, 32})));
}

TEST(QFusedMatMul, AddsTheBiasToTheIntegerSum) {
  // bias [1, −2]: sums [[−5, 8], [−11, 23]] · [1, 0.5] = [[−5, 4], [−11, 11.5 → 12]].
  std::vector<Tensor> inputs = matmul_example();
  inputs.push_back(i32({2}, {1, -2}));
  const Tensor y = run_both(qfused("QFusedMatMul", with(kMatMulInputs, {"bias"})), inputs);
  EXPECT_TRUE(y.equals(u8({2, 2}, {15, 24, 9, 32})));
}

TEST(QFusedMatMul, SumRoundsOnceAfterTheAddition) {
  // sum (u8, s = 0.25, z = 10) − z = [2, 0, −1, 3], ratio 1: [[−6 + 2, 5], [−12 − 1, 12.5 + 3]];
  // 15.5 rounds to 16, where rounding 12.5 to 12 first would give 15.
  std::vector<Tensor> inputs = matmul_example();
  inputs.push_back(Tensor());
  inputs.push_back(u8({2, 2}, {12, 10, 9, 13}));
  inputs.push_back(scalar(0.25f));
  inputs.push_back(u8({}, {10}));
  const Tensor y =
      run_both(qfused("QFusedMatMul", with(kMatMulInputs, {"", "s", "ss", "zs"})), inputs);
  EXPECT_TRUE(y.equals(u8({2, 2}, {16, 25, 7, 36})));
  // Clip(0, 2) in units of 0.25: [0, 8] above z_y.
  const Tensor clipped = run_both(qfused("QFusedMatMul", with(kMatMulInputs, {"", "s", "ss", "zs"}),
                                         {{"act_min", 0.f}, {"act_max", 2.f}}),
                                  inputs);
  EXPECT_TRUE(clipped.equals(u8({2, 2}, {20, 25, 20, 28})));
}

template <class A>
void expect_matmul_equals_qlinear_matmul(std::mt19937& rng) {
  // Batched and broadcast: A [2, 3, 4, 5] · B [3, 5, 6], B per column.
  const std::vector<Tensor> inputs{random_tensor<A>({2, 3, 4, 5}, rng),
                                   scalar(0.05f),
                                   random_tensor<A>({}, rng),
                                   random_tensor<int8_t>({3, 5, 6}, rng),
                                   f32({6}, {0.01f, 0.02f, 0.003f, 0.05f, 0.011f, 0.007f}),
                                   s8({6}, {0, 1, -1, 2, 0, 3}),
                                   scalar(0.2f),
                                   random_tensor<int8_t>({}, rng)};
  const Node base = make_node("QLinearMatMul", kMatMulInputs, {"y"});
  EXPECT_TRUE(
      run_both(qfused("QFusedMatMul", kMatMulInputs), inputs).equals(run_node(base, inputs)[0]));
}

TEST(QFusedMatMul, EqualsQLinearMatMulBitForBit) {
  std::mt19937 rng(11);
  expect_matmul_equals_qlinear_matmul<uint8_t>(rng);
  expect_matmul_equals_qlinear_matmul<int8_t>(rng);
}

TEST(QFusedMatMul, InfersAndRejects) {
  const auto f = value(DType::kFloat32, {});
  const std::vector<ValueInfo> inputs{value(DType::kUInt8, {Dim("B"), 4, 3}),
                                      f,
                                      value(DType::kUInt8, {}),
                                      value(DType::kInt8, {3, 5}),
                                      value(DType::kFloat32, {5}),
                                      value(DType::kInt8, {5}),
                                      f,
                                      value(DType::kUInt8, {}),
                                      value(DType::kInt32, {5}),
                                      value(DType::kInt8, {Dim("B"), 4, 5}),
                                      f,
                                      value(DType::kInt8, {})};
  const Node node = qfused("QFusedMatMul", with(kMatMulInputs, {"bias", "s", "ss", "zs"}));
  auto out = testing::infer_node(node, inputs);
  EXPECT_EQ(out[0].dtype, DType::kUInt8);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("B"), 4, 5}));
  std::vector<ValueInfo> bad = inputs;
  bad[8].shape = SymbolicShape{4};  // one per column of B: 5
  EXPECT_THROW(testing::infer_node(node, bad), Error);
  bad = inputs;
  bad[8].dtype = DType::kFloat32;
  EXPECT_THROW(testing::infer_node(node, bad), Error);
  bad = inputs;
  bad[9].shape = SymbolicShape{Dim("B"), 4, 4};
  EXPECT_THROW(testing::infer_node(node, bad), Error);
  bad = inputs;
  bad[11].dtype = DType::kUInt8;  // the sum's zero point must have the sum's type
  EXPECT_THROW(testing::infer_node(node, bad), Error);
}

TEST(QFusedMatMul, KernelRejectsBadBiasAndSum) {
  std::vector<Tensor> inputs = matmul_example();
  inputs.push_back(i32({3}, {0, 0, 0}));
  EXPECT_THROW(run_node(qfused("QFusedMatMul", with(kMatMulInputs, {"bias"})), inputs), Error);
  inputs.back() = i32({2}, {0, 0});
  inputs.push_back(u8({2, 3}, {0, 0, 0, 0, 0, 0}));
  inputs.push_back(scalar(1.f));
  EXPECT_THROW(run_node(qfused("QFusedMatMul", with(kMatMulInputs, {"bias", "s", "ss"})), inputs),
               Error);
}

}  // namespace
}  // namespace quench
