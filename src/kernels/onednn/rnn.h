#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// RNN, GRU and LSTM on float32 with constant W, R and B: the input projection of every time step
// as one oneDNN matmul, then per step the product H·Rᵀ (a oneDNN matmul, or a packed GEMV at
// batch 1; two products for GRU with linear_before_reset = 0) and the element-wise cell update.
// Every attribute and optional input the reference supports; nullptr when W, R or B is only known
// at run time, or when a sequence, batch or input size is 0.
std::unique_ptr<Kernel> make_rnn(KernelContext& ctx);

}  // namespace quench::onednn
