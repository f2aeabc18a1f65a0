#include "ops/register.h"

#include "ops/quant_ops.h"

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
  register_quant_ops(r);
  register_fused_ops(r);
  quant::register_qfused_ops(r);
  register_gelu_op(r);
  quant::register_qlookup_op(r);
}

}  // namespace quench
