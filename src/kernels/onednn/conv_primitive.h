// What the float and the integer oneDNN convolutions share: the geometry of a convolution node in
// oneDNN's terms, and one kernel that runs a prepared convolution primitive — weights packed
// once, the source reordered into the primitive's layout when the producer's differs, the residual
// sum brought into dst before the sum post-op, argument maps made once per execution state.
#pragma once

#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "kernels/onednn/runtime_zero_point.h"
#include "ops/op_registry.h"

namespace quench::onednn {

// A Conv / QLinearConv node's window in oneDNN's terms, for input x and weights w.
struct ConvGeometry {
  dnnl::memory::dims strides, dilates, pad_l, pad_r;  // dilates count the gaps (dilation − 1)
  dnnl::memory::dims weight_dims;  // [groups,] out/groups, in/groups, kernel... (grouped form)
  int64_t groups = 1;
  int64_t out_channels = 0;
};
// nullopt when the group count does not divide the output channels (the reference reports it).
std::optional<ConvGeometry> conv_geometry(const Node& node, const Shape& x, const Shape& w);

// A forward-inference convolution of geometry `g` (with a bias when `bias` is set): the first of
// oneDNN's implementations whose name contains preferred[0], else preferred[1], ..., else oneDNN's
// own first choice. nullopt when oneDNN has no implementation (the reference kernel runs instead).
std::optional<dnnl::convolution_forward::primitive_desc> conv_primitive_desc(
    const dnnl::memory::desc& src, const dnnl::memory::desc& weights,
    const dnnl::memory::desc* bias, const dnnl::memory::desc& dst, const ConvGeometry& g,
    const dnnl::primitive_attr& attr, std::span<const std::string_view> preferred);

// Everything make_conv_kernel needs besides the primitive descriptor.
struct ConvSetup {
  const TensorDesc* src = nullptr;  // input 0 as the producer stored it
  const void* weights = nullptr;    // plain [O, I/groups, kernel...] data of `weights_plain`
  dnnl::memory::desc weights_plain;
  const void* bias = nullptr;  // plain data of `bias_desc`, or null
  dnnl::memory::desc bias_desc;
  int sum_input = -1;                // the input the sum post-op adds, or -1
  dnnl::memory::data_type sum_type;  // its element type (dst is read as it)
  RuntimeZeroPoint src_zero_point;   // when the primitive takes the source zero point at run time
  // A constant f32 operand of a binary post-op (the per-channel 1/t of eq. (150)): its position
  // in the post-op chain (-1: none), its plain data and descriptor.
  int binary_index = -1;
  std::vector<float> binary_values;
  dnnl::memory::desc binary_desc;
  // QFusedConv's y_max (eq. (157)), applied by a pass over the output after the primitive, whose
  // dst must be plain or channels last. Null: none.
  const Tensor* y_max = nullptr;
  // A float32 Swish applied by quench's loop over the whole dst after the primitive (eq. (164);
  // swish(0) = 0 keeps a blocked layout's zero padding) instead of oneDNN's post-op.
  bool swish_after = false;
};

// The kernel for primitive `pd`; sets ctx.outputs[0].layout to the primitive's dst layout.
std::unique_ptr<Kernel> make_conv_kernel(const dnnl::convolution_forward::primitive_desc& pd,
                                         const ConvSetup& setup, KernelContext& ctx);

}  // namespace quench::onednn
