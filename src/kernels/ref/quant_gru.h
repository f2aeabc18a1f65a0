// Reference kernel of quench's dynamically quantized GRU (internal DynamicQuantizeGRU, made by
// passes/lower_dynamic_gru.cc from DequantizeLinear(int8 W, R) -> GRU; docs/quantization.md,
// eqs. (136)-(138)): the input rows of all steps quantized together to u8 with dynamic parameters
// (eq. (37)), the batch's hidden state before each step, and with linear_before_reset = 0 the
// batch's rt (.) Ht-1 too; exact integer sums scaled to float with s · s_W per gate row; the gate
// math is the float GRU's. The fast kernel (kernels/x86/quant_gru.h) keeps its float order.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/ref/rnn_attributes.h"

namespace quench::ref {

struct QuantGruSizes {
  int64_t seq_length = 0;
  int64_t batch = 0;
  int64_t input_size = 0;
  int64_t hidden_size = 0;
};

// One direction's weights, gate rows in ONNX order (z, r, h), 3 * hidden_size of them.
struct QuantGruWeights {
  const int16_t* input;       // W − z_W, [3h, input_size]
  const int16_t* recurrent;   // R − z_R, [3h, hidden_size]
  const float* input_scales;  // s_W per gate row
  const float* recurrent_scales;
  // Added to each gate row's pre-activation, [3h]: Wb + Rb, except Wbh alone for the h rows with
  // linear_before_reset (Rbh then goes inside the reset product, `recurrent_hidden_bias`).
  const float* bias;
  const float* recurrent_hidden_bias;  // Rbh [h] (zeros without B)
};

// Per-direction inputs and outputs (layout 0); absent ones are nullptr. X [seq, batch, input],
// Y [seq, dirs, batch, hidden], states [dirs, batch, hidden] (pointers already at this direction).
struct QuantGruIo {
  const float* x;
  const int32_t* lengths;  // [batch], each in [0, seq_length] (checked by the caller)
  const float* initial_h;
  float* y;
  int64_t y_time_stride;  // elements between time steps of Y
  float* y_h;
};

// Scratch bytes one direction needs (the caller provides them, 64-byte aligned).
size_t quant_gru_scratch_bytes(const QuantGruSizes& s);

void quant_gru_direction(const RnnAttributes& attrs, const QuantGruSizes& s, int64_t direction,
                         const QuantGruWeights& w, const QuantGruIo& io, void* scratch);

}  // namespace quench::ref
