// Registration of every built-in op family.
#pragma once

namespace quench {

class OpRegistry;

void register_builtin_ops(OpRegistry& r);

// One function per op family (src/ops/<family>.cc).
void register_elementwise_ops(OpRegistry& r);
void register_shape_ops(OpRegistry& r);
void register_conv_ops(OpRegistry& r);
void register_pool_ops(OpRegistry& r);
void register_norm_ops(OpRegistry& r);
void register_linalg_ops(OpRegistry& r);
void register_reduce_ops(OpRegistry& r);
void register_rnn_ops(OpRegistry& r);
void register_fused_ops(OpRegistry& r);  // after the base ops
void register_internal_activation_ops(OpRegistry& r);

// The quantized and integer ops (src/ops/quantized/<family>.cc).
void register_quantize_linear_ops(OpRegistry& r);
void register_integer_ops(OpRegistry& r);
void register_qlinear_ops(OpRegistry& r);
void register_ms_elementwise_ops(OpRegistry& r);
void register_ms_gemm_pool_ops(OpRegistry& r);
void register_ms_lstm_op(OpRegistry& r);
void register_ms_matmul_nbits_op(OpRegistry& r);
void register_ms_matmul_integer_to_float_op(OpRegistry& r);
void register_qlookup_op(OpRegistry& r);      // internal QLookup
void register_dynamic_gru_op(OpRegistry& r);  // internal DynamicQuantizeGRU
void register_qfused_ops(OpRegistry& r);      // after QLinearConv / QLinearMatMul, which they reuse

}  // namespace quench
