// The softmax loops of kernels/x86/softmax.h (every instruction-set variant this CPU can run, and
// the one dispatch picks): their exp against the exact exp within kExpMaxRelError, the softmax
// against the reference kernel (in double) within the bound derived below, rows in place, the
// edge values; and a Softmax node in a session runs on them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/ref/norm.h"
#include "kernels/x86/cpu_features.h"
#include "kernels/x86/softmax.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench::x86 {
namespace baseline {
SoftmaxLoop softmax_loop();
ExpLoop exp_loop();
}  // namespace baseline
namespace avx2 {
SoftmaxLoop softmax_loop();
ExpLoop exp_loop();
}  // namespace avx2
namespace avx512 {
SoftmaxLoop softmax_loop();
ExpLoop exp_loop();
}  // namespace avx512

namespace {

constexpr double kEps = std::numeric_limits<float>::epsilon();
const float kInf = std::numeric_limits<float>::infinity();

struct Variant {
  std::string isa;
  SoftmaxLoop softmax;
  ExpLoop exp;
};

std::vector<Variant> runnable_variants() {
  const CpuFeatures cpu = detect_cpu_features();
  std::vector<Variant> out{{"baseline", baseline::softmax_loop(), baseline::exp_loop()},
                           {"dispatched", softmax_loop(), exp_loop()}};
  if (cpu.avx2) out.push_back({"avx2", avx2::softmax_loop(), avx2::exp_loop()});
  if (cpu.avx512) out.push_back({"avx512", avx512::softmax_loop(), avx512::exp_loop()});
  return out;
}

TEST(X86Softmax, ExpWithinTheStatedBound) {
  // Every 2^-10 step of [−86.6, 0], and a length that leaves a tail after the vector loop.
  std::vector<float> x;
  for (int i = -86 * 1024 - 600; i <= 0; ++i) x.push_back(static_cast<float>(i) / 1024.f);
  x.push_back(-1e-30f);
  for (const Variant& v : runnable_variants()) {
    std::vector<float> y(x.size());
    v.exp(x.data(), y.data(), static_cast<int64_t>(x.size()));
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double exact = std::exp(static_cast<double>(x[i]));
      const double error = std::abs(y[i] - exact) / exact;
      worst = std::max(worst, error);
      ASSERT_LE(error, kExpMaxRelError) << v.isa << " at x = " << x[i];
    }
    std::printf("%s: max exp relative error %.3g (bound %.3g)\n", v.isa.c_str(), worst,
                static_cast<double>(kExpMaxRelError));
  }
}

TEST(X86Softmax, ExpEdgeValues) {
  const std::vector<float> x = {0.f,     -0.f,  -86.7f,
                                -1000.f, -kInf, std::numeric_limits<float>::quiet_NaN()};
  for (const Variant& v : runnable_variants()) {
    std::vector<float> y(x.size());
    v.exp(x.data(), y.data(), static_cast<int64_t>(x.size()));
    EXPECT_EQ(y[0], 1.f) << v.isa;
    EXPECT_EQ(y[1], 1.f) << v.isa;
    EXPECT_EQ(y[2], 0.f) << v.isa << ": below ln 2^-125 the result is 0, never subnormal";
    EXPECT_EQ(y[3], 0.f) << v.isa;
    EXPECT_EQ(y[4], 0.f) << v.isa;
    EXPECT_TRUE(std::isnan(y[5])) << v.isa;
  }
}

// Eq. (154), the bound on |y − exact| for one output of a softmax over `axis` values: exp's own
// error (kExpMaxRelError), the rounding of x − max (relative error |x − max|·ε/2 in exp, at most
// ε/(2e) absolute since y ≤ exp(−|x − max|)), the float sum (one rounding per value a lane adds
// plus the tree of lanes) and the final product.
double tolerance(double exact, int64_t axis) {
  const double sum_roundings = static_cast<double>(axis) / 4 + 8;
  return kEps / 2 + exact * (kExpMaxRelError + (sum_roundings + 1) * kEps);
}

struct Shape3 {
  int64_t outer, axis, inner;
};

std::vector<float> scores(const Shape3& s, uint32_t seed, bool masked) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 6.f);
  std::vector<float> x(static_cast<size_t>(s.outer * s.axis * s.inner));
  for (float& v : x) v = normal(rng);
  // Masked attention adds −inf (or a large negative value) to some scores: never to all of a row.
  if (masked) {
    for (size_t i = 0; i < x.size(); i += 7) x[i] = i % 2 ? -kInf : -1e9f;
  }
  return x;
}

