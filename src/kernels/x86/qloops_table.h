// The int8 loops of one instruction set, as function pointers (qloops_impl.h fills the table,
// qloops.cc picks one). Types only: no code, so every ISA's file may include it.
#pragma once

#include <cstdint>

namespace quench::x86 {

struct QLoops {
  template <class Q>
  using Quantize = void (*)(const float* x, Q* y, int64_t count, float scale, int32_t zero_point);
  template <class Q>
  using Dequantize = void (*)(const Q* x, float* y, int64_t count, float scale, int32_t zero_point);
  template <class Q>
  using AddRequantize = void (*)(const Q* a, const Q* b, Q* y, int64_t count, int32_t a_zero_point,
                                 float a_ratio, int32_t b_zero_point, float b_ratio,
                                 int32_t y_zero_point);
  template <class Q>
  using MulRequantize = void (*)(const Q* a, const Q* b, Q* y, int64_t count, int32_t a_zero_point,
                                 int32_t b_zero_point, float multiplier, int32_t y_zero_point);
  template <class Q>
  using Requantize = void (*)(const int32_t* acc, Q* y, int64_t count, float multiplier,
                              int32_t zero_point);

  Quantize<uint8_t> quantize_u8 = nullptr;
  Quantize<int8_t> quantize_s8 = nullptr;
  Dequantize<uint8_t> dequantize_u8 = nullptr;
  Dequantize<int8_t> dequantize_s8 = nullptr;
  void (*range_with_zero)(const float* x, int64_t count, float& min, float& max) = nullptr;
  AddRequantize<uint8_t> add_requantize_u8 = nullptr;
  AddRequantize<int8_t> add_requantize_s8 = nullptr;
  MulRequantize<uint8_t> mul_requantize_u8 = nullptr;
  MulRequantize<int8_t> mul_requantize_s8 = nullptr;
  Requantize<uint8_t> requantize_u8 = nullptr;
  Requantize<int8_t> requantize_s8 = nullptr;
  void (*fake_quantize)(const float* x, float* y, int64_t count, float scale, float zero_point,
                        float qmin, float qmax) = nullptr;
  void (*fake_quantize_grad)(const float* x, const float* dy, float* dx, int64_t count, float scale,
                             float zero_point, float qmin, float qmax, double& dscale,
                             double& dzero_point) = nullptr;
};

}  // namespace quench::x86
