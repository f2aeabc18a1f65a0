// oneDNN int8 kernels for the integer convolutions (qconv.cc: QLinearConv, QFusedConv) and matrix
// products (qmatmul.cc: QLinearMatMul, QFusedMatMul, com.microsoft QGemm), ConvInteger and
// MatMulInteger, and what they share: the requantization expressed as oneDNN attributes
// (docs/quantization.md, eqs. (47)-(49)), s8 weights, the exactness bound of eq. (61).
#pragma once

#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "ops/op_registry.h"
#include "ops/quantized/qfused.h"

namespace quench::onednn {

// QLinearConv and QFusedConv with u8/s8 activations and constant s8 weights whose zero points are
// 0; nullptr for what the reference must run (other weights, parameters not constant, ...).
std::unique_ptr<Kernel> make_qconv(KernelContext& ctx);

// ConvInteger: u8/s8 x with a zero point constant or at run time, constant u8/s8 weights whose
// zero point is neutral (0 for s8, 128 for u8: eq. (49)), an exact int32 output (eq. (61)).
std::unique_ptr<Kernel> make_conv_integer(KernelContext& ctx);

// The shape of an int8 convolution as preferred_int8_conv_impls weighs it.
struct Int8ConvLayer {
  int64_t groups = 1, out_channels = 0, in_channels_per_group = 0;
  int64_t taps = 1;           // the kernel's spatial size
  int64_t out_width = 0;      // the output's innermost spatial dim
  int64_t out_positions = 0;  // output positions of one run: batch × output spatial size
  int64_t macs = 0;           // multiply-adds of one run, batch included

  // The layer of weights [O, I/groups, kernel...] giving an output [N, O, spatial...].
  static Int8ConvLayer of(const Shape& weights, const Shape& output, int64_t groups);
};

// The oneDNN implementations an int8 convolution prefers, best first (fragments of their names for
// conv_primitive_desc; empty: oneDNN's own first choice). With AMX int8 tiles (`amx`): the AMX
// brgemm kernels for dense and 1x1 layers of at least 64 products per output (a tile row holds 64
// bytes), the direct AMX kernel for large padded layers with a source zero point (which brgemm
// declines); elsewhere oneDNN's direct jit kernels ("jit_int8") — but its brgemm 1x1 kernel for
// 1x1 layers of few output positions (≤ 64) and many output channels (≥ 512), where the direct
// 1x1 kernel runs at half its speed — and for depthwise layers the direct or the brdgmm kernel by
// output width. The choice is measured, per layer shape, by
// bench/int8_conv_impls.cc (figures in docs/benchmarks.md).
std::span<const std::string_view> preferred_int8_conv_impls(const Int8ConvLayer& layer, bool amx);

// Eq. (47): the requantization of an int8 primitive, dst = saturate(round(clamp(scales[c]·(acc −
// comp) + sum_scale·(sum − sum_zero_point), low, high)) + dst_zero_point), as oneDNN attributes.
struct Int8Requant {
  std::vector<float> scales;  // output scales: one, or one per output channel
  int32_t src_zero_point = 0;
  bool src_zero_point_at_run_time = false;  // DNNL_RUNTIME_S32_VAL (runtime_zero_point.h)
  int32_t weights_zero_point = 0;           // per tensor (matrix products only)
  int32_t dst_zero_point = 0;
  bool has_sum = false;
  float sum_scale = 1.f;
  int32_t sum_zero_point = 0;
  dnnl::memory::data_type sum_type = dnnl::memory::data_type::undef;
  std::optional<float> low, high;  // clamp bounds in units of the output scale
  // Eq. (150): an activation applied in real units. `scales` then give real values (s_x·s_w[c]),
  // and the activation's result is brought to units of the output by `inv_steps` (1/t per
  // channel, a binary_mul post-op on a dst of rank `dst_rank`) before the clamp. A swish with one
  // step t for all channels runs in output steps instead, as oneDNN's swish with alpha t.
  FusedActivation function;
  std::vector<float> inv_steps;  // empty: that swish
  float swish_alpha = 1.f;       // that swish's t
  // Eq. (157): QFusedConv's y_max, constant and of y's type, applied by a pass over the output
  // after the primitive (no post-op: the kernel keeps dst plain or channels last for it).
  bool has_y_max = false;
  int dst_rank = 4;

  // The attributes; `channel_mask` selects the dst dim that per-channel scales run along. With
  // `dst_zero_point_as_post_op`, z_y is added by a last eltwise_linear post-op instead of oneDNN's
  // destination zero point: oneDNN adds either in float before its final rounding, so the result
  // is the same, and its AMX brgemm convolutions take the post-op but not the zero point. A
  // per-channel binary post-op's position is stored in `binary_index` (-1 when there is none).
  dnnl::primitive_attr attr(int channel_mask, bool dst_zero_point_as_post_op = false,
                            int* binary_index = nullptr) const;

  // Whether every multiplier is finite. oneDNN multiplies a zero sum by an infinite scale into
  // NaN where eq. (47) gives the zero point, so such products stay on quench's kernels.
  bool finite() const;
};

// A weight tensor's values as s8 (eq. (49) for u8 weights).
std::vector<int8_t> s8_values(const Tensor& w);

// Eq. (61): whether oneDNN's int32 output is the exact sum for weights `w` (s8, zero point
// `w_zero_point` as oneDNN takes them): `outputs` runs of `taps` values, runs `output_stride`
// apart and taps `tap_stride` apart within a run. With `w` null (weights read at run time) the
// bound assumes |w| = 128 everywhere.
bool int32_output_exact(const int8_t* w, int64_t outputs, int64_t taps, int64_t output_stride,
                        int64_t tap_stride, int32_t w_zero_point);

// Reads the parts of QFusedConv / QFusedMatMul after the base op (the sum triple, inputs 9-11,
// act_min / act_max, the activation of eq. (150), QFusedConv's y_max) into `r`, for an output of
// scale `y_scale` and zero point r.dst_zero_point; with an activation, r.scales become real (times
// each channel's step t) and r.inv_steps 1/t. False when the sum's parameters or y_max are not
// constant, the attributes are invalid (the reference then reports them), or an activation comes
// with a sum.
bool read_fused_epilogue(const KernelContext& ctx, float y_scale, Int8Requant& r);

}  // namespace quench::onednn