TEST(X86Softmax, MatchesTheReference) {
  const std::vector<Shape3> shapes = {{5, 1, 1},  {7, 3, 1},   {9, 10, 1},   {4, 15, 1},
                                      {4, 16, 1}, {3, 17, 1},  {64, 50, 1},  {5, 31, 1},
                                      {5, 64, 1}, {3, 100, 1}, {2, 1000, 1}, {2, 4, 16},
                                      {3, 5, 17}, {2, 50, 40}, {1, 7, 64},   {2, 1, 33}};
  for (const Variant& v : runnable_variants()) {
    double worst = 0;
    for (const Shape3& s : shapes) {
      for (bool masked : {false, true}) {
        if (masked && s.outer * s.axis * s.inner < 8) continue;
        const std::vector<float> x = scores(s, 11, masked && s.axis > 7);
        std::vector<float> want(x.size()), got(x.size(), std::nanf(""));
        ref::softmax<float>({ref::SoftmaxKind::kSoftmax, s.outer, s.axis, s.inner}, x.data(),
                            want.data());
        // The exact value, in double, for the bound.
        std::vector<double> exact(x.size());
        for (int64_t o = 0; o < s.outer; ++o) {
          for (int64_t in = 0; in < s.inner; ++in) {
            const auto at = [&](int64_t a) { return (o * s.axis + a) * s.inner + in; };
            double max = -kInf, sum = 0;
            for (int64_t a = 0; a < s.axis; ++a) max = std::max(max, double{x[at(a)]});
            for (int64_t a = 0; a < s.axis; ++a) sum += std::exp(x[at(a)] - max);
            for (int64_t a = 0; a < s.axis; ++a) exact[at(a)] = std::exp(x[at(a)] - max) / sum;
          }
        }
        v.softmax(x.data(), got.data(), s.outer, s.axis, s.inner);
        for (size_t i = 0; i < x.size(); ++i) {
          const double error = std::abs(got[i] - exact[i]);
          worst = std::max(worst, error / tolerance(exact[i], s.axis));
          ASSERT_LE(error, tolerance(exact[i], s.axis))
              << v.isa << " [" << s.outer << ", " << s.axis << ", " << s.inner << "] at " << i
              << (masked ? " (masked)" : "") << ": " << got[i] << " vs " << exact[i];
          ASSERT_NEAR(got[i], want[i], 2 * tolerance(exact[i], s.axis)) << v.isa;
        }
      }
    }
    std::printf("%s: worst error %.2f of the bound\n", v.isa.c_str(), worst);
  }
}

TEST(X86Softmax, RowsInPlaceGiveTheSameBits) {
  for (const Variant& v : runnable_variants()) {
    for (const Shape3 s : {Shape3{6, 50, 1}, Shape3{4, 9, 1}, Shape3{3, 32, 1}}) {
      const std::vector<float> x = scores(s, 5, false);
      std::vector<float> y(x.size());
      v.softmax(x.data(), y.data(), s.outer, s.axis, 1);
      std::vector<float> z = x;
      v.softmax(z.data(), z.data(), s.outer, s.axis, 1);
      EXPECT_EQ(y, z) << v.isa << " rows of " << s.axis;
    }
  }
}

TEST(X86Softmax, EdgeRows) {
  for (const Variant& v : runnable_variants()) {
    // Huge values (the maximum is subtracted first), a single −inf, equal values, a NaN.
    std::vector<float> x(4 * 20);
    for (int i = 0; i < 20; ++i) {
      x[i] = 3e38f - static_cast<float>(i) * 1e37f;
      x[20 + i] = i == 3 ? -kInf : 1.f;
      x[40 + i] = -5.f;
      x[60 + i] = i == 11 ? std::numeric_limits<float>::quiet_NaN() : 0.f;
    }
    std::vector<float> y(x.size());
    v.softmax(x.data(), y.data(), 4, 20, 1);
    EXPECT_FLOAT_EQ(y[0], 1.f) << v.isa;
    EXPECT_EQ(y[1], 0.f) << v.isa;
    EXPECT_EQ(y[23], 0.f) << v.isa;
    EXPECT_FLOAT_EQ(y[24], 1.f / 19) << v.isa;
    for (int i = 40; i < 60; ++i) EXPECT_FLOAT_EQ(y[i], 1.f / 20) << v.isa;
    EXPECT_TRUE(std::isnan(y[71])) << v.isa;
  }
}

// A Softmax node in a session runs on these loops (rows, and an inner axis of 16 or more), and
// matches the reference session.
TEST(X86Softmax, ChosenForSoftmaxNodes) {
  for (const auto& [shape, axis, impl] :
       {std::tuple{Shape{32, 4, 50, 50}, int64_t{-1}, "x86:softmax_rows"},
        std::tuple{Shape{2, 5, 40}, int64_t{1}, "x86:softmax_columns"}}) {
    Model m;
    m.graph.opsets[""] = 17;
    m.graph.inputs = {"x"};
    m.graph.values["x"] = ValueInfo{DType::kFloat32, symbolic(shape), ""};
    m.graph.nodes.push_back(testing::make_node("Softmax", {"x"}, {"y"}, {{"axis", axis}}));
    m.graph.outputs = {"y"};
    const Tensor x = testing::random_tensor(shape, 3, -20.f, 20.f);
    SessionOptions ref_options;
    ref_options.fast_kernels = false;
    const auto want = Session(m, ref_options).run({x});
    Session fast(m, SessionOptions{});
    const auto got = fast.run({x});
    EXPECT_TRUE(testing::tensors_near(got[0], want[0], 1e-6, 1e-5));
    bool chosen = false;
    for (const StepInfo& s : fast.plan_steps({shape})) chosen |= s.impl == impl;
    EXPECT_TRUE(chosen) << impl;
  }
}

}  // namespace
}  // namespace quench::x86
