#include "passes/runtime_passes.h"

namespace quench {

void apply_graph_optimizations(Graph&) {}

void apply_runtime_fusions(Graph&) {}

}  // namespace quench
