// The reference Conv of the training engine (im2col + GEMM): the oracle of the oneDNN path and the
// kernel where oneDNN has none (docs/training.md (T1)-(T3)).
#pragma once

#include <vector>

#include "train/gradient.h"

namespace quench::train {

std::vector<Tensor> conv_forward_im2col(const Node& node, const std::vector<const Tensor*>& in);
std::vector<Tensor> conv_backward_im2col(const GradContext& ctx);

}  // namespace quench::train
