// The exact GELU as PyTorch exports it, x -> Div(x, sqrt 2) -> Erf -> Add(1) -> Mul(x, .) ->
// Mul(0.5) (operands of Add/Mul in either order; Mul by 1/sqrt 2 in place of the Div): matched
// once here for passes/fuse_gelu.cc, which replaces it by one Gelu node, and for the quantizer's
// plan (quant/quant_plan.cc), which makes it one quantization unit.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ir/graph_index.h"
#include "quench/graph.h"

namespace quench {

struct GeluPattern {
  std::string x;           // the GELU's input
  std::vector<int> nodes;  // Div (or Mul), Erf, Add, Mul, Mul; the last writes the GELU's output
};

// The GELU whose Erf is node `erf` of `g`, or nullopt.
std::optional<GeluPattern> match_gelu(const Graph& g, const GraphIndex& index, size_t erf);

}  // namespace quench
