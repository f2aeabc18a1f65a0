#include "kernels/ref/quant_lstm.h"

#include <algorithm>

#include "core/requantize.h"
#include "kernels/ref/dynamic_rows.h"
#include "kernels/ref/rnn.h"

namespace quench::ref {
namespace {

size_t aligned(size_t bytes) { return (bytes + 63) / 64 * 64; }

// The scratch of one direction, carved in this order.
struct Buffers {
  int16_t* x_centered;  // [rows, input]: the quantized input rows minus their zero point
  float* projection;    // [rows, 4h]: X·Wᵀ of every row
  int16_t* h_centered;  // [batch, hidden]: the quantized hidden state minus its zero point
  float* h_seen;        // [batch, hidden]: the hidden state the quantization sees (see below)
  float* hidden;        // [batch, hidden]
  float* cell;          // [batch, hidden]
};

size_t buffer_sizes(const QuantLstmSizes& s, size_t* sizes) {
  const size_t rows = static_cast<size_t>(s.seq_length * s.batch);
  const size_t states = static_cast<size_t>(s.batch * s.hidden_size);
  sizes[0] = aligned(rows * s.input_size * sizeof(int16_t));
  sizes[1] = aligned(rows * 4 * s.hidden_size * sizeof(float));
  sizes[2] = aligned(states * sizeof(int16_t));
  sizes[3] = sizes[4] = sizes[5] = aligned(states * sizeof(float));
  return sizes[0] + sizes[1] + sizes[2] + sizes[3] + sizes[4] + sizes[5];
}

Buffers carve(const QuantLstmSizes& s, void* scratch) {
  size_t sizes[6];
  buffer_sizes(s, sizes);
  char* at = static_cast<char*>(scratch);
  Buffers b;
  b.x_centered = reinterpret_cast<int16_t*>(at);
  b.projection = reinterpret_cast<float*>(at += sizes[0]);
  b.h_centered = reinterpret_cast<int16_t*>(at += sizes[1]);
  b.h_seen = reinterpret_cast<float*>(at += sizes[2]);
  b.hidden = reinterpret_cast<float*>(at += sizes[3]);
  b.cell = reinterpret_cast<float*>(at + sizes[4]);
  return b;
}

}  // namespace

size_t quant_lstm_scratch_bytes(const QuantLstmSizes& s) {
  size_t sizes[6];
  return buffer_sizes(s, sizes);
}

void quant_lstm_direction(const RnnAttributes& attrs, const QuantLstmSizes& s, int64_t direction,
                          const QuantLstmWeights& w, const QuantLstmIo& io, void* scratch) {
  const Buffers buf = carve(s, scratch);
  const int64_t hidden_size = s.hidden_size, gate_rows = 4 * hidden_size;
  auto length_of = [&](int64_t batch) { return io.lengths ? io.lengths[batch] : s.seq_length; };
  int64_t max_length = 0;
  for (int64_t batch = 0; batch < s.batch; ++batch)
    max_length = std::max(max_length, length_of(batch));

  // The input projection of every row of the first max_length steps, quantized together.
  const int64_t rows = max_length * s.batch;
  const float x_scale = quantize_centered(io.x, rows * s.input_size, buf.x_centered);
  for (int64_t row = 0; row < rows; ++row) {
    const int16_t* x_row = buf.x_centered + row * s.input_size;
    float* projection = buf.projection + row * gate_rows;
    for (int64_t gate = 0; gate < gate_rows; ++gate) {
      const int64_t acc = centered_dot(x_row, w.input + gate * s.input_size, s.input_size);
      projection[gate] = static_cast<float>(wrap_to_int32(acc)) * (x_scale * w.input_scales[gate]);
    }
  }

  const int64_t states = s.batch * hidden_size;
  if (io.initial_h) {
    std::copy(io.initial_h, io.initial_h + states, buf.hidden);
  } else {
    std::fill(buf.hidden, buf.hidden + states, 0.f);
  }
  if (io.initial_c) {
    std::copy(io.initial_c, io.initial_c + states, buf.cell);
  } else {
    std::fill(buf.cell, buf.cell + states, 0.f);
  }

  auto activate = [&](int index, float pre_activation) {
    const float clipped = std::clamp(pre_activation, -attrs.clip, attrs.clip);
    return apply_activation(attrs.activation(direction, index), clipped);
  };
  for (int64_t step = 0; step < max_length; ++step) {
    // The whole batch's hidden state is quantized together before the step. As in ONNX Runtime,
    // which reads it back from Y when Y is an output, a sequence that ended before the previous
    // step contributes zeros.
    std::copy(buf.hidden, buf.hidden + states, buf.h_seen);
    for (int64_t batch = 0; io.y && step > 0 && batch < s.batch; ++batch) {
      if (step - 1 >= length_of(batch)) {
        std::fill(buf.h_seen + batch * hidden_size, buf.h_seen + (batch + 1) * hidden_size, 0.f);
      }
    }
    const float h_scale = quantize_centered(buf.h_seen, states, buf.h_centered);
    for (int64_t batch = 0; batch < s.batch; ++batch) {
      const int64_t length = length_of(batch);
      if (step >= length) continue;
      const int64_t time = attrs.reversed(direction) ? length - 1 - step : step;
      float* projection = buf.projection + (time * s.batch + batch) * gate_rows;
      const int16_t* h_row = buf.h_centered + batch * hidden_size;
      // gates = (X·Wᵀ + H·Rᵀ) + (Wb + Rb), in ONNX Runtime's order; kept in `projection`, whose
      // row this step alone reads.
      for (int64_t gate = 0; gate < gate_rows; ++gate) {
        const int64_t acc = centered_dot(h_row, w.recurrent + gate * hidden_size, hidden_size);
        projection[gate] +=
            static_cast<float>(wrap_to_int32(acc)) * (h_scale * w.recurrent_scales[gate]);
        if (w.bias) projection[gate] += w.bias[gate];
      }
      const float* input_gate = projection;  // ONNX gate order: i, o, f, c
      const float* output_gate = projection + hidden_size;
      const float* forget_gate = projection + 2 * hidden_size;
      const float* cell_gate = projection + 3 * hidden_size;
      float* hidden = buf.hidden + batch * hidden_size;
      float* cell = buf.cell + batch * hidden_size;
      for (int64_t unit = 0; unit < hidden_size; ++unit) {
        const float peephole_i = w.peephole ? w.peephole[unit] : 0.f;
        const float peephole_o = w.peephole ? w.peephole[hidden_size + unit] : 0.f;
        const float peephole_f = w.peephole ? w.peephole[2 * hidden_size + unit] : 0.f;
        const float previous = cell[unit];
        const float i = activate(0, input_gate[unit] + peephole_i * previous);
        const float f =
            attrs.input_forget ? 1.f - i : activate(0, forget_gate[unit] + peephole_f * previous);
        const float c = activate(1, cell_gate[unit]);
        cell[unit] = f * previous + i * c;
        const float o = activate(0, output_gate[unit] + peephole_o * cell[unit]);
        hidden[unit] = o * apply_activation(attrs.activation(direction, 2), cell[unit]);
      }
      if (io.y)
        std::copy(hidden, hidden + hidden_size,
                  io.y + time * io.y_time_stride + batch * hidden_size);
    }
  }

  finish_sequences(io.lengths, s.batch, s.seq_length, hidden_size, io.y, io.y_time_stride,
                   {{buf.hidden, io.y_h}, {buf.cell, io.y_c}});
}

}  // namespace quench::ref
