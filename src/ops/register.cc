#include "ops/register.h"

namespace quench {

void register_builtin_ops(OpRegistry& r) {
  register_elementwise_ops(r);
  register_shape_ops(r);
  register_conv_ops(r);
  register_pool_ops(r);
  register_norm_ops(r);
  register_linalg_ops(r);
  register_reduce_ops(r);
  register_rnn_ops(r);
  register_fused_ops(r);
  register_internal_activation_ops(r);
  register_quantize_linear_ops(r);
  register_integer_ops(r);
  register_qlinear_ops(r);
  register_ms_elementwise_ops(r);
  register_ms_gemm_pool_ops(r);
  register_ms_lstm_op(r);
  register_ms_matmul_nbits_op(r);
  register_ms_matmul_integer_to_float_op(r);
  register_qlookup_op(r);
  register_dynamic_gru_op(r);
  register_qfused_ops(r);
}

}  // namespace quench
