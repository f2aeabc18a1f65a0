#include "calib/float_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "core/check.h"
#include "quench/error.h"

namespace quench::calib {
namespace {

constexpr int kGuard = FloatHistogram::kMantissaBins;
constexpr int kStorageCenter = FloatHistogram::kZeroBin + kGuard;
constexpr int kStorageSize = FloatHistogram::kBinCount + 2 * kGuard;
constexpr int kPrefixShift = 23 - kHistogramMantissaBits;  // drops the low mantissa bits
constexpr uint32_t kPrefixMask = (1u << (8 + kHistogramMantissaBits)) - 1;  // exponent and top bits
static_assert(kHistogramMantissaBits >= 1 && kHistogramMantissaBits <= 10,
              "the int32 bin offsets and the storage size assume a small grid");

// Signed distance of the value's bin from the zero bin, eq. (6): the 8 exponent bits and top
// mantissa bits form a magnitude prefix; prefixes of exponent 0 share the zero bin.
// NaN and infinities (exponent 255) land at distances kSideBins + 1 .. kSideBins + kGuard.
inline int signed_offset(uint32_t bits) {
  const int prefix = static_cast<int>((bits >> kPrefixShift) & kPrefixMask);
  const int distance = prefix > kGuard - 1 ? prefix - (kGuard - 1) : 0;
  return (bits >> 31) != 0 ? -distance : distance;
}

}  // namespace

int FloatHistogram::bin_of(float value) {
  return kZeroBin + signed_offset(std::bit_cast<uint32_t>(value));
}

FloatHistogram::Interval FloatHistogram::bin_interval(int bin) {
  QUENCH_CHECK(bin >= 0 && bin < kBinCount, ErrorKind::kInternal, "histogram bin {} out of range",
               bin);
  const int offset = bin - kZeroBin;
  if (offset == 0) {
    const double smallest_normal = std::ldexp(1.0, -126);
    return {-smallest_normal, smallest_normal};
  }
  const int prefix = std::abs(offset) + kGuard - 1;
  const int exponent = prefix >> kHistogramMantissaBits;  // biased
  const int mantissa = prefix & (kMantissaBins - 1);
  const double lo = std::ldexp(1.0 + double(mantissa) / kMantissaBins, exponent - 127);
  const double hi = std::ldexp(1.0 + double(mantissa + 1) / kMantissaBins, exponent - 127);
  return offset > 0 ? Interval{lo, hi} : Interval{-hi, -lo};
}

void FloatHistogram::add(const float* values, int64_t count) {
  if (count <= 0) return;
  if (counts_.empty()) counts_.assign(kStorageSize, 0);
  int64_t* storage = counts_.data() + kStorageCenter;
  // Bins are computed a block at a time (a loop that vectorizes), then counted.
  constexpr int64_t kBlock = 1024;
  int32_t offsets[kBlock];
  for (int64_t start = 0; start < count; start += kBlock) {
    const int64_t size = std::min(kBlock, count - start);
    for (int64_t i = 0; i < size; ++i) {
      offsets[i] = signed_offset(std::bit_cast<uint32_t>(values[start + i]));
    }
    for (int64_t i = 0; i < size; ++i) ++storage[offsets[i]];
  }
  // The guard bins caught the non-finite values; the caller counts those.
  std::fill(counts_.begin(), counts_.begin() + kGuard, 0);
  std::fill(counts_.end() - kGuard, counts_.end(), 0);
}

void FloatHistogram::merge(const FloatHistogram& later) {
  if (later.counts_.empty()) return;
  if (counts_.empty()) {
    counts_ = later.counts_;
    return;
  }
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += later.counts_[i];
}

void FloatHistogram::add_to_bin(int bin, int64_t count) {
  QUENCH_CHECK(bin >= 0 && bin < kBinCount, ErrorKind::kInternal, "histogram bin {} out of range",
               bin);
  if (counts_.empty()) counts_.assign(kStorageSize, 0);
  counts_[bin + kGuard] += count;
}

int64_t FloatHistogram::at(int bin) const {
  if (counts_.empty() || bin < 0 || bin >= kBinCount) return 0;
  return counts_[bin + kGuard];
}

std::vector<std::pair<int, int64_t>> FloatHistogram::nonzero_bins() const {
  std::vector<std::pair<int, int64_t>> bins;
  if (counts_.empty()) return bins;
  for (int bin = 0; bin < kBinCount; ++bin) {
    if (counts_[bin + kGuard] != 0) bins.emplace_back(bin, counts_[bin + kGuard]);
  }
  return bins;
}

}  // namespace quench::calib
