// A pooling node's window in oneDNN's terms (shared by the float and the int8 pooling kernels).
#pragma once

#include <oneapi/dnnl/dnnl.hpp>
#include <optional>

#include "quench/graph.h"

namespace quench::onednn {

// For an input and output read as [N, C, spatial...].
struct Window {
  dnnl::memory::dims strides, kernel, dilation, pad_l, pad_r;  // dilation counts the gaps
  bool include_pad = false;
};

// The window of a MaxPool or AveragePool-like node (attributes kernel_shape, strides, pads,
// dilations, ceil_mode, count_include_pad), or nullopt when oneDNN cannot express it.
std::optional<Window> pool_window(const Node& node, const Shape& x, const Shape& y, bool is_max);

}  // namespace quench::onednn
