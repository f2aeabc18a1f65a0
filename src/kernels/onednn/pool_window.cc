#include "kernels/onednn/pool_window.h"

#include <vector>

#include "ops/conv_params.h"

namespace quench::onednn {

std::optional<Window> pool_window(const Node& node, const Shape& x, const Shape& y, bool is_max) {
  const int spatial = static_cast<int>(x.size()) - 2;
  const std::vector<int64_t> in_spatial(x.begin() + 2, x.end());
  const WindowParams p = parse_window(node, in_spatial, node.require_ints("kernel_shape"));
  Window w;
  w.include_pad = !is_max && node.attr_int("count_include_pad", 0) != 0;
  for (int i = 0; i < spatial; ++i) {
    if (!is_max && p.dilations[i] != 1) return std::nullopt;
    w.strides.push_back(p.strides[i]);
    w.kernel.push_back(p.kernel[i]);
    w.dilation.push_back(p.dilations[i] - 1);  // oneDNN counts the gaps
    w.pad_l.push_back(p.pads_begin[i]);
    // The right padding that makes oneDNN's floor formula give the inferred (ceil_mode) size.
    const int64_t extent = (p.kernel[i] - 1) * p.dilations[i] + 1;
    const int64_t right = (y[2 + i] - 1) * p.strides[i] + extent - x[2 + i] - p.pads_begin[i];
    if (right < 0) return std::nullopt;
    // oneDNN would count the ceil_mode extension as padding; ONNX counts only the explicit pads.
    if (w.include_pad && right != p.pads_end[i]) return std::nullopt;
    w.pad_r.push_back(right);
  }
  return w;
}

}  // namespace quench::onednn
