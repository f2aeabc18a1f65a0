// Node-by-node execution for graphs whose shapes depend on input values (a Range or Reshape fed
// by a graph input): each node's output shapes are inferred from the actual values just before
// it runs, with the reference kernels. Planned execution is used whenever shapes are static.
#pragma once

#include <vector>

#include "quench/session.h"

namespace quench {

// Whether every value of `graph` has a concrete type and shape (then it can be planned).
bool shapes_are_static(const Graph& graph);

std::vector<Tensor> run_eager(const Graph& graph, const std::vector<Tensor>& inputs,
                              const RunOptions& options);

}  // namespace quench
