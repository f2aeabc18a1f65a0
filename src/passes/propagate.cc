#include "passes/propagate.h"

#include "core/check.h"
#include "ops/evaluate.h"
#include "ops/op_registry.h"
#include "ops/shape_ops.h"

namespace quench {
namespace {

void merge_output(Graph& graph, const Node& node, const std::string& name, ValueInfo inferred,
                  bool strict) {
  ValueInfo& info = graph.info_mut(name);
  if (inferred.dtype != DType::kUndefined) {
    if (strict && info.dtype != DType::kUndefined && info.dtype != inferred.dtype) {
      fail(ErrorKind::kInvalidModel, "{}: output '{}' is declared {} but computes {}",
           node.describe(), name, dtype_name(info.dtype), dtype_name(inferred.dtype));
    }
    info.dtype = inferred.dtype;
  }
  if (inferred.shape) {
    if (strict && info.shape && info.shape->size() != inferred.shape->size()) {
      fail(ErrorKind::kInvalidModel, "{}: output '{}' is declared with shape {} but computes {}",
           node.describe(), name, shape_str(*info.shape), shape_str(*inferred.shape));
    }
    // A dim inference could not determine keeps what the model declared (a fixed size or a
    // symbolic name): ops whose output depends on run-time values still know their rank.
    if (info.shape && info.shape->size() == inferred.shape->size()) {
      for (size_t d = 0; d < inferred.shape->size(); ++d) {
        Dim& dim = (*inferred.shape)[d];
        if (!dim.known() && dim.param.empty()) dim = (*info.shape)[d];
      }
    }
    info.shape = std::move(inferred.shape);
  }
}

bool can_fold(const Node& node, const Graph& graph, const FoldOptions& options) {
  if (options.keep_op_types.count(node.op_type) != 0) return false;
  for (const auto& in : node.inputs) {
    if (!in.empty() && !graph.is_initializer(in)) return false;
  }
  size_t bytes = 0;
  for (const auto& out : node.outputs) {
    if (out.empty()) continue;
    const ValueInfo* info = graph.info(out);
    if (info == nullptr || !info->shape || info->dtype == DType::kUndefined) return false;
    auto shape = concrete(*info->shape);
    if (!shape) return false;
    // Counted without overflow: a huge output is left for the planner to refuse, by name.
    uint64_t numel = 1;
    for (int64_t d : *shape) {
      if (d != 0 && numel > options.max_folded_bytes / static_cast<uint64_t>(d)) return false;
      numel *= static_cast<uint64_t>(d);
    }
    bytes += static_cast<size_t>(storage_bytes(info->dtype, static_cast<int64_t>(numel)));
  }
  return bytes <= options.max_folded_bytes;
}

// Infers the outputs of one node into the graph's value infos.
void infer_node(Graph& graph, const Node& node, const OpDef& def, bool strict) {
  std::vector<const ValueInfo*> inputs;
  std::vector<const Tensor*> constants;
  for (const auto& in : node.inputs) {
    if (in.empty()) {
      inputs.push_back(nullptr);
      constants.push_back(nullptr);
      continue;
    }
    ValueInfo& info = graph.info_mut(in);
    const Tensor* value = graph.initializer(in);
    if (value != nullptr) {  // an initializer's own type and shape are authoritative
      info.dtype = value->dtype();
      info.shape = symbolic(value->shape());
    }
    inputs.push_back(&info);
    constants.push_back(value);
  }
  std::vector<ValueInfo> outputs(node.outputs.size());
  InferContext ctx(node, graph.opset(node.domain), std::move(inputs), std::move(constants),
                   outputs);
  def.infer(ctx);
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (!node.outputs[i].empty()) {
      merge_output(graph, node, node.outputs[i], std::move(outputs[i]), strict);
    }
  }
}

}  // namespace

int propagate(Graph& graph, const InferOptions& infer, const FoldOptions* fold) {
  topological_sort(graph);
  const OpRegistry& registry = op_registry();
  std::vector<bool> folded(graph.nodes.size(), false);
  int folded_count = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    const OpDef* def = registry.find(node.domain, node.op_type);
    if (def == nullptr || def->infer == nullptr) {
      QUENCH_CHECK(!infer.strict || infer.problems != nullptr, ErrorKind::kUnsupported, "{}: {}",
                   node.describe(), unsupported_reason(node, graph));
      continue;
    }
    if (infer.problems != nullptr) {
      try {
        infer_node(graph, node, *def, infer.strict);
      } catch (const Error& e) {
        infer.problems->push_back(GraphProblem{e.kind(), node.describe(), "", e.what()});
        continue;
      }
    } else {
      infer_node(graph, node, *def, infer.strict);
    }
    if (fold == nullptr) continue;

    const int64_t opset = graph.opset(node.domain);
    std::vector<Tensor> values;
    if (node.op_type == "Shape" && node.domain.empty()) {
      const ValueInfo* in = graph.info(node.input(0));
      auto shape = in && in->shape ? concrete(*in->shape) : std::nullopt;
      if (shape) values.push_back(evaluate_shape_op(node, *shape));
    } else if (can_fold(node, graph, *fold)) {
      std::vector<const Tensor*> args;
      for (const auto& in : node.inputs)
        args.push_back(in.empty() ? nullptr : graph.initializer(in));
      values = evaluate_node(node, opset, args);
    }
    if (values.empty()) continue;
    for (size_t i = 0; i < node.outputs.size() && i < values.size(); ++i) {
      if (node.outputs[i].empty() || !values[i].defined()) continue;
      ValueInfo& info = graph.info_mut(node.outputs[i]);
      info.dtype = values[i].dtype();
      info.shape = symbolic(values[i].shape());
      graph.initializers[node.outputs[i]] = std::move(values[i]);
    }
    folded[n] = true;
    ++folded_count;
  }
  if (folded_count != 0) {
    std::vector<Node> kept;
    kept.reserve(graph.nodes.size() - folded_count);
    for (size_t n = 0; n < graph.nodes.size(); ++n) {
      if (!folded[n]) kept.push_back(std::move(graph.nodes[n]));
    }
    graph.nodes = std::move(kept);
  }
  return folded_count;
}

void infer_shapes(Graph& graph, const InferOptions& options) { propagate(graph, options, nullptr); }

int fold_constants(Graph& graph, const FoldOptions& options) {
  return propagate(graph, InferOptions{}, &options);
}

void specialize_input_shapes(Graph& graph, const std::map<std::string, Shape>& shapes) {
  for (const auto& [name, shape] : shapes) {
    bool is_input = false;
    for (const auto& in : graph.inputs) is_input |= in == name;
    QUENCH_CHECK(is_input, ErrorKind::kInvalidArgument, "'{}' is not an input of the model", name);
    ValueInfo& info = graph.info_mut(name);
    if (info.shape) {
      const SymbolicShape& declared = *info.shape;
      QUENCH_CHECK(declared.size() == shape.size(), ErrorKind::kInvalidArgument,
                   "input '{}' expects shape {} (rank {}), got {} (rank {})", name,
                   shape_str(declared), declared.size(), shape_str(shape), shape.size());
      for (size_t i = 0; i < shape.size(); ++i) {
        QUENCH_CHECK(!declared[i].known() || declared[i].value == shape[i],
                     ErrorKind::kInvalidArgument,
                     "input '{}' expects shape {}, got {} (dimension {} differs)", name,
                     shape_str(declared), shape_str(shape), i);
      }
    }
    info.shape = symbolic(shape);
  }
  fold_constants(graph);
}

}  // namespace quench
