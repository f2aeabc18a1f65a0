// The Swish loop of kernels/x86/swish.h (every instruction-set variant this CPU can run, and the
// one dispatch picks) against x / (1 + exp(−x)) in double within kSwishMaxRelError, in place and
// at the edge values; and the sessions that run it: a Swish node on its own, and a convolution
// whose Swish quench applies after oneDNN's primitive.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/x86/cpu_features.h"
#include "kernels/x86/swish.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench::x86 {
namespace baseline {
SwishLoop swish_loop();
}  // namespace baseline
namespace avx2 {
SwishLoop swish_loop();
}  // namespace avx2
namespace avx512 {
SwishLoop swish_loop();
}  // namespace avx512

namespace {

const float kInf = std::numeric_limits<float>::infinity();

struct Variant {
  std::string isa;
  SwishLoop swish;
};

std::vector<Variant> runnable_variants() {
  const CpuFeatures cpu = detect_cpu_features();
  std::vector<Variant> out{{"baseline", baseline::swish_loop()}, {"dispatched", swish_loop()}};
  if (cpu.avx2) out.push_back({"avx2", avx2::swish_loop()});
  if (cpu.avx512) out.push_back({"avx512", avx512::swish_loop()});
  return out;
}

double exact_swish(float x) { return x / (1.0 + std::exp(-static_cast<double>(x))); }

TEST(X86Swish, WithinTheStatedBound) {
  // Every 2^-8 step of [−120, 120] (past exp's underflow at ln 2^−125 ≈ −86.6), tiny values of
  // both signs, and a length that leaves a tail after the vector loop.
  std::vector<float> x;
  for (int i = -120 * 256; i <= 120 * 256; ++i) x.push_back(static_cast<float>(i) / 256.f);
  for (const float v : {1e-30f, -1e-30f, 1e-5f, -1e-5f, 3e-39f, 86.5f, -86.5f, 87.5f, -87.5f}) {
    x.push_back(v);
  }
  for (const Variant& v : runnable_variants()) {
    std::vector<float> y(x.size());
    v.swish(x.data(), y.data(), static_cast<int64_t>(x.size()));
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = exact_swish(x[i]), error = std::fabs(y[i] - want);
      if (std::fabs(want) < kSwishTinyBelow) {
        ASSERT_LT(error, kSwishTinyBelow) << v.isa << " x = " << x[i];
        continue;
      }
      worst = std::max(worst, error / std::fabs(want));
      ASSERT_LE(error, kSwishMaxRelError * std::fabs(want))
          << v.isa << " x = " << x[i] << ": " << y[i] << " vs " << want;
    }
    std::printf("%s: worst relative error %.3g (bound %.3g)\n", v.isa.c_str(), worst,
                static_cast<double>(kSwishMaxRelError));
  }
}

TEST(X86Swish, EdgeValuesAndInPlace) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const Variant& v : runnable_variants()) {
    // In place, 19 values: a whole vector and a tail on every ISA.
    std::vector<float> y = {0.f,   -0.f,  kInf,   -kInf, nan,    1.f,  -1.f,  2.f, -2.f, 50.f,
                            -50.f, 100.f, -100.f, 1e30f, -1e30f, 0.5f, -0.5f, 3.f, -3.f};
    const std::vector<float> x = y;
    v.swish(y.data(), y.data(), static_cast<int64_t>(y.size()));
    EXPECT_EQ(y[0], 0.f) << v.isa;
    EXPECT_EQ(y[1], 0.f) << v.isa;
    EXPECT_EQ(y[2], kInf) << v.isa;
    // x / (1 + exp(−x)) at −inf is −inf / inf: NaN, as the reference gives.
    EXPECT_TRUE(std::isnan(y[3])) << v.isa;
    EXPECT_TRUE(std::isnan(y[4])) << v.isa;
    EXPECT_EQ(y[13], 1e30f) << v.isa;
    EXPECT_EQ(y[14], -0.f) << v.isa;
    for (size_t i = 5; i < y.size(); ++i) {
      if (i == 13 || i == 14) continue;
      const double want = exact_swish(x[i]);
      EXPECT_NEAR(y[i], want, kSwishMaxRelError * std::fabs(want) + kSwishTinyBelow)
          << v.isa << " x = " << x[i];
    }
  }
}

Model one_input_model(const Shape& shape) {
  Model m;
  m.graph.opsets[""] = 17;
  m.graph.inputs = {"x"};
  m.graph.values["x"] = ValueInfo{DType::kFloat32, symbolic(shape), ""};
  m.graph.outputs = {"y"};
  return m;
}

// Mul(v, Sigmoid(v)) is fused into one Swish node: on its own after an Add it runs on the loop;
// after a convolution quench applies it to oneDNN's output (blocked, with zero-padded channels:
// 20 is not a multiple of 16). Both match the reference session.
TEST(X86Swish, SessionsRunIt) {
  const Shape shape{2, 12, 9, 9};
  const Tensor x = testing::random_tensor(shape, 5, -6.f, 6.f);
  for (const bool conv : {false, true}) {
    Model m = one_input_model(shape);
    Graph& g = m.graph;
    if (conv) {
      g.initializers["w"] = testing::random_tensor({20, 12, 3, 3}, 6, -0.3f, 0.3f);
      g.initializers["b"] = testing::random_tensor({20}, 7, -1.f, 1.f);
      g.nodes.push_back(testing::make_node("Conv", {"x", "w", "b"}, {"v"},
                                           {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
    } else {
      g.nodes.push_back(testing::make_node("Add", {"x", "x"}, {"v"}));
    }
    g.nodes.push_back(testing::make_node("Sigmoid", {"v"}, {"s"}));
    g.nodes.push_back(testing::make_node("Mul", {"v", "s"}, {"y"}));
    SessionOptions ref_options;
    ref_options.fast_kernels = false;
    const auto want = Session(m, ref_options).run({x});
    Session fast(m, SessionOptions{});
    const auto got = fast.run({x});
    EXPECT_TRUE(testing::tensors_near(got[0], want[0], 1e-5, 1e-5)) << (conv ? "conv" : "add");
    std::string impls;
    for (const StepInfo& s : fast.plan_steps({shape})) impls += s.op_type + ":" + s.impl + " ";
    if (conv) {
      EXPECT_EQ(impls.find("Swish"), std::string::npos) << "fused: " << impls;
    } else {
      EXPECT_NE(impls.find("Swish:x86:swish"), std::string::npos) << impls;
    }
  }
}

}  // namespace
}  // namespace quench::x86
