// What the weight-rounding driver needs to know about a layer's place in the graph: its bias, the
// activation fused after it, and biases added where bias correction needs one.
#pragma once

#include <string>

#include "quant/lowbit/adaround.h"
#include "quench/graph.h"

namespace quench::quant::lowbit {

// The constant float bias input of a Conv or Gemm (rank 1, unit alpha and beta), or "".
std::string bias_of(const Graph& g, const Node& node);

// Gives every Conv and Gemm with a constant weight and no bias a zero bias, so that a corrected
// bias has somewhere to go. Returns how many were added.
int add_zero_biases(Graph& g);

// The bounds of a Relu or Clip (constant bounds) that alone reads the output of node `i`.
void fused_activation(const Graph& g, size_t i, AdaRoundOptions& o);

}  // namespace quench::quant::lowbit
