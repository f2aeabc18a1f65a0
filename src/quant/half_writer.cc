// --mode fp16 / bf16: weights stored in the half type, activations between the ops that run in
// it too, everything else float32 with Casts around it (docs/quantization.md, eqs. (68), (69)).
// In bf16 mode the operands of the products (Conv, ConvTranspose, MatMul, Gemm) are rounded to
// bfloat16 and the products run in float32 on the rounded values (eq. (158)); data movement that
// only carries such operands moves them in bfloat16.
#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/check.h"
#include "core/half.h"
#include "ops/shape_ops.h"
#include "passes/cast_node.h"
#include "quant/written_model_check.h"
#include "quench/passes.h"
#include "quench/quantize.h"

namespace quench {
namespace {

bool is_product(const std::string& op) {
  return op == "Conv" || op == "ConvTranspose" || op == "MatMul" || op == "Gemm";
}

// Largest finite float16: larger weights are clamped to it rather than become infinities.
constexpr float kHalfMax = 65504.f;

class HalfWriter {
 public:
  HalfWriter(Graph& g, const QuantRecipe& recipe, const HalfPrecisionOptions& options,
             QuantizeReport& report)
      : g_(g),
        recipe_(recipe),
        half_(options.type),
        keep_io_(options.keep_io_types),
        report_(report) {}

  // float16 weights clamped to ±65504.
  int64_t clamped() const { return clamped_; }

  void run() {
    for (const std::string& in : g_.inputs) {
      if (!keep_io_ && is_f32(in)) set_half(in);
    }
    const std::vector<bool> moves_operands = moves_only_operands();
    std::vector<Node> out;
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      Node node = g_.nodes[i];
      NodeDecision& d = report_.nodes[i];
      d.reason = reason_kept(node);
      d.quantized = d.reason.empty() || moves_operands[i];
      const bool bf16_operands = rounds_operands(node);
      const bool in_half = d.quantized;  // reads and writes the half type
      if (moves_operands[i]) d.reason = "runs in bfloat16 (moves products' operands)";
      if (in_half && !moves_operands[i]) d.reason = fmt::format("runs in {}", dtype_name(half_));
      if (bf16_operands) d.reason = "bfloat16 operands, float32 arithmetic";
      d.quantized = in_half || bf16_operands;
      (d.quantized ? report_.quantized_nodes : report_.skipped_nodes)++;
      for (size_t k = 0; k < node.inputs.size(); ++k) {
        std::string& in = node.inputs[k];
        if (in.empty() || !is_f32_source(in)) continue;
        // eq. (158): X and W of Conv/ConvTranspose, A and B of MatMul/Gemm (not the bias)
        in = bf16_operands && k < 2 ? rounded(in, out) : as(in, in_half, out);
      }
      for (const std::string& y : node.outputs) {
        if (in_half && !y.empty() && is_f32(y)) set_half(y);
      }
      out.push_back(std::move(node));
    }
    g_.nodes = std::move(out);
    for (const std::string& y : g_.outputs) fix_output(y);
  }

 private:
  // eq. (158): the products whose operands are rounded in bfloat16 mode.
  bool rounds_operands(const Node& node) const {
    return half_ == DType::kBFloat16 && node.domain.empty() && is_product(node.op_type) &&
           skip_reason(node).empty();
  }

  // bfloat16 mode: the data-movement nodes whose every output is read only as a rounded product
  // operand or by another such node (the heads' Reshape/Transpose/Split between a transformer's
  // products). They move bfloat16 values, rounded once where the chain starts, since rounding
  // commutes with moving; per node index.
  std::vector<bool> moves_only_operands() const {
    std::vector<bool> moves(g_.nodes.size(), false);
    if (half_ != DType::kBFloat16) return moves;
    std::map<std::string, std::vector<std::pair<size_t, size_t>>> readers;
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      for (size_t k = 0; k < g_.nodes[i].inputs.size(); ++k) {
        readers[g_.nodes[i].inputs[k]].emplace_back(i, k);
      }
    }
    const std::set<std::string> outputs(g_.outputs.begin(), g_.outputs.end());
    for (size_t i = g_.nodes.size(); i-- > 0;) {
      const Node& n = g_.nodes[i];
      if (!n.domain.empty() || element_moving_ops().count(n.op_type) == 0 ||
          !skip_reason(n).empty()) {
        continue;
      }
      bool only_operands = true, any_float = false;
      for (const std::string& y : n.outputs) {
        if (y.empty()) continue;
        any_float |= is_f32(y);
        const auto it = readers.find(y);
        if (outputs.count(y) || it == readers.end()) {
          only_operands = false;
          break;
        }
        for (const auto& [r, k] : it->second) {
          const bool operand = rounds_operands(g_.nodes[r]) && k < 2;
          only_operands &= operand || (r > i && moves[r]);
        }
      }
      moves[i] = only_operands && any_float;
    }
    return moves;
  }

