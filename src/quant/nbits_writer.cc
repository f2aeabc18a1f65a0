// Weight-only blockwise 4-bit MatMul/Gemm written as com.microsoft MatMulNBits: per output
// column, blocks of `block_size` rows along K, each with a float scale and a 4-bit zero point
// (asymmetric, ONNX Runtime's default; docs/quantization.md eqs. (88)-(90)).
#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "ir/graph_index.h"
#include "ops/domains.h"
#include "quant/nbits_writer.h"
#include "quant/quant_plan.h"
#include "quant/written_model_check.h"
#include "quench/passes.h"
#include "quench/quantize.h"

namespace quench {
namespace {

constexpr int kBits = 4;
constexpr int kLevels = (1 << kBits) - 1;  // 15

struct PackedWeight {
  Tensor b;            // uint8 [N, k_blocks, block_size / 2]
  Tensor scales;       // float [N * k_blocks]
  Tensor zero_points;  // uint8 [N * ceil(k_blocks / 2)]
};

// The blocks b of W ([N][K], blocks of block_size along K) packed as MatMulNBits's inputs; K
// need not divide by block_size: the last block is padded with the zero point (eq. (90)).
PackedWeight pack(int64_t k_dim, int64_t n_dim, int64_t block_size,
                  const quant::lowbit::BlockwiseWeights& b) {
  const int64_t blocks = b.blocks;
  const int64_t blob = block_size * kBits / 8;
  const int64_t zp_bytes = (blocks + 1) / 2;
  PackedWeight p{Tensor::zeros(DType::kUInt8, {n_dim, blocks, blob}),
                 Tensor::empty(DType::kFloat32, {n_dim * blocks}),
                 Tensor::zeros(DType::kUInt8, {n_dim * zp_bytes})};
  uint8_t* q = p.b.data<uint8_t>();
  float* scales = p.scales.data<float>();
  uint8_t* zps = p.zero_points.data<uint8_t>();
  for (int64_t n = 0; n < n_dim; ++n) {
    for (int64_t j = 0; j < blocks; ++j) {
      const int64_t k0 = j * block_size, k1 = std::min(k_dim, k0 + block_size);
      const quant::lowbit::BlockGrid& grid = b.grids[n * blocks + j];
      const int zp = grid.zero_point;
      scales[n * blocks + j] = grid.scale;
      zps[n * zp_bytes + j / 2] |= static_cast<uint8_t>(zp << (4 * (j % 2)));
      uint8_t* block = q + (n * blocks + j) * blob;
      for (int64_t k = k0; k < k0 + block_size; ++k) {
        const int v = k < k1 ? b.q[n * k_dim + k] : zp;  // padding rows past K dequantize to 0
        // Element i of a block: byte i / 2, low nibble for even i (eq. (90)).
        block[(k - k0) / 2] |= static_cast<uint8_t>(v << (4 * ((k - k0) % 2)));
      }
    }
  }
  return p;
}

// Why `node` cannot be written as MatMulNBits ("" when it can).
std::string nbits_support(const Graph& g, const Node& node) {
  const Tensor* w = g.initializer(node.input(1));
  if (w == nullptr) return "weights are not constant";
  if (w->dtype() != DType::kFloat32 || w->rank() != 2) return "weights are not 2-D float";
  if (node.op_type == "Gemm") {
    if (node.attr_int("transA", 0) != 0) return "Gemm with transA";
  }
  return "";
}

// Adds `shift` (one value per column) to the float initializer `name` of shape [N] or [1, N]
// when at most one node of the original graph reads it (`index`); false when it has another
// shape or more readers.
bool fold_shift(Graph& g, const GraphIndex& index, const std::string& name,
                const std::vector<float>& shift) {
  Tensor* t = g.is_initializer(name) ? &g.initializers.at(name) : nullptr;
  const auto n = static_cast<int64_t>(shift.size());
  if (t == nullptr || t->dtype() != DType::kFloat32 || t->numel() != n ||
      t->dim(t->rank() - 1) != n || index.consumers(name).size() > 1) {
    return false;
  }
  Tensor moved = t->clone();  // tensors share storage with the caller's model
  float* v = moved.data<float>();
  for (int64_t i = 0; i < n; ++i) v[i] += shift[i];
  *t = std::move(moved);
  return true;
}

// The Add that alone reads `y` (not a graph output), with two inputs, or nullptr.
const Node* bias_add_after(const Graph& g, const GraphIndex& index, const std::string& y) {
  const std::vector<int>& readers = index.consumers(y);
  if (readers.size() != 1 || index.is_graph_output(y)) return nullptr;
  const Node& add = g.nodes[readers[0]];
  return add.op_type == "Add" && add.inputs.size() == 2 ? &add : nullptr;
}

}  // namespace

Model quant::write_matmul_nbits(const Model& prepared, QuantRecipe recipe, int64_t block_size,
                                QuantizeReport* report, const quant::NbitsChooser& choose) {
  QuantizeReport local;
  QuantizeReport& r = report ? *report : local;
  r = QuantizeReport{};
  QUENCH_CHECK(block_size >= 16 && (block_size & (block_size - 1)) == 0,
               ErrorKind::kInvalidArgument,
               "--group-size {}: MatMulNBits takes a power of two of at least 16 (32, 64, 128 are "
               "usual)",
               block_size);
  QUENCH_CHECK(recipe.node_weight_bits.empty(), ErrorKind::kUnsupported,
               "--group-size writes every selected MatMul/Gemm as 4-bit MatMulNBits; the recipe's "
               "per-node \"weight_bits\" ({} node(s)) do not apply to it: keep such nodes in float "
               "with \"skip\" instead",
               recipe.node_weight_bits.size());
  recipe.weight_only = true;
  if (recipe.op_types.empty()) recipe.op_types = {"MatMul", "Gemm"};
  for (const auto& op : recipe.op_types) {
    QUENCH_CHECK(op == "MatMul" || op == "Gemm", ErrorKind::kUnsupported,
                 "--group-size writes blockwise 4-bit MatMul and Gemm as com.microsoft "
                 "MatMulNBits; {} has no blockwise form that this build can write (Conv would "
                 "need DequantizeLinear's block_size, opset 21); remove it from \"op_types\"",
                 op);
  }
  const quant::QuantPlan plan = quant::plan_quantization(prepared.graph, recipe);
  const GraphIndex index(prepared.graph);
  Model m = prepared;
  Graph& g = m.graph;
  std::vector<Node> nodes;
  for (size_t i = 0; i < prepared.graph.nodes.size(); ++i) {
    const Node& node = prepared.graph.nodes[i];
    NodeDecision d = plan.decisions[i];
    std::string why = plan.quantized[i] ? nbits_support(g, node) : d.reason;
    if (!why.empty()) {
      d.quantized = false;
      d.reason = why;
      r.nodes.push_back(d);
      ++r.skipped_nodes;
      nodes.push_back(node);
      continue;
    }
    const Tensor& w = *g.initializer(node.input(1));
    const bool gemm = node.op_type == "Gemm";
    const bool trans_b = gemm && node.attr_int("transB", 0) != 0;
    const float alpha = gemm ? node.attr_float("alpha", 1.f) : 1.f;
    const int64_t k_dim = trans_b ? w.dim(1) : w.dim(0);
    const int64_t n_dim = trans_b ? w.dim(0) : w.dim(1);
    const float* wd = w.data<float>();
    // Gemm's alpha joins the weight before quantization: alpha·A·B = A·(alpha·B).
    std::vector<float> wnk(static_cast<size_t>(n_dim * k_dim));
    for (int64_t n = 0; n < n_dim; ++n) {
      for (int64_t k = 0; k < k_dim; ++k) {
        wnk[n * k_dim + k] = alpha * (trans_b ? wd[n * k_dim + k] : wd[k * n_dim + n]);
      }
    }
    std::optional<quant::NbitsChoice> chosen;
    if (choose) chosen = choose(node, n_dim, k_dim, wnk);
    if (chosen) {
      const quant::lowbit::BlockwiseWeights& b = chosen->blocks;
      QUENCH_CHECK(b.blocks == (k_dim + block_size - 1) / block_size && b.q.size() == wnk.size() &&
                       b.grids.size() == static_cast<size_t>(n_dim * b.blocks) &&
                       (chosen->bias_shift.empty() ||
                        chosen->bias_shift.size() == static_cast<size_t>(n_dim)),
                   ErrorKind::kInternal, "{}: chosen 4-bit blocks do not fit the weight",
                   node.describe());
    } else {
      chosen = quant::NbitsChoice{
          quant::lowbit::round_blockwise(n_dim, k_dim, wnk, block_size, kLevels), {}};
    }
    const std::vector<float>& shift = chosen->bias_shift;
    PackedWeight p = pack(k_dim, n_dim, block_size, chosen->blocks);
    const std::string base = node.input(1);
    const std::string b_name = g.unique_name(base + "_nbits");
    const std::string s_name = g.unique_name(base + "_nbits_scales");
    const std::string z_name = g.unique_name(base + "_nbits_zero_points");
    r.weight_bytes_before += w.nbytes();
    r.weight_bytes_after += p.b.nbytes() + p.scales.nbytes() + p.zero_points.nbytes();
    ++r.weight_tensors;
    g.initializers[b_name] = std::move(p.b);
    g.initializers[s_name] = std::move(p.scales);
    g.initializers[z_name] = std::move(p.zero_points);
    for (const auto& name : {b_name, s_name, z_name}) {
      const Tensor& t = g.initializers[name];
      g.values[name] = ValueInfo{t.dtype(), std::nullopt, ""};
    }
    const bool has_bias = gemm && node.has_input(2);
    const std::string& y = node.outputs[0];
    // beta·C of a Gemm is added in float, as in the dynamic writer (eq. (67)).
    std::string c;
    if (has_bias) {
      c = node.input(2);
      const float beta = node.attr_float("beta", 1.f);
      QUENCH_CHECK(beta == 1.f || g.is_initializer(c), ErrorKind::kUnsupported,
                   "{}: beta {} with a non-constant C is not written as MatMulNBits",
                   node.describe(), beta);
      if (beta != 1.f) {
        Tensor scaled = g.initializers.at(c).clone();
        for (float& v : scaled.values<float>()) v *= beta;
        c = g.unique_name(c + "_times_beta");
        g.values[c] = ValueInfo{DType::kFloat32, std::nullopt, ""};
        g.initializers[c] = std::move(scaled);
      }
    }
    // A bias shift (eq. (146)) joins Gemm's beta·C, or the bias Add after a MatMul, where they
    // are constants of shape [N] read only there; else it gets an Add of its own.
    bool own_add = !shift.empty();
    if (own_add && has_bias) own_add = !fold_shift(g, index, c, shift);
    const Node* after = own_add && !gemm ? bias_add_after(prepared.graph, index, y) : nullptr;
    if (after != nullptr) {
      own_add = !fold_shift(g, index, after->inputs[after->inputs[0] == y ? 1 : 0], shift);
    }
    // Unnamed nodes are named from their output, so that the new nodes' names stay unique.
    const std::string at = node.name.empty() ? y : node.name;
    Node mm;
    mm.name = at + "/MatMulNBits";
    mm.op_type = "MatMulNBits";
    mm.domain = kMsDomain;
    mm.inputs = {node.input(0), b_name, s_name, z_name};
    const std::string product = has_bias || own_add ? g.unique_name(y + "_product") : y;
    mm.outputs = {product};
    mm.set_attr("K", k_dim);
    mm.set_attr("N", n_dim);
    mm.set_attr("bits", static_cast<int64_t>(kBits));
    mm.set_attr("block_size", block_size);
    if (product != y) g.values[product] = ValueInfo{DType::kFloat32, std::nullopt, ""};
    nodes.push_back(mm);
    std::string last = product;  // the value the next Add reads
    if (has_bias) {
      Node add;
      add.name = at + "/Add";
      add.op_type = "Add";
      add.inputs = {product, c};
      last = own_add ? g.unique_name(y + "_biased") : y;
      add.outputs = {last};
      if (last != y) g.values[last] = ValueInfo{DType::kFloat32, std::nullopt, ""};
      nodes.push_back(add);
    }
    if (own_add) {
      const std::string shift_name = g.unique_name(node.input(1) + "_bias_shift");
      g.initializers[shift_name] = Tensor::from_vector<float>({n_dim}, shift);
      g.values[shift_name] = ValueInfo{DType::kFloat32, std::nullopt, ""};
      Node add;
      add.name = at + "/BiasCorrection";
      add.op_type = "Add";
      add.inputs = {last, shift_name};
      add.outputs = {y};
      nodes.push_back(add);
    }
    d.quantized = true;
    d.reason = fmt::format("MatMulNBits, 4-bit blocks of {}", block_size);
    r.nodes.push_back(d);
    ++r.quantized_nodes;
  }
  QUENCH_CHECK(r.quantized_nodes > 0, ErrorKind::kInvalidArgument,
               "--group-size: the model has no MatMul or Gemm with a constant 2-D float weight to "
               "write as MatMulNBits; no file written");
  g.nodes = std::move(nodes);
  if (g.opset(kMsDomain) == 0) g.opsets[kMsDomain] = 1;
  topological_sort(g);
  eliminate_dead_nodes(g);
  m.metadata.emplace_back(
      "quench.quantization",
      fmt::format("weight-only, 4-bit MatMulNBits, blocks of {}, asymmetric", block_size));
  quant::check_written_model(m, "the quantized model", r.notes);
  return m;
}

Model quantize_matmul_nbits(const Model& prepared, QuantRecipe recipe, int64_t block_size,
                            QuantizeReport* report) {
  return quant::write_matmul_nbits(prepared, std::move(recipe), block_size, report, nullptr);
}

}  // namespace quench
