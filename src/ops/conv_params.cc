#include "ops/conv_params.h"

#include <algorithm>

#include "core/check.h"

namespace quench {

int64_t WindowParams::output_size(int i, int64_t in) const {
  const int64_t window = (kernel[i] - 1) * dilations[i] + 1;
  const int64_t span = in + pads_begin[i] + pads_end[i] - window;
  if (span < 0) return 0;
  if (!ceil_mode) return span / strides[i] + 1;
  int64_t out = (span + strides[i] - 1) / strides[i] + 1;
  // A window may not start inside the end padding only (the rule of PyTorch and ONNX Runtime).
  if ((out - 1) * strides[i] >= in + pads_begin[i]) --out;
  return out;
}

WindowParams parse_window(const Node& node, const std::vector<int64_t>& input_spatial,
                          const std::vector<int64_t>& kernel) {
  const size_t rank = kernel.size();
  WindowParams p;
  p.kernel = kernel;
  p.strides = node.attr_ints("strides", std::vector<int64_t>(rank, 1));
  p.dilations = node.attr_ints("dilations", std::vector<int64_t>(rank, 1));
  p.group = node.attr_int("group", 1);
  p.ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  auto check_len = [&](const std::vector<int64_t>& v, const char* what, size_t want) {
    QUENCH_CHECK(v.size() == want, ErrorKind::kInvalidModel,
                 "{}: attribute '{}' has {} values, expected {}", node.describe(), what, v.size(),
                 want);
  };
  check_len(p.strides, "strides", rank);
  check_len(p.dilations, "dilations", rank);
  for (size_t i = 0; i < rank; ++i) {
    QUENCH_CHECK(p.kernel[i] > 0, ErrorKind::kInvalidModel, "{}: kernel size {} must be positive",
                 node.describe(), p.kernel[i]);
    QUENCH_CHECK(p.strides[i] > 0 && p.dilations[i] > 0, ErrorKind::kInvalidModel,
                 "{}: strides and dilations must be positive", node.describe());
  }
  QUENCH_CHECK(p.group > 0, ErrorKind::kInvalidModel, "{}: group must be positive, got {}",
               node.describe(), p.group);

  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  p.pads_begin.assign(rank, 0);
  p.pads_end.assign(rank, 0);
  if (auto_pad == "NOTSET") {
    const auto pads = node.attr_ints("pads", std::vector<int64_t>(2 * rank, 0));
    check_len(pads, "pads", 2 * rank);
    for (size_t i = 0; i < rank; ++i) {
      p.pads_begin[i] = pads[i];
      p.pads_end[i] = pads[i + rank];
      QUENCH_CHECK(p.pads_begin[i] >= 0 && p.pads_end[i] >= 0, ErrorKind::kInvalidModel,
                   "{}: pads must not be negative", node.describe());
    }
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t i = 0; i < rank; ++i) {
      if (i >= input_spatial.size() || input_spatial[i] < 0) {
        p.pads_begin[i] = p.pads_end[i] = -1;  // unresolved until the input size is known
        continue;
      }
      const int64_t in = input_spatial[i];
      const int64_t out = (in + p.strides[i] - 1) / p.strides[i];
      const int64_t window = (p.kernel[i] - 1) * p.dilations[i] + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * p.strides[i] + window - in);
      const int64_t small = total / 2;
      p.pads_begin[i] = auto_pad == "SAME_UPPER" ? small : total - small;
      p.pads_end[i] = total - p.pads_begin[i];
    }
  } else if (auto_pad != "VALID") {
    fail(ErrorKind::kInvalidModel, "{}: unknown auto_pad '{}'", node.describe(), auto_pad);
  }
  return p;
}

SymbolicShape window_output_shape(const WindowParams& p, const SymbolicShape& input,
                                  const Dim& out_channels) {
  SymbolicShape out{input[0], out_channels};
  for (int i = 0; i < p.spatial_rank(); ++i) {
    const Dim& in = input[2 + i];
    if (!in.known() || p.pads_begin[i] < 0) {
      out.emplace_back();
    } else {
      out.emplace_back(p.output_size(i, in.value));
    }
  }
  return out;
}

}  // namespace quench
