// A histogram of float values on a fixed, data-independent grid (docs/quantization.md eq. (6)):
// one bin per sign, biased exponent and top kHistogramMantissaBits bits of the mantissa, plus one
// bin for |x| < 2^-126 (zeros and denormals). Every bin of a normal number spans a relative
// width 1/(64 + k) for mantissa prefix k, i.e. between 0.78% and 1.56% of its values. Since the
// grid does not depend on the data, histograms of shards add bin by bin, exactly.
#pragma once

#include <cstdint>
#include <vector>

namespace quench::calib {

inline constexpr int kHistogramMantissaBits = 6;

class FloatHistogram {
 public:
  static constexpr int kMantissaBins = 1 << kHistogramMantissaBits;  // 64
  static constexpr int kSideBins = 254 * kMantissaBins;  // normal exponents 1..254, one sign
  static constexpr int kBinCount = 2 * kSideBins + 1;    // both signs and the zero bin
  static constexpr int kZeroBin = kSideBins;             // bins increase with the value

  // The bin of a finite value, eq. (6).
  static int bin_of(float value);
  // The values a bin holds, as a closed interval (exact in double).
  struct Interval {
    double lo = 0;
    double hi = 0;
  };
  static Interval bin_interval(int bin);

  // Adds the finite values of a batch; NaN and infinities are skipped (they are counted by the
  // caller's finite scan).
  void add(const float* values, int64_t count);
  void merge(const FloatHistogram& later);
  // Adds `count` to one bin (loading a saved state); `bin` must be in [0, kBinCount).
  void add_to_bin(int bin, int64_t count);

  int64_t at(int bin) const;
  // The non-empty bins in increasing order, as (bin, count).
  std::vector<std::pair<int, int64_t>> nonzero_bins() const;

 private:
  // kBinCount bins with kMantissaBins guard bins on each side that catch NaN and infinities
  // during add(); empty until the first value arrives, so non-histogram observers pay nothing.
  std::vector<int64_t> counts_;
};

}  // namespace quench::calib
