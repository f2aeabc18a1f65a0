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
void register_quant_ops(OpRegistry& r);
void register_fused_ops(OpRegistry& r);  // after the base ops
void register_gelu_op(OpRegistry& r);

}  // namespace quench
