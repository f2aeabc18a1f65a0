// The vectorized Erf loop of kernels/x86/erf.h (every instruction-set variant this CPU can run,
// and the one dispatch picks) against the exact erf (std::erf in double), within the stated bound
// kErfMaxAbsError, on a dense sweep and the edge values; and the variants against each other.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/x86/cpu_features.h"
#include "kernels/x86/erf.h"

namespace quench::x86 {
namespace baseline {
ErfLoop erf_loop();
}  // namespace baseline
namespace avx2 {
ErfLoop erf_loop();
}  // namespace avx2

namespace {

std::vector<std::pair<std::string, ErfLoop>> runnable_loops() {
  std::vector<std::pair<std::string, ErfLoop>> out{{"baseline", baseline::erf_loop()},
                                                   {"dispatched", erf_loop()}};
  if (detect_cpu_features().avx2) out.emplace_back("avx2", avx2::erf_loop());
  return out;
}

// Every 2^-12 step of [-8, 8] (where erf bends), random values of ±[1e-30, 1e30], and a length
// that leaves a tail after the vector loop.
std::vector<float> sweep() {
  std::vector<float> x;
  for (int i = -8 * 4096; i <= 8 * 4096; ++i) x.push_back(static_cast<float>(i) / 4096.f);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(-30.f, 30.f);
  for (int i = 0; i < 4099; ++i) {
    const float magnitude = std::pow(10.f, exponent(rng));
    x.push_back(i % 2 ? magnitude : -magnitude);
  }
  return x;
}

TEST(X86Erf, WithinTheStatedBoundOfTheExactErf) {
  const std::vector<float> x = sweep();
  for (const auto& [isa, loop] : runnable_loops()) {
    std::vector<float> y(x.size());
    loop(x.data(), y.data(), static_cast<int64_t>(x.size()));
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double exact = std::erf(static_cast<double>(x[i]));
      const double error = std::abs(static_cast<double>(y[i]) - exact);
      worst = std::max(worst, error);
      ASSERT_LE(error, kErfMaxAbsError) << isa << " at x = " << x[i];
      ASSERT_LE(std::abs(y[i]), 1.f) << isa << " at x = " << x[i];
    }
    std::printf("%s: max |erf error| %.3g (bound %.3g)\n", isa.c_str(), worst,
                static_cast<double>(kErfMaxAbsError));
  }
}

TEST(X86Erf, EdgeValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {0.f,
                                -0.f,
                                inf,
                                -inf,
                                std::numeric_limits<float>::quiet_NaN(),
                                std::numeric_limits<float>::denorm_min(),
                                3.4e38f,
                                -3.4e38f};
  for (const auto& [isa, loop] : runnable_loops()) {
    std::vector<float> y(x.size());
    loop(x.data(), y.data(), static_cast<int64_t>(x.size()));
    EXPECT_EQ(y[0], 0.f) << isa;
    EXPECT_FALSE(std::signbit(y[0])) << isa;
    EXPECT_TRUE(std::signbit(y[1])) << isa << ": erf(-0) is -0";
    EXPECT_EQ(y[2], 1.f) << isa;
    EXPECT_EQ(y[3], -1.f) << isa;
    EXPECT_TRUE(std::isnan(y[4])) << isa;
    EXPECT_GE(y[5], 0.f) << isa;
    EXPECT_LE(y[5], 1e-37f) << isa;
    EXPECT_EQ(y[6], 1.f) << isa;
    EXPECT_EQ(y[7], -1.f) << isa;
  }
}

TEST(X86Erf, InPlaceAndVariantsAgree) {
  const std::vector<float> x = sweep();
  std::vector<float> expected(x.size());
  baseline::erf_loop()(x.data(), expected.data(), static_cast<int64_t>(x.size()));
  for (const auto& [isa, loop] : runnable_loops()) {
    std::vector<float> y = x;
    loop(y.data(), y.data(), static_cast<int64_t>(y.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      // The same float operations in the same order (the build contracts no FMAs): equal bits.
      ASSERT_EQ(y[i], expected[i]) << isa << " at x = " << x[i];
    }
  }
}

}  // namespace
}  // namespace quench::x86
