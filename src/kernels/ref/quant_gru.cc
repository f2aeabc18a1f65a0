#include "kernels/ref/quant_gru.h"

#include <algorithm>

#include "core/requantize.h"
#include "kernels/ref/dynamic_rows.h"
#include "kernels/ref/rnn.h"

namespace quench::ref {
namespace {

size_t aligned(size_t bytes) { return (bytes + 63) / 64 * 64; }

// The scratch of one direction, carved in this order.
struct Buffers {
  int16_t* x_centered;   // [rows, input]: the quantized input rows minus their zero point
  float* projection;     // [rows, 3h]: X·Wᵀ of every row, scaled (eq. (136))
  int16_t* h_centered;   // [batch, hidden]: the quantized hidden state minus its zero point
  float* recurrent;      // [batch, 3h]: the scaled recurrent sums of one step
  float* hidden;         // [batch, hidden]
  float* reset_hidden;   // [batch, hidden]: rt (.) Ht-1 (linear_before_reset = 0)
  int16_t* rh_centered;  // [batch, hidden]: its quantization minus the zero point
};

constexpr int kBufferCount = 7;

size_t buffer_sizes(const QuantGruSizes& s, size_t* sizes) {
  const size_t rows = static_cast<size_t>(s.seq_length * s.batch);
  const size_t states = static_cast<size_t>(s.batch * s.hidden_size);
  const size_t gate_rows = static_cast<size_t>(3 * s.hidden_size);
  sizes[0] = aligned(rows * s.input_size * sizeof(int16_t));
  sizes[1] = aligned(rows * gate_rows * sizeof(float));
  sizes[2] = aligned(states * sizeof(int16_t));
  sizes[3] = aligned(s.batch * gate_rows * sizeof(float));
  sizes[4] = sizes[5] = aligned(states * sizeof(float));
  sizes[6] = aligned(states * sizeof(int16_t));
  size_t total = 0;
  for (int i = 0; i < kBufferCount; ++i) total += sizes[i];
  return total;
}

Buffers carve(const QuantGruSizes& s, void* scratch) {
  size_t sizes[kBufferCount];
  buffer_sizes(s, sizes);
  char* at = static_cast<char*>(scratch);
  Buffers b;
  b.x_centered = reinterpret_cast<int16_t*>(at);
  b.projection = reinterpret_cast<float*>(at += sizes[0]);
  b.h_centered = reinterpret_cast<int16_t*>(at += sizes[1]);
  b.recurrent = reinterpret_cast<float*>(at += sizes[2]);
  b.hidden = reinterpret_cast<float*>(at += sizes[3]);
  b.reset_hidden = reinterpret_cast<float*>(at += sizes[4]);
  b.rh_centered = reinterpret_cast<int16_t*>(at + sizes[5]);
  return b;
}

// float(Σ a·w) · (scale · scales[row]) for `rows` rows of `w` [rows, n] (eqs. (136), (137)).
void scaled_sums(const int16_t* a, const int16_t* w, int64_t rows, int64_t n, float scale,
                 const float* scales, float* out) {
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t acc = centered_dot(a, w + row * n, n);
    out[row] = static_cast<float>(wrap_to_int32(acc)) * (scale * scales[row]);
  }
}

}  // namespace

size_t quant_gru_scratch_bytes(const QuantGruSizes& s) {
  size_t sizes[kBufferCount];
  return buffer_sizes(s, sizes);
}

