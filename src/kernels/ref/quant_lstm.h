// Reference kernel of com.microsoft DynamicQuantizeLSTM: the ONNX LSTM (ops/rnn.h attributes,
// layout 0) with 8-bit W and R, run the way ONNX Runtime runs it (docs/quantization.md, eq. (44)):
// the input rows of all steps are quantized together to u8 with dynamic parameters (eq. (37)),
// and so is the batch's hidden state before each step; the products are exact integer sums,
// scaled to float with s_x · s_w per gate row; the gate and cell math is the float LSTM's.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/ref/rnn_attributes.h"

namespace quench::ref {

struct QuantLstmSizes {
  int64_t seq_length = 0;
  int64_t batch = 0;
  int64_t input_size = 0;
  int64_t hidden_size = 0;
};

// One direction's weights. Gate rows are in ONNX order (i, o, f, c), 4 * hidden_size of them.
struct QuantLstmWeights {
  const int16_t* input;       // W − z_W, [4h, input_size] (row r: the weights of gate row r)
  const int16_t* recurrent;   // R − z_R, [4h, hidden_size]
  const float* input_scales;  // s_W per gate row
  const float* recurrent_scales;
  const float* bias;      // Wb + Rb per gate row, or nullptr
  const float* peephole;  // P [3h] (i, o, f), or nullptr
};

// Per-direction inputs and outputs; absent ones are nullptr. Layout 0: X [seq, batch, input],
// Y [seq, dirs, batch, hidden], states [dirs, batch, hidden] (pointers already at this direction).
struct QuantLstmIo {
  const float* x;
  const int32_t* lengths;  // [batch], each in [0, seq_length] (checked by the caller)
  const float* initial_h;
  const float* initial_c;
  float* y;
  int64_t y_time_stride;  // elements between time steps of Y
  float* y_h;
  float* y_c;
};

// Scratch floats and int16s one direction needs (the caller provides them, 64-byte aligned).
size_t quant_lstm_scratch_bytes(const QuantLstmSizes& s);

void quant_lstm_direction(const RnnAttributes& attrs, const QuantLstmSizes& s, int64_t direction,
                          const QuantLstmWeights& w, const QuantLstmIo& io, void* scratch);

}  // namespace quench::ref
