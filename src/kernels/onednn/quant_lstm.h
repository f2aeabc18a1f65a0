#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// com.microsoft DynamicQuantizeLSTM (docs/quantization.md, eq. (44)) on int8 matmuls: the
// quantized input rows of every step times W in one product, the quantized hidden state times R
// per step (at batch 1 a packed VNNI GEMV where the CPU has it), both giving the exact integer sum:
// oneDNN's s32 output (eq. (61)) where its products are exact, else quench's AVX2 products
// (kernels/x86/int8_matmul.h); the scaling and the additions in the reference kernel's order, so
// the pre-activation gates equal its own bit for bit; the cell is the float LSTM's (rnn_cell.h).
// nullptr (the reference runs) unless W, R, B and the scales and zero points of W and R are
// constant, the zero points of W (and of R) are one value, and the products are exact.
std::unique_ptr<Kernel> make_quant_lstm(KernelContext& ctx);

}  // namespace quench::onednn
