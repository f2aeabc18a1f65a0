// The histogram range rules (docs/quantization.md eqs. (10)-(18)) against brute-force references
// on known distributions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "calib/float_histogram.h"
#include "calib/range_rules.h"
#include "quench/calibration.h"

namespace quench::calib {
namespace {

std::vector<float> uniform(int count, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> values(count);
  for (float& v : values) v = dist(rng);
  return values;
}

std::vector<float> gaussian(int count, float sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, sigma);
  std::vector<float> values(count);
  for (float& v : values) v = dist(rng);
  return values;
}

// Student's t with 3 degrees of freedom: heavy tails.
std::vector<float> heavy_tailed(int count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> dist(3.f);
  std::vector<float> values(count);
  for (float& v : values) v = dist(rng);
  return values;
}

std::vector<float> relu(std::vector<float> values) {
  for (float& v : values) v = std::max(v, 0.f);
  return values;
}

CalibratedRange observe_range(const std::vector<float>& values, ObserverConfig config) {
  Observer observer(config);
  // Several batches, as a calibrator would send them.
  const int64_t batch = 4096;
  for (int64_t start = 0; start < int64_t(values.size()); start += batch) {
    observer.observe(values.data() + start, std::min<int64_t>(batch, values.size() - start));
  }
  return observer.range();
}

ObserverConfig config_of(CalibrationMethod method) {
  ObserverConfig config;
  config.method = method;
  return config;
}

double grid_bin_width(double value) {
  const auto interval = FloatHistogram::bin_interval(FloatHistogram::bin_of(float(value)));
  return interval.hi - interval.lo;
}

// The value of rank fraction·N among the sorted values.
float sorted_quantile(std::vector<float> values, double fraction) {
  std::sort(values.begin(), values.end());
  const auto rank = int64_t(std::ceil(fraction * double(values.size())));
  return values[std::clamp<int64_t>(rank - 1, 0, int64_t(values.size()) - 1)];
}

// ----- percentile, eqs. (11)-(12)

TEST(CalibPercentile, UniformMatchesTheAnalyticQuantileWithinOneGridBin) {
  const auto values = uniform(1000000, -1.f, 3.f, 11);
  ObserverConfig config = config_of(CalibrationMethod::kPercentile);
  config.percentile = 99.0;
  const CalibratedRange range = observe_range(values, config);
  // Quantiles 0.5% and 99.5% of U(-1, 3); the sampling error of such a quantile with 10^6
  // values is 4·sqrt(0.005/10^6) = 3e-4, so allow one grid bin plus 5 of those.
  const double sampling = 5 * 4 * std::sqrt(0.005 / 1e6);
  EXPECT_NEAR(range.min, -0.98, grid_bin_width(-0.98) + sampling);
  EXPECT_NEAR(range.max, 2.98, grid_bin_width(2.98) + sampling);
}

TEST(CalibPercentile, MatchesTheSortedQuantileWithinOneGridBin) {
  auto values = gaussian(200000, 1.f, 12);
  values.insert(values.end(), {80.f, -95.f, 120.f, 60.f});
  for (const double percentile : {99.99, 99.9, 99.0, 90.0, 50.0}) {
    ObserverConfig config = config_of(CalibrationMethod::kPercentile);
    config.percentile = percentile;
    const CalibratedRange range = observe_range(values, config);
    const double tail = (100 - percentile) / 200;
    const float want_lo = sorted_quantile(values, tail);
    const float want_hi = sorted_quantile(values, 1 - tail);
    EXPECT_NEAR(range.min, want_lo, grid_bin_width(want_lo)) << "percentile " << percentile;
    EXPECT_NEAR(range.max, want_hi, grid_bin_width(want_hi)) << "percentile " << percentile;
  }
}

TEST(CalibPercentile, KeepsTheExtremeOnTheFarSideOfZero) {
  ObserverConfig config = config_of(CalibrationMethod::kPercentile);
  config.percentile = 90;
  const auto positive = relu(gaussian(100000, 2.f, 13));
  const CalibratedRange relu_range = observe_range(positive, config);
  EXPECT_EQ(relu_range.min, 0.f);
  EXPECT_NEAR(relu_range.max, sorted_quantile(positive, 0.95),
              grid_bin_width(sorted_quantile(positive, 0.95)));

  auto negative = uniform(100000, 1.f, 2.f, 14);
  for (float& v : negative) v = -v;
  const CalibratedRange negative_range = observe_range(negative, config);
  EXPECT_EQ(negative_range.max, *std::max_element(negative.begin(), negative.end()));
  EXPECT_NEAR(negative_range.min, -1.95, grid_bin_width(-1.95) + 0.01);
}

TEST(CalibPercentile, HundredIsMinAndMax) {
  const auto values = gaussian(10000, 3.f, 15);
  ObserverConfig config = config_of(CalibrationMethod::kPercentile);
  config.percentile = 100;
  const CalibratedRange range = observe_range(values, config);
  EXPECT_EQ(range.min, *std::min_element(values.begin(), values.end()));
  EXPECT_EQ(range.max, *std::max_element(values.begin(), values.end()));
  // A percentile just below 100 still gives exact extremes when the tail holds under one value.
  config.percentile = 99.99999;
  const CalibratedRange near = observe_range(values, config);
  EXPECT_NEAR(near.max, range.max, grid_bin_width(range.max));
}

// ----- entropy, eqs. (13)-(15)

// Eqs. (13)-(14) written out on normalized distributions, one candidate at a time.
int reference_entropy_threshold(const std::vector<double>& h, int levels) {
  const int bins = int(h.size());
  if (levels >= bins) return bins;
  int best = bins;
  double best_divergence = std::numeric_limits<double>::infinity();
  for (int kept = levels; kept <= bins; ++kept) {
    std::vector<double> p(h.begin(), h.begin() + kept);
    for (int k = kept; k < bins; ++k) p[kept - 1] += h[k];
    std::vector<double> q(kept, 0.0);
    for (int level = 0; level < levels; ++level) {
      const int first = level * kept / levels;
      const int end = (level + 1) * kept / levels;
      double mass = 0;
      int nonempty = 0;
      for (int k = first; k < end; ++k) {
        mass += h[k];
        nonempty += p[k] > 0 ? 1 : 0;
      }
      for (int k = first; k < end; ++k) q[k] = p[k] > 0 ? mass / nonempty : 0.0;
    }
    double p_sum = 0, q_sum = 0;
    for (int k = 0; k < kept; ++k) {
      p_sum += p[k];
      q_sum += q[k];
    }
    bool smoothed = false;
    for (int k = 0; k < kept; ++k) {
      p[k] /= p_sum;
      q[k] = q_sum > 0 ? q[k] / q_sum : 0.0;
      if (p[k] > 0 && q[k] == 0) smoothed = true;
    }
    if (smoothed) {
      for (int k = 0; k < kept; ++k) {
        q[k] = (p[k] > 0 && q[k] == 0) ? kEntropySmoothing : q[k] * (1 - kEntropySmoothing);
      }
    }
    double divergence = 0;
    for (int k = 0; k < kept; ++k) {
      if (p[k] > 0) divergence += p[k] * std::log(p[k] / q[k]);
    }
    // Equal divergences (to rounding) favour the larger threshold: it clips less.
    if (divergence <= best_divergence + kEntropyTieTolerance) {
      best_divergence = std::min(best_divergence, divergence);
      best = kept;
    }
  }
  return best;
}

// The exact linear histogram of |x| over [0, max |x|].
std::vector<double> magnitude_histogram(const std::vector<float>& values, int bins) {
  double top = 0;
  for (const float v : values) top = std::max(top, std::abs(double(v)));
  std::vector<double> h(bins, 0.0);
  for (const float v : values) h[std::min(bins - 1, int(std::abs(double(v)) / top * bins))] += 1;
  return h;
}

TEST(CalibEntropy, ThresholdMatchesTheDirectDefinition) {
  auto with_outliers = gaussian(100000, 1.f, 21);
  with_outliers.insert(with_outliers.end(), {40.f, -45.f, 50.f});
  const std::vector<std::vector<float>> cases = {gaussian(100000, 1.f, 20), with_outliers,
                                                 uniform(50000, -1.f, 1.f, 22),
                                                 relu(heavy_tailed(100000, 23))};
  for (size_t c = 0; c < cases.size(); ++c) {
    const auto h = magnitude_histogram(cases[c], kLinearBins);
    for (const int levels : {256, 16}) {
      EXPECT_EQ(entropy_threshold_bins(h, levels), reference_entropy_threshold(h, levels))
          << "case " << c << ", " << levels << " levels";
    }
  }
  // Fractional counts, as re-binning produces, and a lone isolated bin past a gap.
  std::vector<double> sparse(512, 0.0);
  for (int k = 0; k < 100; ++k) sparse[k] = 1000.0 / (1 + k) + 0.25;
  sparse[400] = 0.5;
  EXPECT_EQ(entropy_threshold_bins(sparse, 256), reference_entropy_threshold(sparse, 256));
}

TEST(CalibEntropy, ClipsAFewHugeOutliers) {
  auto values = gaussian(200000, 1.f, 24);
  values.insert(values.end(), {100.f, -90.f, 95.f, 99.f});
  const CalibratedRange range = observe_range(values, config_of(CalibrationMethod::kEntropy));
  EXPECT_LT(range.max, 10.f);
  EXPECT_GT(range.min, -10.f);
  // Nothing of the Gaussian's body (|x| < 4 sigma) is clipped.
  EXPECT_GT(range.max, 4.f);
  EXPECT_LT(range.min, -4.f);
}

TEST(CalibEntropy, KeepsTheWholeRangeOfAUniformDistribution) {
  const auto values = uniform(200000, -2.f, 2.f, 25);
  const CalibratedRange range = observe_range(values, config_of(CalibrationMethod::kEntropy));
  EXPECT_NEAR(range.max, 2.f, 2.f / kLinearBins * 2);
  EXPECT_NEAR(range.min, -2.f, 2.f / kLinearBins * 2);
}

TEST(CalibEntropy, NonNegativeDataKeepsItsMinimum) {
  const auto values = relu(gaussian(200000, 1.f, 26));
  const CalibratedRange range = observe_range(values, config_of(CalibrationMethod::kEntropy));
  EXPECT_EQ(range.min, 0.f);
  // Half the values are 0: the divergence favours resolution near 0 and clips near 2 sigma.
  EXPECT_GT(range.max, 1.5f);
  EXPECT_LT(range.max, *std::max_element(values.begin(), values.end()));
}

TEST(CalibEntropy, EachSideOfZeroIsSearchedOnItsOwn) {
  // Mostly positive with a few small negatives: the positive side keeps its body; the negative
  // side, searched with its own small share of the levels, stays within the data.
  auto values = relu(gaussian(100000, 4.f, 27));
  for (int i = 0; i < 1000; ++i) values.push_back(-0.01f * float(i % 7));
  const CalibratedRange range = observe_range(values, config_of(CalibrationMethod::kEntropy));
  EXPECT_GE(range.min, *std::min_element(values.begin(), values.end()));
  EXPECT_LT(range.min, 0.f);
  EXPECT_GT(range.max, 6.f);
}

TEST(CalibEntropy, KeepsASpikeOnTheNegativeSide) {
  // A normalized image: 80% background at exactly -0.81, the rest spread over (0, 2]. A
  // symmetric |x| threshold would clip the positive side at 0.81; per side it cannot.
  std::vector<float> values(80000, -0.81f);
  const auto foreground = uniform(20000, 0.01f, 2.f, 28);
  values.insert(values.end(), foreground.begin(), foreground.end());
  const CalibratedRange range = observe_range(values, config_of(CalibrationMethod::kEntropy));
  // Within one grid bin (at most 1.56% of the value wide, eq. (6)) of the spike.
  EXPECT_NEAR(range.min, -0.81f, 0.81f * 0.0156f);
  EXPECT_GT(range.max, 1.9f);
}

// ----- MSE, eqs. (16)-(18)

// Eq. (16) summed bin by bin.
double reference_mse_error(const std::vector<double>& h, int first, int last, double zero,
                           int quant_levels) {
  const double step =
      (std::max(double(last + 1), zero) - std::min(double(first), zero)) / (quant_levels - 1);
  double error = 0;
  for (int k = 0; k < int(h.size()); ++k) {
    if (k < first) {
      const double distance = first - k - 0.5;
      error += h[k] * (distance * distance + 1.0 / 12);
    } else if (k > last) {
      const double distance = k - last - 0.5;
      error += h[k] * (distance * distance + 1.0 / 12);
    } else {
      error += h[k] * step * step / 12;
    }
  }
  return error;
}

// Eq. (18) over the candidates of eq. (17): ranges over the bin holding zero.
MseChoice reference_mse_search(const std::vector<double>& h, double zero, int quant_levels) {
  const int bins = int(h.size());
  const int zero_bin = std::clamp(int(std::floor(zero)), 0, bins - 1);
  MseChoice best{0, 0, std::numeric_limits<double>::infinity()};
  for (int first = 0; first < bins; ++first) {
    for (int last = bins - 1; last >= first; --last) {
      if (first > zero_bin || last < zero_bin) continue;
      const double error = reference_mse_error(h, first, last, zero, quant_levels);
      if (error < best.error) best = {first, last, error};
    }
  }
  return best;
}

// Mean squared error of quantizing `values` to `levels` levels over `range` widened to include
// zero (the quantizer's eqs. (4)-(5)).
double quantization_mse(const std::vector<float>& values, CalibratedRange range, int levels) {
  const double lo = std::min(0.0, double(range.min));
  const double hi = std::max(0.0, double(range.max));
  const double scale = (hi - lo) / (levels - 1);
  const double zero_point = std::nearbyint(-lo / scale);
  double sum = 0;
  for (const float v : values) {
    const double q = std::clamp(std::nearbyint(v / scale) + zero_point, 0.0, double(levels - 1));
    const double error = scale * (q - zero_point) - v;
    sum += error * error;
  }
  return sum / double(values.size());
}

TEST(CalibMse, SearchMatchesTheBinByBinDefinition) {
  // Peaked histograms with noisy tails and a few outlier bins; no empty bins, so no exact ties.
  std::mt19937 rng(31);
  for (int trial = 0; trial < 4; ++trial) {
    std::vector<double> h(120);
    const int peak = 30 + 20 * trial;
    for (int k = 0; k < int(h.size()); ++k) {
      h[k] = std::floor(5000 * std::exp(-std::abs(k - peak) / (4.0 + trial))) + 1 + rng() % 3;
    }
    h[rng() % 120] += 40;
    for (const double zero : {-20.0, 0.0, 50.3, 140.0}) {
      for (const int levels : {256, 16, 4}) {
        const MseChoice fast = mse_search(h, zero, levels);
        const MseChoice reference = reference_mse_search(h, zero, levels);
        const std::string where = "trial " + std::to_string(trial) + ", zero " +
                                  std::to_string(zero) + ", levels " + std::to_string(levels);
        EXPECT_EQ(fast.first, reference.first) << where;
        EXPECT_EQ(fast.last, reference.last) << where;
        EXPECT_NEAR(fast.error, reference.error, 1e-9 * reference.error) << where;
      }
    }
  }
}

TEST(CalibMse, ShrinksHeavyTailsAndLowersTheError) {
  const auto values = heavy_tailed(200000, 32);
  const CalibratedRange full = observe_range(values, config_of(CalibrationMethod::kMinMax));
  const CalibratedRange mse = observe_range(values, config_of(CalibrationMethod::kMse));
  EXPECT_LT(mse.max, full.max * 0.8f);
  EXPECT_GT(mse.min, full.min * 0.8f);
  // The error model of eq. (16) predicts the real quantization error: the chosen range lowers it.
  EXPECT_LT(quantization_mse(values, mse, 256), quantization_mse(values, full, 256) * 0.8);
}

TEST(CalibMse, RangeForAnotherGridIsTheSearchForItsLevels) {
  // range(levels) searches for that grid; range() for the config's. A 16-level grid clips more
  // of the tail and, measured on that grid, loses less than the 256-level range would.
  const auto values = heavy_tailed(200000, 35);
  Observer observer(config_of(CalibrationMethod::kMse));
  observer.observe(values.data(), static_cast<int64_t>(values.size()));
  const CalibratedRange r256 = observer.range(), r16 = observer.range(16);
  EXPECT_EQ(observer.range(256).max, r256.max);
  EXPECT_EQ(observer.range(256).min, r256.min);
  EXPECT_LT(r16.max, r256.max);
  EXPECT_GT(r16.min, r256.min);
  EXPECT_LT(quantization_mse(values, r16, 16), quantization_mse(values, r256, 16) * 0.9);
  Observer minmax(config_of(CalibrationMethod::kMinMax));
  minmax.observe(values.data(), static_cast<int64_t>(values.size()));
  EXPECT_EQ(minmax.range(16).max, minmax.range().max);
}

TEST(CalibMse, KeepsNearlyAllOfAUniformRange) {
  const auto values = uniform(200000, -1.f, 3.f, 33);
  const CalibratedRange range = observe_range(values, config_of(CalibrationMethod::kMse));
  EXPECT_NEAR(range.min, -1.f, 0.01);
  EXPECT_NEAR(range.max, 3.f, 0.01);
}

TEST(CalibMse, NonNegativeDataKeepsItsMinimum) {
  const auto values = relu(heavy_tailed(200000, 34));
  const CalibratedRange range = observe_range(values, config_of(CalibrationMethod::kMse));
  EXPECT_EQ(range.min, 0.f);
  EXPECT_LT(range.max, *std::max_element(values.begin(), values.end()));
}

// ----- every rule

TEST(CalibRules, ConstantTensorGivesItsValue) {
  for (const auto method :
       {CalibrationMethod::kMinMax, CalibrationMethod::kMovingAverage,
        CalibrationMethod::kPercentile, CalibrationMethod::kEntropy, CalibrationMethod::kMse}) {
    for (const float value : {0.f, 2.5f, -3.f, 1e-30f}) {
      const std::vector<float> values(1000, value);
      const CalibratedRange range = observe_range(values, config_of(method));
      EXPECT_EQ(range.min, value) << calibration_method_name(method) << " " << value;
      EXPECT_EQ(range.max, value) << calibration_method_name(method) << " " << value;
    }
  }
}

TEST(CalibRules, RangesStayWithinTheData) {
  auto values = gaussian(50000, 2.f, 35);
  values.push_back(30.f);
  for (const auto method :
       {CalibrationMethod::kPercentile, CalibrationMethod::kEntropy, CalibrationMethod::kMse}) {
    const CalibratedRange range = observe_range(values, config_of(method));
    EXPECT_LE(range.min, range.max) << calibration_method_name(method);
    EXPECT_GE(range.min, *std::min_element(values.begin(), values.end()));
    EXPECT_LE(range.max, 30.f);
  }
}

}  // namespace
}  // namespace quench::calib
