// float16 and bfloat16 models: quench's kernels compute in float32 (docs/quantization.md,
// "Half precision"). Each node that reads a half-precision value gets Casts to float32 on
// those inputs and Casts back to the half type on its float32 outputs, so every value keeps the
// type and the rounding the file describes; constant folding then converts half weights to
// float32 once, when the session is built. Casts, shape queries and data movement read any type
// and are left alone, as are the fused products on bfloat16 operands (eq. (158)).
#include <set>

#include "core/check.h"
#include "ir/graph_index.h"
#include "ops/domains.h"
#include "ops/op_registry.h"
#include "ops/shape_ops.h"
#include "passes/cast_node.h"
#include "quench/passes.h"

namespace quench {
namespace {

bool is_half(DType t) { return t == DType::kFloat16 || t == DType::kBFloat16; }

// Casts, shape queries and data movement (whose kernels move elements by size) read any type, so
// half values move as they are.
bool reads_any_type(const Node& node) {
  static const std::set<std::string> ops = {"Cast", "CastLike", "Shape", "Size"};
  return node.domain.empty() &&
         (ops.count(node.op_type) != 0 || element_moving_ops().count(node.op_type) != 0);
}

// The internal fused products read bfloat16 operands themselves (ops/fused.h, eq. (158)).
bool reads_bfloat16(const Node& node) {
  static const std::set<std::string> ops = {"FusedConv", "FusedMatMul", "FusedGemm"};
  return node.domain == kInternalDomain && ops.count(node.op_type) != 0;
}

class HalfToFloat {
 public:
  explicit HalfToFloat(Graph& g) : g_(g) {}

  int run() {
    std::vector<Node> out;
    int wrapped = 0;
    for (Node& node : g_.nodes) {
      const DType half = half_input_type(node);
      if (half == DType::kUndefined || reads_any_type(node) ||
          (half == DType::kBFloat16 && reads_bfloat16(node))) {
        // Only to learn which later values are half: infer_shapes reports errors afterwards.
        try {
          infer(node);
        } catch (const Error&) {
        }
        out.push_back(std::move(node));
        continue;
      }
      ++wrapped;
      for (std::string& in : node.inputs) {
        if (!in.empty() && is_half(type_of(in))) in = cast(in, DType::kFloat32, out);
      }
      const std::vector<ValueInfo> outputs = infer(node);
      std::vector<Node> back;
      for (size_t i = 0; i < node.outputs.size(); ++i) {
        std::string& y = node.outputs[i];
        if (y.empty() || outputs[i].dtype != DType::kFloat32) continue;
        const std::string original = y;
        y = g_.unique_name(original + "_float");
        g_.values[y] = ValueInfo{DType::kFloat32, outputs[i].shape, ""};
        back.push_back(cast_node(y, half, original));
        g_.values[original].dtype = half;
      }
      out.push_back(std::move(node));
      for (Node& n : back) out.push_back(std::move(n));
    }
    g_.nodes = std::move(out);
    return wrapped;
  }

 private:
  DType type_of(const std::string& value) const { return value_type(g_, value); }

  // The half type the node reads, or kUndefined; kInvalidModel when it mixes float16 and
  // bfloat16.
  DType half_input_type(const Node& node) const {
    DType found = DType::kUndefined;
    for (const std::string& in : node.inputs) {
      if (in.empty() || !is_half(type_of(in))) continue;
      const DType t = type_of(in);
      QUENCH_CHECK(found == DType::kUndefined || found == t, ErrorKind::kInvalidModel,
                   "{} mixes float16 and bfloat16 inputs ('{}' is {}); quench computes half "
                   "precision in float32 and needs one half type per node",
                   node.describe(), in, dtype_name(t));
      found = t;
    }
    return found;
  }

  std::vector<ValueInfo> infer(const Node& node) {
    std::vector<const ValueInfo*> inputs;
    std::vector<const Tensor*> constants;
    std::vector<ValueInfo> storage(node.inputs.size());
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const std::string& in = node.inputs[i];
      const Tensor* t = in.empty() ? nullptr : g_.initializer(in);
      if (t != nullptr) storage[i] = ValueInfo{t->dtype(), symbolic(t->shape()), ""};
      const ValueInfo* info = in.empty() ? nullptr : (t ? &storage[i] : g_.info(in));
      inputs.push_back(info && info->dtype != DType::kUndefined ? info : nullptr);
      constants.push_back(t);
    }
    std::vector<ValueInfo> outputs(node.outputs.size());
    const OpDef* def = op_registry().find(node.domain, node.op_type);
    QUENCH_CHECK(def != nullptr, ErrorKind::kUnsupported, "{}: op not supported", node.describe());
    InferContext ctx(node, g_.opset(node.domain), inputs, constants, outputs);
    def->infer(ctx);
    // Values the file already describes keep their description (a declared output shape is what
    // plans check the run against); the others learn their type here.
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (node.outputs[i].empty() || outputs[i].dtype == DType::kUndefined) continue;
      const ValueInfo* known = g_.info(node.outputs[i]);
      if (known == nullptr || known->dtype == DType::kUndefined) {
        g_.values[node.outputs[i]] = outputs[i];
      }
    }
    return outputs;
  }

  // `value` as `to` (one Cast per value, shared by its readers).
  std::string cast(const std::string& value, DType to, std::vector<Node>& out) {
    auto done = casts_.find(value);
    if (done != casts_.end()) return done->second;
    const std::string name = g_.unique_name(value + "_as_float");
    const ValueInfo* info = g_.info(value);
    g_.values[name] = ValueInfo{to, info ? info->shape : std::nullopt, ""};
    out.push_back(cast_node(value, to, name));
    casts_[value] = name;
    return name;
  }

  Graph& g_;
  std::map<std::string, std::string> casts_;
};

}  // namespace

int compute_half_in_float(Graph& graph) {
  // Nothing to do (and the graph left untouched) unless some value is float16 or bfloat16.
  bool any_half = false;
  for (const auto& [name, t] : graph.initializers) any_half |= is_half(t.dtype());
  for (const auto& [name, info] : graph.values) any_half |= is_half(info.dtype);
  if (!any_half) return 0;
  topological_sort(graph);
  return HalfToFloat(graph).run();
}

}  // namespace quench
