// Mul(x, Sigmoid(x)) -> one internal Swish node (x·sigmoid(x), SiLU), operands of the Mul in
// either order, when the Sigmoid's result is read by that Mul alone. As one node the activation
// fuses into the convolution before it (a float Conv's post-op; in a QDQ file whose Conv result is
// not quantized before the swish, the integer convolution's activation, eq. (150)).
#include "ir/graph_index.h"
#include "ops/fused.h"
#include "passes/runtime_passes.h"
#include "quench/passes.h"

namespace quench {
namespace {

bool fuse_one(Graph& g) {
  GraphIndex index(g);
  for (size_t s = 0; s < g.nodes.size(); ++s) {
    const Node& sigmoid = g.nodes[s];
    if (sigmoid.op_type != "Sigmoid" || !sigmoid.domain.empty() || sigmoid.inputs.size() != 1 ||
        sigmoid.outputs.size() != 1 || !index.single_use(sigmoid.outputs[0])) {
      continue;
    }
    const int m = index.consumers(sigmoid.outputs[0])[0];
    const Node& mul = g.nodes[m];
    const std::string& x = sigmoid.input(0);
    const bool pairs = mul.op_type == "Mul" && mul.domain.empty() && mul.inputs.size() == 2 &&
                       ((mul.inputs[0] == x && mul.inputs[1] == sigmoid.outputs[0]) ||
                        (mul.inputs[1] == x && mul.inputs[0] == sigmoid.outputs[0]));
    if (!pairs) continue;
    Node swish;
    swish.op_type = "Swish";
    swish.domain = kInternalDomain;
    swish.name = mul.name.empty() ? mul.outputs[0] : mul.name;
    swish.inputs = {x};
    swish.outputs = {mul.outputs[0]};
    g.opsets[kInternalDomain] = g.opset("");
    g.values.erase(sigmoid.outputs[0]);
    g.nodes[m] = std::move(swish);
    g.nodes.erase(g.nodes.begin() + static_cast<std::ptrdiff_t>(s));
    return true;
  }
  return false;
}

}  // namespace

int fuse_swish(Graph& graph) {
  int fused = 0;
  while (fuse_one(graph)) ++fused;
  if (fused) topological_sort(graph);
  return fused;
}

}  // namespace quench