void quant_gru_direction(const RnnAttributes& attrs, const QuantGruSizes& s, int64_t direction,
                         const QuantGruWeights& w, const QuantGruIo& io, void* scratch) {
  const Buffers buf = carve(s, scratch);
  const int64_t hidden_size = s.hidden_size, gate_rows = 3 * hidden_size;
  const bool linear_before_reset = attrs.linear_before_reset;
  auto length_of = [&](int64_t batch) { return io.lengths ? io.lengths[batch] : s.seq_length; };
  int64_t max_length = 0;
  for (int64_t batch = 0; batch < s.batch; ++batch)
    max_length = std::max(max_length, length_of(batch));

  // Eq. (136): the rows of the first max_length steps quantized together.
  const int64_t rows = max_length * s.batch;
  const float x_scale = quantize_centered(io.x, rows * s.input_size, buf.x_centered);
  for (int64_t row = 0; row < rows; ++row) {
    scaled_sums(buf.x_centered + row * s.input_size, w.input, gate_rows, s.input_size, x_scale,
                w.input_scales, buf.projection + row * gate_rows);
  }

  const int64_t states = s.batch * hidden_size;
  if (io.initial_h) {
    std::copy(io.initial_h, io.initial_h + states, buf.hidden);
  } else {
    std::fill(buf.hidden, buf.hidden + states, 0.f);
  }
  auto activate = [&](int index, float pre_activation) {
    const float clipped = std::clamp(pre_activation, -attrs.clip, attrs.clip);
    return apply_activation(attrs.activation(direction, index), clipped);
  };
  auto time_of = [&](int64_t batch, int64_t step) {
    const int64_t length = length_of(batch);
    return attrs.reversed(direction) ? length - 1 - step : step;
  };
  // Rows without linear_before_reset take only z and r from H·Rᵀ; the h rows come from the
  // second product (eq. (138)).
  const int64_t recurrent_rows = linear_before_reset ? gate_rows : 2 * hidden_size;
  for (int64_t step = 0; step < max_length; ++step) {
    // Eq. (137): the batch's whole hidden state (rows whose sequence ended keep their last state)
    // quantized together before the step.
    const float h_scale = quantize_centered(buf.hidden, states, buf.h_centered);
    for (int64_t batch = 0; batch < s.batch; ++batch) {
      float* reset_hidden = buf.reset_hidden + batch * hidden_size;
      if (step >= length_of(batch)) {
        // Zeros: a finished row leaves the range of rt (.) Ht-1 (eq. (138)) as it is.
        std::fill(reset_hidden, reset_hidden + hidden_size, 0.f);
        continue;
      }
      const float* projection =
          buf.projection + (time_of(batch, step) * s.batch + batch) * gate_rows;
      float* recurrent = buf.recurrent + batch * gate_rows;
      scaled_sums(buf.h_centered + batch * hidden_size, w.recurrent, recurrent_rows, hidden_size,
                  h_scale, w.recurrent_scales, recurrent);
      // zt, rt = f(clip((G_x + G_h) + (Wb + Rb))), the fast kernel's order.
      for (int64_t row = 0; row < 2 * hidden_size; ++row) {
        recurrent[row] = activate(0, (projection[row] + recurrent[row]) + w.bias[row]);
      }
      const float* reset = recurrent + hidden_size;
      const float* hidden = buf.hidden + batch * hidden_size;
      for (int64_t unit = 0; unit < hidden_size && !linear_before_reset; ++unit) {
        reset_hidden[unit] = reset[unit] * hidden[unit];
      }
    }
    float rh_scale = 0.f;
    if (!linear_before_reset) {
      rh_scale = quantize_centered(buf.reset_hidden, states, buf.rh_centered);
    }
    for (int64_t batch = 0; batch < s.batch; ++batch) {
      if (step >= length_of(batch)) continue;
      const int64_t time = time_of(batch, step);
      const float* projection = buf.projection + (time * s.batch + batch) * gate_rows;
      float* recurrent = buf.recurrent + batch * gate_rows;
      const float* update = recurrent;
      const float* reset = recurrent + hidden_size;
      float* candidate = recurrent + 2 * hidden_size;
      if (!linear_before_reset) {
        // (rt (.) Ht-1)·Rhᵀ on the quantized product (eq. (138)).
        scaled_sums(buf.rh_centered + batch * hidden_size,
                    w.recurrent + 2 * hidden_size * hidden_size, hidden_size, hidden_size, rh_scale,
                    w.recurrent_scales + 2 * hidden_size, candidate);
      }
      float* hidden = buf.hidden + batch * hidden_size;
      for (int64_t unit = 0; unit < hidden_size; ++unit) {
        const int64_t row = 2 * hidden_size + unit;
        const float input_part = projection[row] + w.bias[row];
        const float pre =
            linear_before_reset
                ? input_part + reset[unit] * (candidate[unit] + w.recurrent_hidden_bias[unit])
                : input_part + candidate[unit];
        const float h = activate(1, pre);
        hidden[unit] = (1.f - update[unit]) * h + update[unit] * hidden[unit];
      }
      if (io.y)
        std::copy(hidden, hidden + hidden_size,
                  io.y + time * io.y_time_stride + batch * hidden_size);
    }
  }

  finish_sequences(io.lengths, s.batch, s.seq_length, hidden_size, io.y, io.y_time_stride,
                   {{buf.hidden, io.y_h}});
}

}  // namespace quench::ref
