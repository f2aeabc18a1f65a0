// The sweep shared by shape inference and constant folding.
#pragma once

#include "quench/passes.h"

namespace quench {

// Infers types and shapes node by node; with `fold`, also evaluates nodes whose inputs are all
// known. Returns the number of nodes folded.
int propagate(Graph& graph, const InferOptions& infer, const FoldOptions* fold);

}  // namespace quench
