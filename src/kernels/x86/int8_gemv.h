// y = x·W for one u8 row x and constant s8 W [k, n], with zero points, on AVX-512 VNNI: the
// recurrent product of DynamicQuantizeLSTM at batch 1 (onednn/quant_lstm.cc), where a oneDNN
// matmul call costs more than its arithmetic. Only where the CPU has AVX-512 VNNI (available());
// elsewhere the LSTM uses oneDNN's matmul at every batch size.
#pragma once

#include <cstdint>
#include <vector>

namespace quench::x86 {

// u8 x s8 -> s32 with vpdpbusd (4 products summed per int32 lane, no saturation), weights packed
// as [n / 16][k / 4][16 columns][4 taps]. The zero points are applied afterwards:
// Σ (x − z_x)(w − z_w) = Σ x·w − z_x Σ w − z_w Σ x + k z_x z_w, every term an exact int32 for
// k <= kMaxTaps (the sum itself is bounded by eq. (61), |Σ x·w| <= 255 · 2^15). Needs n a
// multiple of 16 and k <= kMaxTaps.
class PackedInt8Gemv {
 public:
  static constexpr int64_t kMaxTaps = 4096;

  // Whether this CPU runs the kernel (AVX-512 VNNI).
  static bool available();

  PackedInt8Gemv(const int8_t* w, int64_t k, int64_t n, int32_t w_zero_point);

  // acc[n] = Σ_k (x[k] − x_zero_point)(w[k][n] − w_zero_point).
  void multiply(const uint8_t* x, int32_t x_zero_point, int32_t* acc) const;

 private:
  int64_t k_, n_, groups_;
  int32_t w_zero_point_;
  std::vector<int8_t> packed_;
  std::vector<int32_t> column_sums_;
};

namespace avx512vnni {
// acc[n] = Σ_k x[k]·w[k][n] for `packed` as PackedInt8Gemv packs it: `quads` holds x in groups
// of 4 bytes (zeros past k), `groups` of them.
void gemv_u8s8(const int32_t* quads, int64_t groups, const int8_t* packed, int64_t n, int32_t* acc);
}  // namespace avx512vnni

}  // namespace quench::x86
