// The gradient of LayerNormalization on oneDNN's layer-normalization primitives, over a float
// tensor read as [groups, n] (normalized over each row of n): the forward-training primitive
// gives each row's mean and variance, the backward dx, dγ and dβ. Primitives are made once per
// shape and shared (train/gradients/norm.cc calls them; its loops are the reference).
#pragma once

#include <cstdint>

namespace quench::onednn {

// dx (overwritten), and dγ, dβ (n floats each, overwritten; dβ may be null when the node has no
// bias) from x, γ, β (null: none), dy; false (nothing written) when oneDNN has no
// implementation.
bool layer_norm_backward(int64_t groups, int64_t n, float epsilon, const float* x,
                         const float* gamma, const float* beta, const float* dy, float* dx,
                         float* dgamma, float* dbeta);

}  // namespace quench::onednn
