// Window geometry shared by Conv, ConvInteger, QLinearConv and the pooling ops: attribute
// parsing, auto_pad resolution and output sizes (docs/quantization.md does not cover this; the
// ONNX Conv/MaxPool specs do).
#pragma once

#include <vector>

#include "quench/graph.h"

namespace quench {

struct WindowParams {
  std::vector<int64_t> kernel;      // per spatial dim
  std::vector<int64_t> strides;     // default 1
  std::vector<int64_t> dilations;   // default 1
  std::vector<int64_t> pads_begin;  // resolved from pads or auto_pad
  std::vector<int64_t> pads_end;
  bool ceil_mode = false;  // pooling only
  int64_t group = 1;       // Conv only

  int spatial_rank() const { return static_cast<int>(kernel.size()); }
  // Size of the output along spatial dim `i` for an input of size `in`.
  int64_t output_size(int i, int64_t in) const;
};

// Parses strides/dilations/pads/auto_pad/group/ceil_mode of `node` for an input whose spatial
// sizes are `input_spatial` (-1 where unknown; auto_pad SAME_* then leaves pads unresolved) and a
// window of `kernel`. kInvalidModel naming the node on inconsistent attributes.
WindowParams parse_window(const Node& node, const std::vector<int64_t>& input_spatial,
                          const std::vector<int64_t>& kernel);

// Output shape [N, C_out, spatial...] for input [N, C, spatial...] (symbolic dims allowed).
SymbolicShape window_output_shape(const WindowParams& p, const SymbolicShape& input,
                                  const Dim& out_channels);

}  // namespace quench
