#include "calib/finite_scan.h"

#include <algorithm>
#include <bit>
#include <limits>

namespace quench::calib {
namespace {

// Maps a float's bits to an int32 that orders like the IEEE total order (-0 < +0): negative
// values have their magnitude bits flipped. The map is its own inverse. Integer min/max also
// vectorize, unlike float min/max under strict IEEE semantics.
inline int32_t ordered_key(uint32_t bits) {
  const auto s = static_cast<int32_t>(bits);
  return s ^ ((s >> 31) & 0x7FFFFFFF);
}

inline float from_key(int32_t key) {
  return std::bit_cast<float>(static_cast<uint32_t>(ordered_key(static_cast<uint32_t>(key))));
}

// All ones when the bits are NaN or an infinity (exponent 255), else 0.
inline int32_t nonfinite_mask(uint32_t bits) {
  return -int32_t((bits & 0x7F800000u) == 0x7F800000u);
}

// Values per inner loop, so that its int32 count cannot overflow.
constexpr int64_t kChunk = int64_t(1) << 30;

}  // namespace

FiniteScan scan_finite(const float* values, int64_t count) {
  constexpr int32_t kMaxKey = std::numeric_limits<int32_t>::max();
  constexpr int32_t kMinKey = std::numeric_limits<int32_t>::min();
  int32_t lo = kMaxKey;
  int32_t hi = kMinKey;
  int64_t nonfinite = 0;
  for (int64_t start = 0; start < count; start += kChunk) {
    const int64_t end = std::min(count, start + kChunk);
    int32_t chunk_nonfinite = 0;
    // Branch-free selects so that the loop vectorizes: non-finite values give the neutral key.
    for (int64_t i = start; i < end; ++i) {
      const auto bits = std::bit_cast<uint32_t>(values[i]);
      const int32_t key = ordered_key(bits);
      const int32_t skip = nonfinite_mask(bits);
      lo = std::min(lo, (key & ~skip) | (kMaxKey & skip));
      hi = std::max(hi, (key & ~skip) | (kMinKey & skip));
      chunk_nonfinite -= skip;
    }
    nonfinite += chunk_nonfinite;
  }
  FiniteScan scan;
  scan.nonfinite = nonfinite;
  scan.finite = std::max<int64_t>(count, 0) - nonfinite;
  if (scan.finite > 0) {
    scan.min = from_key(lo);
    scan.max = from_key(hi);
  }
  return scan;
}

float total_order_min(float a, float b) {
  return ordered_key(std::bit_cast<uint32_t>(a)) <= ordered_key(std::bit_cast<uint32_t>(b)) ? a : b;
}

float total_order_max(float a, float b) {
  return ordered_key(std::bit_cast<uint32_t>(a)) >= ordered_key(std::bit_cast<uint32_t>(b)) ? a : b;
}

}  // namespace quench::calib
