// The integer pieces the reference kernels of the dynamically quantized recurrent ops share
// (quant_lstm.cc, quant_gru.cc): a block of floats quantized with dynamic parameters and
// centered, the exact dot product of two centered rows, and the outputs after the last step.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <utility>

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

// After the last step of one direction, for each sequence of the batch (`lengths` may be null:
// every sequence is `seq_length` long): Y's steps past its end become zeros (Y may be null), and
// each final state — a pair (state [batch, hidden], output [batch, hidden] or null) — is the state
// reached, or zeros for an empty sequence (as the float kernels and ONNX Runtime).
inline void finish_sequences(const int32_t* lengths, int64_t batches, int64_t seq_length,
                             int64_t hidden, float* y, int64_t y_time_stride,
                             std::initializer_list<std::pair<const float*, float*>> final_states) {
  for (int64_t batch = 0; batch < batches; ++batch) {
    const int64_t length = lengths ? lengths[batch] : seq_length;
    for (int64_t time = length; y && time < seq_length; ++time) {
      float* row = y + time * y_time_stride + batch * hidden;
      std::fill(row, row + hidden, 0.f);
    }
    for (auto [state, out] : final_states) {
      if (!out) continue;
      const float* from = state + batch * hidden;
      float* to = out + batch * hidden;
      if (length > 0) {
        std::copy(from, from + hidden, to);
      } else {
        std::fill(to, to + hidden, 0.f);
      }
    }
  }
}

}  // namespace quench::ref
