// The graph a session plans from, prepared once when the session is made; shared with
// quench/inspect.h's report of what a session would do.
#pragma once

#include "quench/graph.h"

namespace quench {

// Verifies and sorts `graph`, refuses nodes quench cannot run (kUnsupported listing them all),
// infers shapes, folds constants, removes dead nodes and, with `optimize`, applies the
// shape-independent optimizations (batch-norm folding).
void prepare_session_graph(Graph& graph, bool optimize);

}  // namespace quench
