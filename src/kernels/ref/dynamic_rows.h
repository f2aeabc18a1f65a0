// The integer pieces the reference kernels of the dynamically quantized recurrent ops share
// (quant_lstm.cc, quant_gru.cc): a block of floats quantized with dynamic parameters and
// centered, and the exact dot product of two centered rows.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/requantize.h"

namespace quench::ref {

// Quantizes `count` floats together to u8 with dynamic parameters (eq. (37)) and centers them
// (q − z in [−255, 255]); returns the scale.
inline float quantize_centered(const float* x, int64_t count, int16_t* out) {
  float min = 0.f, max = 0.f;
  for (int64_t i = 0; i < count; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
  }
  const DynamicQuantParams p = dynamic_quant_params(min, max);
  for (int64_t i = 0; i < count; ++i) {
    out[i] = static_cast<int16_t>(quantize<uint8_t>(x[i], p.scale, p.zero_point) - p.zero_point);
  }
  return p.scale;
}

// Exact (eq. (34)): |term| <= 255 · 255 < 2^16, so a sum of fewer than 2^15 terms stays below
// 2^31 and is kept in int32, a loop the compiler vectorizes (pairs of int16 products summed into
// int32 lanes); longer sums, up to 2^36 terms, in int64.
inline int64_t centered_dot(const int16_t* a, const int16_t* b, int64_t n) {
  if (n < (int64_t{1} << 15)) {
    int32_t sum = 0;
    for (int64_t k = 0; k < n; ++k) sum += int32_t{a[k]} * b[k];
    return sum;
  }
  int64_t sum = 0;
  for (int64_t k = 0; k < n; ++k) sum += int32_t{a[k]} * b[k];
  return sum;
}

}  // namespace quench::ref
