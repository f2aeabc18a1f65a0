// oneDNN int8 kernels for the integer convolutions (qconv.cc: QLinearConv, QFusedConv) and matrix
// products (qmatmul.cc: QLinearMatMul, QFusedMatMul, com.microsoft QGemm), and the requantization
// they share, expressed as oneDNN attributes (docs/quantization.md, eqs. (47)-(49)).
#pragma once

#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <vector>

#include "ir/op_registry.h"

namespace quench::onednn {

// QLinearConv and QFusedConv with u8/s8 activations and constant s8 weights whose zero points are
// 0; nullptr for what the reference must run (other weights, parameters not constant, ...).
std::unique_ptr<Kernel> make_qconv(KernelContext& ctx);

// Eq. (47): the requantization of an int8 primitive, dst = saturate(round(clamp(scales[c]·(acc −
// comp) + sum_scale·(sum − sum_zero_point), low, high)) + dst_zero_point), as oneDNN attributes.
struct Int8Requant {
  std::vector<float> scales;  // output scales: one, or one per output channel
  int32_t src_zero_point = 0;
  int32_t weights_zero_point = 0;  // per tensor (matrix products only)
  int32_t dst_zero_point = 0;
  bool has_sum = false;
  float sum_scale = 1.f;
  int32_t sum_zero_point = 0;
  dnnl::memory::data_type sum_type = dnnl::memory::data_type::undef;
  std::optional<float> low, high;  // clamp bounds in units of the output scale

  // The attributes; `channel_mask` selects the dst dim that per-channel scales run along.
  dnnl::primitive_attr attr(int channel_mask) const;
};

// Reads the parts of QFusedConv / QFusedMatMul after the base op (the sum triple, inputs 9-11,
// and act_min / act_max) into `r`, for an output of scale `y_scale`. False when the sum's
// parameters are not constant or the attributes are invalid (the reference then reports them).
bool read_fused_epilogue(const KernelContext& ctx, float y_scale, Int8Requant& r);

}  // namespace quench::onednn