  std::string reason_kept(const Node& node) const {
    if (!node.domain.empty() || half_precision_ops(half_).count(node.op_type) == 0) {
      return fmt::format("kept in float (not in the {} op list)", dtype_name(half_));
    }
    return skip_reason(node);
  }

  std::string skip_reason(const Node& node) const {
    if (recipe_.skip_op_types.count(node.op_type)) return "op type skipped by the recipe";
    for (const auto& s : recipe_.skip_nodes) {
      if (fnmatch(s.c_str(), node.name.c_str(), 0) == 0)
        return "skipped by the recipe ('" + s + "')";
    }
    return "";
  }

  bool is_f32(const std::string& v) const {
    const ValueInfo* info = g_.info(v);
    return info && info->dtype == DType::kFloat32;
  }
  // A value whose original type is float32 (now stored as half or not).
  bool is_f32_source(const std::string& v) const {
    if (const Tensor* t = g_.initializer(v)) return t->dtype() == DType::kFloat32;
    return is_f32(v) || halves_.count(v);
  }
  void set_half(const std::string& v) {
    g_.values[v].dtype = half_;
    halves_.insert(v);
    ++report_.activation_tensors;
  }

  // The half copy of a float32 initializer (eq. (68) or (69)).
  std::string half_initializer(const std::string& v) {
    auto done = half_inits_.find(v);
    if (done != half_inits_.end()) return done->second;
    const Tensor& t = *g_.initializer(v);
    Tensor h = Tensor::empty(half_, t.shape());
    const float* src = t.data<float>();
    auto* dst = static_cast<uint16_t*>(h.raw_data());
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (half_ == DType::kFloat16) {
        const float clamped =
            std::isfinite(src[i]) ? std::clamp(src[i], -kHalfMax, kHalfMax) : src[i];
        clamped_ += clamped != src[i];
        dst[i] = float_to_half(clamped);
      } else {
        dst[i] = float_to_bfloat16(src[i]);
      }
    }
    report_.weight_bytes_before += t.nbytes();
    report_.weight_bytes_after += h.nbytes();
    ++report_.weight_tensors;
    const std::string name = g_.unique_name(v + "_" + std::string(dtype_name(half_)));
    g_.values[name] = ValueInfo{half_, symbolic(t.shape()), ""};
    g_.initializers[name] = std::move(h);
    half_inits_[v] = name;
    return name;
  }

  // `v` (originally float32) as the reader needs it: half or float32.
  std::string as(const std::string& v, bool want_half, std::vector<Node>& out) {
    std::string source = v;
    bool have_half = halves_.count(v) != 0;
    if (g_.is_initializer(v)) {
      // Weights are stored half whoever reads them; a single value read in float32 is a
      // parameter of the op's function (GELU's √2, an ε), not a weight, and stays exact.
      if (!want_half && g_.initializer(v)->numel() == 1) return v;
      source = half_initializer(v);
      have_half = true;
    }
    if (have_half == want_half) return source;
    return cast_once(source, want_half ? half_ : DType::kFloat32,
                     v + (want_half ? "_half" : "_float"), out);
  }

  // `v` (originally float32) rounded to the half type and read as float32 (eq. (158)).
  std::string rounded(const std::string& v, std::vector<Node>& out) {
    if (g_.is_initializer(v)) return as(v, false, out);  // stored half already
    return cast_once(as(v, true, out), DType::kFloat32, v + "_rounded", out);
  }

  // One Cast of `source` to `to` however many readers ask for it.
  std::string cast_once(const std::string& source, DType to, const std::string& hint,
                        std::vector<Node>& out) {
    const auto key = std::make_pair(source, to);
    auto done = casts_.find(key);
    if (done != casts_.end()) return done->second;
    const std::string name = g_.unique_name(hint);
    const ValueInfo* info = g_.info(source);
    g_.values[name] = ValueInfo{to, info ? info->shape : std::nullopt, ""};
    out.push_back(cast_node(source, to, name));
    casts_[key] = name;
    return name;
  }

  // A graph output in the type the options ask for: the producer writes a renamed value and a
  // Cast writes the output.
  void fix_output(const std::string& y) {
    const bool is_half = halves_.count(y) != 0;
    const bool want_half = !keep_io_ && (is_half || is_f32(y));
    if (is_half == want_half || !(is_half || is_f32(y))) return;
    const std::string renamed = g_.unique_name(y + (is_half ? "_half" : "_float"));
    for (Node& n : g_.nodes) {
      for (std::string& o : n.outputs) o = o == y ? renamed : o;
      for (std::string& in : n.inputs) in = in == y ? renamed : in;
    }
    g_.values[renamed] = g_.values[y];
    const DType to = want_half ? half_ : DType::kFloat32;
    g_.values[y].dtype = to;
    g_.nodes.push_back(cast_node(renamed, to, y));
  }

 private:
  Graph& g_;
  const QuantRecipe& recipe_;
  DType half_;
  bool keep_io_;
  QuantizeReport& report_;
  std::set<std::string> halves_;
  std::map<std::string, std::string> half_inits_;
  std::map<std::pair<std::string, DType>, std::string> casts_;
  int64_t clamped_ = 0;
};

