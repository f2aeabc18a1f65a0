// Raises a graph's default-domain opset (docs/quantization.md, "INT4 storage"): the node forms
// that changed between the source opset (13 or later) and the target (at most 21) are rewritten to
// the target's form with the same meaning; an op whose change has no rewrite here is refused by
// name. Type-only extensions (most version bumps from 13 to 21) need nothing.
#include <set>

#include "core/check.h"
#include "quench/passes.h"

namespace quench {
namespace {

// Reductions whose `axes` became an input at opset 18 (ReduceSum did at 13).
const std::set<std::string>& reductions_with_axes_input_at_18() {
  static const std::set<std::string> ops = {"ReduceMean",   "ReduceMax",       "ReduceMin",
                                            "ReduceProd",   "ReduceL1",        "ReduceL2",
                                            "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
  return ops;
}

// Crossing opset `version` (from < version <= to).
bool crosses(int64_t from, int64_t to, int64_t version) { return from < version && to >= version; }

}  // namespace

int upgrade_opset(Graph& graph, int64_t target) {
  QUENCH_CHECK(target <= 21, ErrorKind::kUnsupported,
               "opset upgrade: target opset {} is above 21, the newest this build rewrites to",
               target);
  const std::string domain = graph.opsets.count("ai.onnx") ? "ai.onnx" : "";
  const int64_t from = graph.opset(domain);
  if (from >= target) return 0;
  QUENCH_CHECK(from >= 13, ErrorKind::kUnsupported,
               "opset upgrade: the model imports default-domain opset {}; upgrading from below 13 "
               "is not supported (re-export the model at opset 13 or later)",
               from);
  int rewritten = 0;
  for (Node& node : graph.nodes) {
    if (!node.domain.empty() && node.domain != "ai.onnx") continue;
    const std::string& op = node.op_type;
    QUENCH_CHECK(op != "If" && op != "Loop" && op != "Scan", ErrorKind::kUnsupported,
                 "opset upgrade: {} holds a subgraph, whose nodes this upgrade does not rewrite",
                 node.describe());
    if (crosses(from, target, 18) && reductions_with_axes_input_at_18().count(op)) {
      if (node.has_attr("axes")) {
        const std::vector<int64_t> axes = node.attr_ints("axes");
        const std::string name = graph.unique_name(node.outputs[0] + "_axes");
        graph.initializers[name] =
            Tensor::from_vector<int64_t>({static_cast<int64_t>(axes.size())}, axes);
        graph.values[name] =
            ValueInfo{DType::kInt64, symbolic({static_cast<int64_t>(axes.size())}), ""};
        node.attributes.erase("axes");
        node.inputs.resize(1);
        node.inputs.push_back(name);
        ++rewritten;
      }
      continue;
    }
    if (crosses(from, target, 18) && op == "Split" && !node.has_input(1) &&
        !node.has_attr("num_outputs")) {
      // Opset 18 asks for the split sizes or num_outputs: equal parts, one per output.
      node.set_attr("num_outputs", static_cast<int64_t>(node.outputs.size()));
      ++rewritten;
      continue;
    }
    if (crosses(from, target, 16) && op == "RoiAlign" &&
        !node.has_attr("coordinate_transformation_mode")) {
      // Opset 16 changed the default to half_pixel; the model meant the old one.
      node.set_attr("coordinate_transformation_mode", std::string("output_half_pixel"));
      ++rewritten;
      continue;
    }
    if (crosses(from, target, 20) && op == "GridSample") {
      const std::string mode = node.attr_string("mode", "bilinear");
      node.set_attr("mode", std::string(mode == "bilinear"  ? "linear"
                                        : mode == "bicubic" ? "cubic"
                                                            : mode));
      ++rewritten;
      continue;
    }
    QUENCH_CHECK(!(crosses(from, target, 20) && op == "DFT") &&
                     !(crosses(from, target, 21) && op == "GroupNormalization"),
                 ErrorKind::kUnsupported,
                 "opset upgrade from {} to {}: {} changed meaning in between and is not rewritten",
                 from, target, node.describe());
  }
  graph.opsets[domain] = target;
  return rewritten;
}

}  // namespace quench
