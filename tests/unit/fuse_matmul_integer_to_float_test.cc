// com.microsoft MatMulIntegerToFloat (eq. (155)) and the runtime fusion that makes it from a
// dynamic quantizer's chain DynamicQuantizeLinear → MatMulInteger → Cast → Mul(s_a · s_b) →
// Add(bias): the fused session gives the unfused chain's floats bit for bit, the op's reference
// kernel the formula computed here from the raw integers, and inputs the op does not allow are
// refused.
#include <gtest/gtest.h>

#include <random>

#include "ops/domains.h"
#include "passes/runtime_passes.h"
#include "quench/session.h"
#include "session_test_util.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;

constexpr int64_t kK = 32, kN = 24;

Tensor int8_weights(uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(-127, 127);
  std::vector<int8_t> w(kK * kN);
  for (int8_t& v : w) v = static_cast<int8_t>(value(rng));
  return Tensor::from_vector({kK, kN}, w);
}

struct Chain {
  bool per_column = false;  // s_b one per column
  bool bias = true;         // a constant bias Add
  bool bias_runtime = false;
  std::string scale_op = "Mul";  // Mul(cast, s)
};

// x [2, 5, 32] float → the dynamic quantizer's linear layer → y [2, 5, 24].
Model chain_model(const Chain& c) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  g.values["x"] = ValueInfo{DType::kFloat32, symbolic(Shape{2, 5, kK}), ""};
  g.initializers["w"] = int8_weights(3);
  g.initializers["w_zero_point"] = Tensor::scalar<int8_t>(0);
  std::vector<float> scales(c.per_column ? kN : 1), bias(kN);
  for (size_t i = 0; i < scales.size(); ++i) scales[i] = 0.004f + 0.0003f * float(i);
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = 0.25f * float(i) - 3.f;
  g.initializers["w_scale"] =
      c.per_column ? Tensor::from_vector({kN}, scales) : Tensor::scalar(scales[0]);
  g.nodes.push_back(make_node("DynamicQuantizeLinear", {"x"}, {"xq", "xs", "xz"}));
  g.nodes.push_back(make_node("MatMulInteger", {"xq", "w", "xz", "w_zero_point"}, {"acc"}));
  g.nodes.push_back(make_node("Cast", {"acc"}, {"accf"}, {{"to", int64_t{1}}}));
  g.nodes.push_back(make_node("Mul", {"xs", "w_scale"}, {"s"}));
  g.nodes.push_back(make_node(c.scale_op, {"accf", "s"}, {"scaled"}));
  if (c.bias) {
    if (c.bias_runtime) {
      g.inputs.push_back("bias");
      g.values["bias"] = ValueInfo{DType::kFloat32, symbolic(Shape{kN}), ""};
    } else {
      g.initializers["bias"] = Tensor::from_vector({kN}, bias);
    }
    g.nodes.push_back(make_node("Add", {"bias", "scaled"}, {"y"}));
  }
  g.outputs = {c.bias ? "y" : "scaled"};
  for (size_t i = 0; i < g.nodes.size(); ++i) g.nodes[i].name = "n" + std::to_string(i);
  return m;
}

std::vector<Tensor> feeds_for(const Chain& c) {
  std::vector<Tensor> feeds = {testing::random_tensor({2, 5, kK}, 9, -3.f, 2.f)};
  if (c.bias && c.bias_runtime) feeds.push_back(testing::random_tensor({kN}, 4, -1.f, 1.f));
  return feeds;
}

int count_op(const Session& s, const std::vector<Tensor>& feeds, const std::string& op) {
  std::vector<Shape> shapes;
  for (const Tensor& t : feeds) shapes.push_back(t.shape());
  int n = 0;
  for (const StepInfo& step : s.plan_steps(shapes)) n += step.op_type == op;
  return n;
}

TEST(FuseMatMulIntegerToFloat, SameFloatsAsTheChain) {
  for (const Chain& c : {Chain{}, Chain{true}, Chain{false, false}, Chain{true, false}}) {
    const Model m = chain_model(c);
    const std::vector<Tensor> feeds = feeds_for(c);
    SessionOptions unfused = testing::one_thread(true);
    unfused.fuse = false;
    const Tensor want = Session(m, unfused).run(feeds)[0];
    for (bool fast : {true, false}) {
      SessionOptions options = testing::one_thread(fast);
      const Session fused(m, options);
      const Tensor got = fused.run(feeds)[0];
      EXPECT_TRUE(got.equals(want))
          << "per_column " << c.per_column << " bias " << c.bias << " fast " << fast;
      if (fast) {
        EXPECT_EQ(count_op(fused, feeds, "MatMulIntegerToFloat"), 1);
        EXPECT_EQ(count_op(fused, feeds, "Cast"), 0);
        EXPECT_EQ(count_op(fused, feeds, "Add"), 0);
      }
    }
  }
}

