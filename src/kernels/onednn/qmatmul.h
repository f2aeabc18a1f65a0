#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// QLinearMatMul / QFusedMatMul and com.microsoft QGemm through oneDNN's int8 matmul (see
// qconv.h for the requantization): constant B packed once, or both operands read at run time
// (attention) as a batched matmul with broadcasting. nullptr for configurations the reference
// must run (per-row A parameters, per-column B zero points, parameters not constant, ...).
std::unique_ptr<Kernel> make_qmatmul(KernelContext& ctx);
std::unique_ptr<Kernel> make_qgemm(KernelContext& ctx);

// MatMulInteger: u8/s8 A with a per-tensor zero point constant or at run time (from
// DynamicQuantizeLinear), u8/s8 B with a per-tensor zero point, an exact int32 output (eq. (61)).
std::unique_ptr<Kernel> make_matmul_integer(KernelContext& ctx);

// com.microsoft MatMulIntegerToFloat (eq. (155)): MatMulInteger's operands and exact int32 sums,
// turned into floats in place (s_a · s_b[n] from the scale inputs at every run, the float bias).
std::unique_ptr<Kernel> make_matmul_integer_to_float(KernelContext& ctx);

}  // namespace quench::onednn
