#include "kernels/x86/int8_gemm.h"

namespace quench::x86 {
namespace {

// Two centered values as one pair: `low` in the low 16 bits, `high` in the high 16 bits.
int32_t make_pair(int16_t low, int16_t high) {
  return static_cast<int32_t>((static_cast<uint32_t>(static_cast<uint16_t>(high)) << 16) |
                              static_cast<uint16_t>(low));
}

}  // namespace

void pack_a(const int16_t* a, int64_t m, int64_t k, int32_t* out) {
  const int64_t pairs = pair_count(k);
  for (int64_t row = 0; row < m; ++row) {
    const int16_t* src = a + row * k;
    for (int64_t pair = 0; pair < pairs; ++pair) {
      const int64_t even = 2 * pair;
      out[row * pairs + pair] = make_pair(src[even], even + 1 < k ? src[even + 1] : int16_t{0});
    }
  }
}

void pack_b_transposed(const int16_t* b_transposed, int64_t n, int64_t k, int32_t* out) {
  const int64_t pairs = pair_count(k);
  const int64_t panels = round_up(n, kTileCols) / kTileCols;
  for (int64_t panel = 0; panel < panels; ++panel) {
    for (int64_t pair = 0; pair < pairs; ++pair) {
      int32_t* dst = out + (panel * pairs + pair) * kTileCols;
      for (int64_t lane = 0; lane < kTileCols; ++lane) {
        const int64_t col = panel * kTileCols + lane;
        const int64_t even = 2 * pair;
        const int16_t* src = b_transposed + col * k;
        dst[lane] = col < n ? make_pair(src[even], even + 1 < k ? src[even + 1] : int16_t{0}) : 0;
      }
    }
  }
}

PackedA packed_a_view(const int32_t* packed, int64_t k) { return {packed, pair_count(k)}; }

PackedB packed_b_view(const int32_t* packed, int64_t k) {
  return {packed, pair_count(k) * kTileCols};
}

}  // namespace quench::x86