TEST(FuseMatMulIntegerToFloat, LeavesOtherChainsAlone) {
  // A bias read at run time stays a separate Add; a Div is not the scaling.
  Chain runtime_bias;
  runtime_bias.bias_runtime = true;
  Chain divided;
  divided.scale_op = "Div";
  for (const auto& [c, fused_nodes, adds] : {std::tuple{runtime_bias, 1, 1}, {divided, 0, 1}}) {
    const Model m = chain_model(c);
    const std::vector<Tensor> feeds = feeds_for(c);
    SessionOptions unfused = testing::one_thread(true);
    unfused.fuse = false;
    const Tensor want = Session(m, unfused).run(feeds)[0];
    const Session fused(m, testing::one_thread(true));
    EXPECT_TRUE(fused.run(feeds)[0].equals(want));
    EXPECT_EQ(count_op(fused, feeds, "MatMulIntegerToFloat"), fused_nodes);
    EXPECT_EQ(count_op(fused, feeds, "Add"), adds);
  }
}

// The op alone on the reference kernels against eq. (155) computed here from the raw integers.
TEST(MatMulIntegerToFloat, ReferenceIsTheFormula) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.opsets[kMsDomain] = 1;
  g.inputs = {"a", "a_scale", "a_zero_point"};
  g.values["a"] = ValueInfo{DType::kUInt8, symbolic(Shape{3, kK}), ""};
  g.values["a_scale"] = ValueInfo{DType::kFloat32, symbolic(Shape{}), ""};
  g.values["a_zero_point"] = ValueInfo{DType::kUInt8, symbolic(Shape{}), ""};
  const Tensor b = int8_weights(5);
  std::vector<float> b_scale(kN), bias(kN);
  std::vector<int8_t> b_zero_point(kN);
  for (int64_t n = 0; n < kN; ++n) {
    b_scale[n] = 0.01f + 0.001f * float(n);
    bias[n] = 0.5f - 0.1f * float(n);
    b_zero_point[n] = static_cast<int8_t>(n % 3 - 1);
  }
  g.initializers["b"] = b;
  g.initializers["b_scale"] = Tensor::from_vector({kN}, b_scale);
  g.initializers["b_zero_point"] = Tensor::from_vector({kN}, b_zero_point);
  g.initializers["bias"] = Tensor::from_vector({kN}, bias);
  g.nodes.push_back(
      make_node("MatMulIntegerToFloat",
                {"a", "b", "a_scale", "b_scale", "a_zero_point", "b_zero_point", "bias"}, {"y"}, {},
                kMsDomain));
  g.outputs = {"y"};
  std::mt19937 rng(8);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> a(3 * kK);
  for (uint8_t& v : a) v = static_cast<uint8_t>(byte(rng));
  const float a_scale = 0.037f;
  const uint8_t a_zero_point = 131;
  const std::vector<Tensor> feeds = {Tensor::from_vector({3, kK}, a), Tensor::scalar(a_scale),
                                     Tensor::scalar(a_zero_point)};
  for (bool fast : {false, true}) {
    const Tensor y = Session(m, testing::one_thread(fast)).run(feeds)[0];
    const auto* bv = static_cast<const int8_t*>(b.raw_data());
    for (int64_t r = 0; r < 3; ++r) {
      for (int64_t n = 0; n < kN; ++n) {
        int32_t sum = 0;
        for (int64_t k = 0; k < kK; ++k) {
          sum += (a[r * kK + k] - a_zero_point) * (bv[k * kN + n] - b_zero_point[n]);
        }
        const float want = static_cast<float>(sum) * (a_scale * b_scale[n]) + bias[n];
        ASSERT_EQ(y.data<float>()[r * kN + n], want) << "fast " << fast << " at " << r << ", " << n;
      }
    }
  }
}

TEST(MatMulIntegerToFloat, RefusesWhatTheOpDoesNotAllow) {
  auto model = [](Shape a_scale, Shape bias, DType scale_type) {
    Model m;
    Graph& g = m.graph;
    g.opsets[""] = 17;
    g.opsets[kMsDomain] = 1;
    g.inputs = {"a"};
    g.values["a"] = ValueInfo{DType::kUInt8, symbolic(Shape{3, kK}), ""};
    g.initializers["b"] = int8_weights(1);
    Tensor scale = Tensor::empty(scale_type, a_scale);
    for (int64_t i = 0; i < scale.numel(); ++i) {
      if (scale_type == DType::kFloat16) {
        static_cast<uint16_t*>(scale.raw_data())[i] = 0x3C00;  // 1.0
      } else {
        static_cast<float*>(scale.raw_data())[i] = 1.f;
      }
    }
    g.initializers["a_scale"] = scale;
    g.initializers["b_scale"] = Tensor::scalar(1.f);
    g.initializers["bias"] = Tensor::zeros(DType::kFloat32, bias);
    g.nodes.push_back(make_node("MatMulIntegerToFloat",
                                {"a", "b", "a_scale", "b_scale", "", "", "bias"}, {"y"}, {},
                                kMsDomain));
    g.outputs = {"y"};
    return m;
  };
  const auto message = [](const Model& m) -> std::string {
    try {
      Session s(m, testing::one_thread(false));
      s.run({Tensor::zeros(DType::kUInt8, {3, kK})});
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(message(model({}, {kN}, DType::kFloat32)), "");
  EXPECT_NE(message(model({2}, {kN}, DType::kFloat32)).find("A per tensor"), std::string::npos);
  EXPECT_NE(message(model({}, {kN + 1}, DType::kFloat32)).find("bias must be 1-D"),
            std::string::npos);
  // A float16 scale (T3 allows it) runs: the runtime computes half-precision values in float.
  EXPECT_EQ(message(model({}, {kN}, DType::kFloat16)), "");
}

}  // namespace
}  // namespace quench
