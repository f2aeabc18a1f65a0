#include "kernels/x86/int8_gemv.h"

#include <algorithm>
#include <cstring>

#include "kernels/x86/cpu_features.h"

namespace quench::x86 {

bool PackedInt8Gemv::available() { return cpu_features().avx512_vnni; }

PackedInt8Gemv::PackedInt8Gemv(const int8_t* w, int64_t k, int64_t n, int32_t w_zero_point)
    : k_(k), n_(n), w_zero_point_(w_zero_point) {
  const int64_t groups = (k + 3) / 4;
  packed_.assign(static_cast<size_t>(n / 16 * groups * 64), 0);
  column_sums_.assign(static_cast<size_t>(n), 0);
  // Tiles of 64 columns interleave their four blocks of 16 group by group, so that the loop
  // reads each tile as one stream; the last n % 64 columns stay block after block.
  const int64_t tiled = n / 64 * 64;
  for (int64_t tap = 0; tap < k; ++tap) {
    for (int64_t column = 0; column < n; ++column) {
      const int8_t v = w[tap * n + column];
      const int64_t lane = (column % 16) * 4 + tap % 4;
      const int64_t at = column < tiled
                             ? ((column / 64 * groups + tap / 4) * 4 + column % 64 / 16) * 64 + lane
                             : (column / 16 * groups + tap / 4) * 64 + lane;
      packed_[at] = v;
      column_sums_[column] += v;
    }
  }
}

}  // namespace quench::x86

namespace quench::x86 {

bool PackedInt8GemvAvx2::available() { return cpu_features().avx2; }

PackedInt8GemvAvx2::PackedInt8GemvAvx2(const int8_t* w, int64_t k, int64_t n, int32_t w_zero_point)
    : k_(k), n_(n), pairs_((k + 1) / 2), w_zero_point_(w_zero_point) {
  packed_.assign(static_cast<size_t>(n / 16 * pairs_ * 32), 0);
  for (int64_t tap = 0; tap < k; ++tap) {
    for (int64_t column = 0; column < n; ++column) {
      packed_[((column / 16 * pairs_ + tap / 2) * 16 + column % 16) * 2 + tap % 2] =
          w[tap * n + column];
    }
  }
}

void PackedInt8GemvAvx2::multiply(const uint8_t* x, int32_t x_zero_point, int32_t* acc) const {
  // Eq. (135): the centered x in int16 pairs, and their sum for the weights' zero point.
  int32_t pairs[kMaxTaps / 2];
  int32_t x_sum = 0;
  for (int64_t pair = 0; pair < pairs_; ++pair) {
    const int32_t even = x[2 * pair] - x_zero_point;
    const int32_t odd = 2 * pair + 1 < k_ ? x[2 * pair + 1] - x_zero_point : 0;
    x_sum += even + odd;
    pairs[pair] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(even)) |
                                       static_cast<uint32_t>(static_cast<uint16_t>(odd)) << 16);
  }
  avx2::gemv_s16s8(pairs, pairs_, packed_.data(), n_, acc);
  const int32_t shift = w_zero_point_ * x_sum;
  for (int64_t column = 0; column < n_; ++column) acc[column] -= shift;
}

}  // namespace quench::x86