void check_float32_only(const Graph& g) {
  for (const auto& [name, t] : g.initializers) {
    QUENCH_CHECK(t.dtype() != DType::kFloat16 && t.dtype() != DType::kBFloat16,
                 ErrorKind::kInvalidArgument,
                 "the model already holds {} tensors (initializer '{}'); convert the FP32 model",
                 dtype_name(t.dtype()), name);
  }
  for (const auto& [name, info] : g.values) {
    QUENCH_CHECK(info.dtype != DType::kFloat16 && info.dtype != DType::kBFloat16,
                 ErrorKind::kInvalidArgument,
                 "the model already holds {} values ('{}'); convert the FP32 model",
                 dtype_name(info.dtype), name);
  }
}

}  // namespace

const std::set<std::string>& half_precision_ops(DType type) {
  static const std::set<std::string> fp16 = [] {
    std::set<std::string> ops = {"Conv",         "ConvTranspose", "MatMul",
                                 "Gemm",         "Relu",          "Clip",
                                 "LeakyRelu",    "Sigmoid",       "Tanh",
                                 "HardSigmoid",  "HardSwish",     "Erf",
                                 "Add",          "Sub",           "Mul",
                                 "Div",          "Neg",           "Abs",
                                 "MaxPool",      "AveragePool",   "GlobalAveragePool",
                                 "GlobalMaxPool"};
    ops.insert(element_moving_ops().begin(), element_moving_ops().end());
    return ops;
  }();
  QUENCH_CHECK(type == DType::kFloat16 || type == DType::kBFloat16, ErrorKind::kInvalidArgument,
               "half precision is float16 or bfloat16, not {}", dtype_name(type));
  // bfloat16 files run their arithmetic in float32 (ONNX Runtime has no bfloat16 kernels) and
  // round the products' operands (eq. (158)); data movement in bfloat16 between them would only
  // add Casts.
  static const std::set<std::string> none;
  return type == DType::kFloat16 ? fp16 : none;
}

Model convert_to_half_precision(const Model& prepared, const QuantRecipe& recipe,
                                const HalfPrecisionOptions& options, QuantizeReport* report) {
  QuantizeReport local;
  QuantizeReport& r = report ? *report : local;
  r = QuantizeReport{};
  half_precision_ops(options.type);  // checks the type
  for (const auto& s : recipe.skip_nodes) {
    QUENCH_CHECK(
        s != "first" && s != "last", ErrorKind::kInvalidArgument,
        "--skip {}: 'first' and 'last' apply to quantized layers, not to --mode fp16/bf16; "
        "name the node instead",
        s);
  }
  check_float32_only(prepared.graph);
  Model m = prepared;
  Graph& g = m.graph;
  r.nodes.resize(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    r.nodes[i].node = g.nodes[i].name;
    r.nodes[i].op_type = g.nodes[i].op_type;
  }
  HalfWriter writer(g, recipe, options, r);
  writer.run();
  QUENCH_CHECK(r.weight_tensors > 0 || r.quantized_nodes > 0, ErrorKind::kInvalidArgument,
               "the model has nothing to store in {}: no float32 weight and no op in the {} list; "
               "no file written",
               dtype_name(options.type), dtype_name(options.type));
  topological_sort(g);
  eliminate_dead_nodes(g);
  m.metadata.emplace_back(
      "quench.quantization",
      fmt::format(
          "{} weights and activations, inputs and outputs {}{}", dtype_name(options.type),
          options.keep_io_types ? "float32" : dtype_name(options.type),
          writer.clamped() ? fmt::format(", {} weights clamped to ±65504", writer.clamped()) : ""));
  quant::check_written_model(m, fmt::format("the {} model", dtype_name(options.type)), r.notes);
  return m;
}

}  // namespace quench
