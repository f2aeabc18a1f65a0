// AVX2 versions of two element-wise loops of kernels/onednn/qloops.h, for builds whose own loops
// are not vectorized for the CPU (no AVX-512): QLinearAdd's and QLinearMul's requantization. They
// compute what those loops compute, bit for bit (docs/quantization.md, eqs. (38), (35), (56)).
// Plain C++ declarations; the code is compiled for AVX2 (qloops_avx2.cc) and may only be called
// where x86::cpu_features().avx2.
#pragma once

#include <cstdint>

namespace quench::x86 {

// add_requantize_loop: eq. (56) in chunks of 64, a chunk with a sum within `tie_margin` of a
// half-integer redone by eq. (38) in double; `y` may be `a` or `b`. tie_margin >= 0.
void add_requantize_avx2(const uint8_t* a, const uint8_t* b, uint8_t* y, int64_t count,
                         int32_t a_zero_point, float a_ratio, int32_t b_zero_point, float b_ratio,
                         int32_t y_zero_point, float tie_margin);
void add_requantize_avx2(const int8_t* a, const int8_t* b, int8_t* y, int64_t count,
                         int32_t a_zero_point, float a_ratio, int32_t b_zero_point, float b_ratio,
                         int32_t y_zero_point, float tie_margin);

// mul_requantize_loop: eq. (35) of the products (a − z_a)(b − z_b), exact in int32 and float.
void mul_requantize_avx2(const uint8_t* a, const uint8_t* b, uint8_t* y, int64_t count,
                         int32_t a_zero_point, int32_t b_zero_point, float multiplier,
                         int32_t y_zero_point);
void mul_requantize_avx2(const int8_t* a, const int8_t* b, int8_t* y, int64_t count,
                         int32_t a_zero_point, int32_t b_zero_point, float multiplier,
                         int32_t y_zero_point);

}  // namespace quench::x86
