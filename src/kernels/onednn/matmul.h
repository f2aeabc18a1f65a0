#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// Gemm/FusedGemm and MatMul/FusedMatMul on float32 through oneDNN's matmul: constant weights
// packed once (alpha folded in), bias and activation fused; MatMul of two run-time operands
// (attention) as a batched matmul with broadcasting. nullptr for other configurations.
std::unique_ptr<Kernel> make_gemm(KernelContext& ctx);
std::unique_ptr<Kernel> make_matmul(KernelContext& ctx);

}  // namespace quench::onednn
