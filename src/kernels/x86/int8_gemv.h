// y = x·W for one u8 row x and constant s8 W [k, n], with zero points, on AVX-512 VNNI: the
// recurrent product of DynamicQuantizeLSTM at batch 1 (onednn/quant_lstm.cc), where a oneDNN
// matmul call costs more than its arithmetic. Only where the CPU has AVX-512 VNNI (available());
// elsewhere PackedInt8GemvAvx2 below (AVX2, exact 16-bit products).
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

// The same product on AVX2 without VNNI, exact (docs/quantization.md eq. (135)): x centered to
// int16 pairs (x − z_x, |v| <= 255), W kept as int8 and widened in registers (vpmovsxbw), so a
// step reads half the bytes of the int16 panels of int8_gemm.h; vpmaddwd adds two products
// (|.| <= 255 · 128 each) into an int32 without saturation, and
// Σ (x − z_x)(w − z_w) = Σ (x − z_x) w − z_w Σ (x − z_x). Weights packed once as
// [n / 16][pairs][16 columns][2 taps] (the last pair's second tap 0 for odd k). Needs n a multiple
// of 16 and k <= kMaxTaps (every sum then fits an int32).
class PackedInt8GemvAvx2 {
 public:
  static constexpr int64_t kMaxTaps = 4096;

  // Whether this CPU runs the kernel (AVX2).
  static bool available();

  PackedInt8GemvAvx2(const int8_t* w, int64_t k, int64_t n, int32_t w_zero_point);

  // acc[n] = Σ_k (x[k] − x_zero_point)(w[k][n] − w_zero_point).
  void multiply(const uint8_t* x, int32_t x_zero_point, int32_t* acc) const;

 private:
  int64_t k_, n_, pairs_;
  int32_t w_zero_point_;
  std::vector<int8_t> packed_;
};

namespace avx2 {
// acc[n] = Σ_p pair(x)[p] · w for `packed` as PackedInt8GemvAvx2 packs it: `pairs` int32 each
// holding two centered int16 values of x (the even tap in the low half).
void gemv_s16s8(const int32_t* pairs, int64_t count, const int8_t* packed, int64_t n, int32_t* acc);
}  // namespace avx2

namespace avx512vnni {
// acc[n] = Σ_k x[k]·w[k][n] for `packed` as PackedInt8Gemv packs it: `quads` holds x in groups
// of 4 bytes (zeros past k), `groups` of them.
void gemv_u8s8(const int32_t* quads, int64_t groups, const int8_t* packed, int64_t n, int32_t* acc);
}  // namespace avx512vnni

}  // namespace quench::x86
