// DynamicQuantizeGRU (domain quench.internal): the ONNX GRU (layout 0) with int8 W [dirs, 3h,
// input] and R [dirs, 3h, hidden] (zero point 0) and float scales per direction and gate row
// [dirs, 3h]; inputs X, W, R, B, sequence_lens, initial_h, W_scale, R_scale, outputs Y, Y_h. The
// runtime makes it from DequantizeLinear(int8 W, R) -> GRU (passes/lower_dynamic_gru.cc), so
// that the GRU runs on integer products with its input and hidden state quantized at run time
// (docs/quantization.md, eqs. (136)-(138)). The reference kernel is kernels/ref/quant_gru.h, the
// fast one kernels/x86/quant_gru.h; both build from this plan.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ref/rnn_attributes.h"
#include "ops/op_registry.h"

namespace quench {

enum DynamicGruInput : size_t { kGruWScale = 6, kGruRScale = 7, kGruInputCount = 8 };

// What both kernels need of one node, checked and prepared once.
struct DynamicGruPlan {
  RnnAttributes attrs;
  int64_t seq_length = 0, batch = 0, input_size = 0, hidden_size = 0, dirs = 0;
  const int8_t* w = nullptr;              // [dirs, 3h, input], the constant input
  const int8_t* r = nullptr;              // [dirs, 3h, hidden]
  std::vector<float> w_scales, r_scales;  // [dirs, 3h]
  // [dirs, 3h]: Wb + Rb, except Wbh alone for the h rows with linear_before_reset; zeros
  // without B.
  std::vector<float> bias;
  std::vector<float> recurrent_hidden_bias;  // [dirs, h]: Rbh (zeros without B)
  bool has_sequence_lens = false, has_initial_h = false, has_y = false, has_y_h = false;
  std::string node;  // for errors found while running (bad sequence_lens)
};

// kInvalidModel naming the node when its inputs are not as described above (W, R, the scales and
// B must be constants).
DynamicGruPlan plan_dynamic_gru(const KernelContext& ctx);

// kInvalidArgument unless every length is in [0, seq_length]; returns the largest.
int64_t check_gru_lengths(const DynamicGruPlan& p, const int32_t* lengths);

}  // namespace quench
