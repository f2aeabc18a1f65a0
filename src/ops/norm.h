// Attributes and geometry of the normalization and softmax ops, shared by the reference and
// oneDNN kernels.
#pragma once

#include "quench/graph.h"

namespace quench {

// Softmax, LogSoftmax and Hardmax see their input as [outer, axis, inner] and normalize along the
// middle dim. Before opset 13 the input is coerced to 2-D at `axis` (default 1), so inner is 1 and
// the middle dim spans every dim from `axis` on; from opset 13 it is the single dim `axis`
// (default -1).
struct SoftmaxGeometry {
  int64_t outer = 1, axis = 1, inner = 1;
};
SoftmaxGeometry softmax_geometry(const Node& node, int64_t opset, const Shape& input);

struct BatchNormAttrs {
  float epsilon = 1e-5f;
  // Opset 7's spatial=0: scale, B, mean and var hold one value per element of X[1:].
  bool per_activation = false;
  // training_mode=1 (opset 14+), or statistics outputs requested (before 14).
  bool training = false;
};
BatchNormAttrs batch_norm_attrs(const Node& node, int64_t opset);

// LayerNormalization sees X as [rows, cols] with cols the product of the dims from `axis` on.
struct LayerNormGeometry {
  int64_t axis = 0;  // normalized, in [0, rank)
  int64_t rows = 1, cols = 1;
  float epsilon = 1e-5f;
};
LayerNormGeometry layer_norm_geometry(const Node& node, const Shape& x);

}  // namespace quench
