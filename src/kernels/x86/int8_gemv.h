// y = x·W for one or a few u8 rows x and constant s8 W [k, n], with zero points, on AVX-512 VNNI:
// the recurrent products of DynamicQuantizeLSTM at batch 1 (onednn/quant_lstm.cc) and of the
// integer GRU (quant_gru.cc), where a oneDNN matmul call costs more than its arithmetic. Only
// where the CPU has AVX-512 VNNI (available()); elsewhere PackedInt8GemvAvx2 below (AVX2, exact
// 16-bit products).
#pragma once

#include <cstdint>
#include <vector>

namespace quench::x86 {

namespace avx512vnni {
constexpr int64_t kRows = 4;  // rows the loop takes at a time
// acc[i][c] = Σ_k (x[i][k] − x_zero_point)(w[k][c] − w_zero_point) for the m rows of x [m, k]
// and `packed` as PackedInt8Gemv packs w (column_sums: Σ_k w[k][c]); acc [m, n] row-major.
void gemm_u8s8(const uint8_t* x, int64_t m, int64_t k, const int8_t* packed, int64_t n,
               int32_t x_zero_point, int32_t w_zero_point, const int32_t* column_sums,
               int32_t* acc);
}  // namespace avx512vnni

// u8 x s8 -> s32 with vpdpbusd (4 products summed per int32 lane, no saturation), weights packed
// as [n / 64][k / 4][4 blocks][16 columns][4 taps] (each tile of 64 columns one stream, which the
// loop prefetches 2 KiB ahead of its reads) and the last n % 64 columns as [k / 4][16][4] per
// block of 16. The zero points are applied afterwards:
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
  void multiply(const uint8_t* x, int32_t x_zero_point, int32_t* acc) const {
    multiply_rows(x, 1, x_zero_point, acc);
  }

  // The same for m rows: x [m, k] and acc [m, n], row-major. Rows go through the loop
  // avx512vnni::kRows at a time, each weight vector loaded once for all of them.
  void multiply_rows(const uint8_t* x, int64_t m, int32_t x_zero_point, int32_t* acc) const {
    avx512vnni::gemm_u8s8(x, m, k_, packed_.data(), n_, x_zero_point, w_zero_point_,
                          column_sums_.data(), acc);
  }

 private:
  int64_t k_, n_;
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

}  // namespace quench::x86
