// DynamicQuantizeGRU (ops/quantized/dynamic_gru.h; docs/quantization.md, eqs. (136)-(138)) on
// quench's exact AVX2 int8 products, the ones the dynamic LSTM runs where oneDNN's are inexact:
// the quantized input rows of every step times W in one product per direction (int8_matmul.h),
// then per step the quantized hidden state times R (and, with linear_before_reset = 0, the
// quantized rt (.) Ht-1 times Rh), a packed GEMV at batch 1 (int8_gemv.h, eq. (135)). The scaling
// and the additions are in the reference kernel's order (kernels/ref/quant_gru.cc); the gate math
// is the float GRU's cell (rnn_cell.h). nullptr (the reference runs) without AVX2 or where the
// floating-point rounding mode is not round-half-to-even.
#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::x86 {

std::unique_ptr<Kernel> make_quant_gru(KernelContext& ctx);

}  // namespace quench::x86
