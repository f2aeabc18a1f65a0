// The fixed float grid (docs/quantization.md eq. (6)), the histogram on it, the finite scan and
// the linear re-binning (eq. (10)).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "calib/finite_scan.h"
#include "calib/float_histogram.h"
#include "calib/linear_rebin.h"

namespace quench::calib {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kSmallestNormal = std::numeric_limits<float>::min();
constexpr float kLargest = std::numeric_limits<float>::max();
constexpr float kDenormal = std::numeric_limits<float>::denorm_min();

// Finite floats with random bit patterns: every sign, exponent and mantissa.
std::vector<float> random_finite_floats(int count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> values;
  while (int(values.size()) < count) {
    const auto value = std::bit_cast<float>(uint32_t(rng()));
    if (std::isfinite(value)) values.push_back(value);
  }
  return values;
}

int64_t total(const FloatHistogram& histogram) {
  int64_t sum = 0;
  for (const auto& bin : histogram.nonzero_bins()) sum += bin.second;
  return sum;
}

TEST(CalibHistogram, BinsIncreaseWithTheValueAndContainIt) {
  auto values = random_finite_floats(100000, 1);
  std::sort(values.begin(), values.end());
  int previous = 0;
  for (const float value : values) {
    const int bin = FloatHistogram::bin_of(value);
    ASSERT_GE(bin, previous) << value;
    ASSERT_LT(bin, FloatHistogram::kBinCount);
    const auto interval = FloatHistogram::bin_interval(bin);
    ASSERT_LE(interval.lo, value) << "bin " << bin;
    ASSERT_GE(interval.hi, value) << "bin " << bin;
    previous = bin;
  }
}

TEST(CalibHistogram, EdgesOfTheGrid) {
  EXPECT_EQ(FloatHistogram::bin_of(0.f), FloatHistogram::kZeroBin);
  EXPECT_EQ(FloatHistogram::bin_of(-0.f), FloatHistogram::kZeroBin);
  EXPECT_EQ(FloatHistogram::bin_of(kDenormal), FloatHistogram::kZeroBin);
  EXPECT_EQ(FloatHistogram::bin_of(-kSmallestNormal / 2), FloatHistogram::kZeroBin);
  EXPECT_EQ(FloatHistogram::bin_of(kSmallestNormal), FloatHistogram::kZeroBin + 1);
  EXPECT_EQ(FloatHistogram::bin_of(-kSmallestNormal), FloatHistogram::kZeroBin - 1);
  EXPECT_EQ(FloatHistogram::bin_of(kLargest), FloatHistogram::kBinCount - 1);
  EXPECT_EQ(FloatHistogram::bin_of(-kLargest), 0);
  EXPECT_EQ(FloatHistogram::bin_interval(FloatHistogram::kBinCount - 1).hi, std::ldexp(1.0, 128));
  // 1 starts a bin; the bin holds [1, 1 + 1/64).
  const auto one = FloatHistogram::bin_interval(FloatHistogram::bin_of(1.f));
  EXPECT_EQ(one.lo, 1.0);
  EXPECT_EQ(one.hi, 1.0 + 1.0 / 64);
  EXPECT_EQ(FloatHistogram::bin_of(std::nextafter(1.f + 1.f / 64, 0.f)),
            FloatHistogram::bin_of(1.f));
  EXPECT_EQ(FloatHistogram::bin_of(1.f + 1.f / 64), FloatHistogram::bin_of(1.f) + 1);
  const auto zero = FloatHistogram::bin_interval(FloatHistogram::kZeroBin);
  EXPECT_EQ(zero.hi, double(kSmallestNormal));
  EXPECT_EQ(zero.lo, -double(kSmallestNormal));
}

TEST(CalibHistogram, RelativeBinWidthIsBetweenOne128thAndOne64th) {
  for (int bin = 0; bin < FloatHistogram::kBinCount; ++bin) {
    if (bin == FloatHistogram::kZeroBin) continue;
    const auto interval = FloatHistogram::bin_interval(bin);
    const double near_zero = std::min(std::abs(interval.lo), std::abs(interval.hi));
    const double relative = (interval.hi - interval.lo) / near_zero;
    ASSERT_LE(relative, 1.0 / 64) << "bin " << bin;
    ASSERT_GT(relative, 1.0 / 128) << "bin " << bin;
    if (bin + 1 < FloatHistogram::kBinCount && bin + 1 != FloatHistogram::kZeroBin) {
      ASSERT_EQ(interval.hi, FloatHistogram::bin_interval(bin + 1).lo) << "gap after bin " << bin;
    }
  }
}

TEST(CalibHistogram, AddSkipsNonFiniteValuesAndCounts) {
  const std::vector<float> values = {1.f, kNaN, kInf, -kInf, 2.f, 1.001f, -3.f, 0.f};
  FloatHistogram histogram;
  histogram.add(values.data(), int64_t(values.size()));
  EXPECT_EQ(total(histogram), 5);
  EXPECT_EQ(histogram.at(FloatHistogram::bin_of(1.f)), 2);
  EXPECT_EQ(histogram.at(FloatHistogram::bin_of(2.f)), 1);
  EXPECT_EQ(histogram.at(FloatHistogram::bin_of(-3.f)), 1);
  EXPECT_EQ(histogram.at(FloatHistogram::kZeroBin), 1);
  // The guard bins that caught NaN and infinities are cleared: nothing leaks into a later add.
  histogram.add(values.data(), 1);
  EXPECT_EQ(total(histogram), 6);
}

TEST(CalibHistogram, MergeIsTheBinWiseSum) {
  const auto values = random_finite_floats(5000, 2);
  FloatHistogram whole, first, second;
  whole.add(values.data(), 5000);
  first.add(values.data(), 1234);
  second.add(values.data() + 1234, 5000 - 1234);
  FloatHistogram empty;
  first.merge(empty);
  first.merge(second);
  EXPECT_EQ(first.nonzero_bins(), whole.nonzero_bins());
  empty.merge(whole);
  EXPECT_EQ(empty.nonzero_bins(), whole.nonzero_bins());
}

TEST(CalibFiniteScan, ExtremesSkipNonFiniteValues) {
  const std::vector<float> values = {kNaN, 3.f, -kInf, -2.5f, kInf, 7.f, kNaN};
  const FiniteScan scan = scan_finite(values.data(), int64_t(values.size()));
  EXPECT_EQ(scan.finite, 3);
  EXPECT_EQ(scan.nonfinite, 4);
  EXPECT_EQ(scan.min, -2.5f);
  EXPECT_EQ(scan.max, 7.f);

  const std::vector<float> none = {kNaN, kInf};
  const FiniteScan empty = scan_finite(none.data(), 2);
  EXPECT_EQ(empty.finite, 0);
  EXPECT_EQ(empty.nonfinite, 2);
  EXPECT_EQ(scan_finite(nullptr, 0).finite, 0);
}

TEST(CalibFiniteScan, MatchesMinMaxElementOnRandomFloats) {
  const auto values = random_finite_floats(10007, 3);
  const FiniteScan scan = scan_finite(values.data(), int64_t(values.size()));
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  EXPECT_EQ(scan.min, *lo);
  EXPECT_EQ(scan.max, *hi);
  EXPECT_EQ(scan.finite, 10007);
}

TEST(CalibFiniteScan, SignedZerosOrderTotally) {
  const std::vector<float> values = {0.f, -0.f, 0.f};
  const FiniteScan scan = scan_finite(values.data(), 3);
  EXPECT_TRUE(std::signbit(scan.min));
  EXPECT_FALSE(std::signbit(scan.max));
  EXPECT_TRUE(std::signbit(total_order_min(0.f, -0.f)));
  EXPECT_TRUE(std::signbit(total_order_min(-0.f, 0.f)));
  EXPECT_FALSE(std::signbit(total_order_max(-0.f, 0.f)));
  EXPECT_EQ(total_order_min(-1.f, 2.f), -1.f);
  EXPECT_EQ(total_order_max(-1.f, 2.f), 2.f);
}

TEST(CalibLinearRebin, SpreadsEachGridBinUniformly) {
  // 64 values equal to 1.5 sit in the grid bin [1.5, 1.515625), clipped to [min, max] = [1, 1.5]:
  // a point at 1.5, the last linear bin. 1.0's grid bin is clipped to [1, 1 + 1/64].
  std::vector<float> values(64, 1.5f);
  values.push_back(1.f);
  FloatHistogram histogram;
  histogram.add(values.data(), int64_t(values.size()));
  const LinearBins bins{1.0, 0.5 / 32, 32};
  const auto linear = linear_rebin(histogram, 1.f, 1.5f, bins);
  ASSERT_EQ(linear.size(), 32u);
  EXPECT_DOUBLE_EQ(linear[31], 64.0);
  // 1.0's grid bin is 1/64 wide = half a linear bin: all its mass stays in bin 0.
  EXPECT_DOUBLE_EQ(linear[0], 1.0);
  double sum = 0;
  for (const double v : linear) sum += v;
  EXPECT_DOUBLE_EQ(sum, 65.0);

  // A grid bin spanning several linear bins: [2, 2.03125) clipped to max = 2 + 5.5/256 covers
  // 5.5 linear bins of width 1/256.
  FloatHistogram wide;
  const float two = 2.f;
  for (int i = 0; i < 11; ++i) wide.add(&two, 1);
  const float max = 2.f + 5.5f / 256;
  const auto spread = linear_rebin(wide, 2.f, max, LinearBins{2.0, 1.0 / 256, 6});
  for (int k = 0; k < 5; ++k) EXPECT_DOUBLE_EQ(spread[k], 2.0) << k;
  EXPECT_DOUBLE_EQ(spread[5], 1.0);
}

TEST(CalibLinearRebin, MagnitudesFoldTheSigns) {
  const std::vector<float> values = {-1.f, 1.f, -0.5f, 0.f};
  FloatHistogram histogram;
  histogram.add(values.data(), 4);
  const auto linear =
      linear_rebin(histogram, -1.f, 1.f, LinearBins{0.0, 1.0 / 4, 4}, {.magnitudes = true});
  // |x| = 1 twice (grid bin clipped to the point 1: last bin), 0.5 in bin 2, 0 in bin 0.
  EXPECT_DOUBLE_EQ(linear[3], 2.0);
  EXPECT_DOUBLE_EQ(linear[0], 1.0);
  EXPECT_NEAR(linear[2], 1.0, 1e-12);
  const auto without_zeros = linear_rebin(histogram, -1.f, 1.f, LinearBins{0.0, 1.0 / 4, 4},
                                          {.magnitudes = true, .skip_zeros = true});
  EXPECT_DOUBLE_EQ(without_zeros[0], 0.0);
  EXPECT_DOUBLE_EQ(without_zeros[3], 2.0);
}

}  // namespace
}  // namespace quench::calib
