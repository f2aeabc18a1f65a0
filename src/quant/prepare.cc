// The FP32 graph that calibration and quantization share.
#include "core/check.h"
#include "quench/passes.h"
#include "quench/quantize.h"

namespace quench {
namespace {

bool is_quantized_op(const Node& n) {
  static const std::set<std::string> kOps = {
      "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv",
      "QLinearMatMul",  "ConvInteger",      "MatMulInteger",         "QGemm",
      "QLinearAdd",     "QLinearMul",       "DynamicQuantizeLSTM"};
  return kOps.count(n.op_type) != 0;
}

}  // namespace

Model prepare_for_quantization(const Model& fp32) {
  Model m = fp32;
  Graph& g = m.graph;
  for (const Node& n : g.nodes) {
    QUENCH_CHECK(!is_quantized_op(n), ErrorKind::kInvalidArgument,
                 "the model is already quantized ({} found); quantize the FP32 model instead",
                 n.describe());
  }
  const int64_t opset = g.opset("");
  QUENCH_CHECK(opset >= 13, ErrorKind::kUnsupported,
               "the model imports opset {} of the default domain; quench writes QDQ models with "
               "per-axis quantization, which needs opset 13 or later",
               opset);
  verify_graph(g);
  infer_shapes(g, InferOptions{true});
  fold_constants(g);
  fold_batch_norms(g);
  eliminate_dead_nodes(g);
  infer_shapes(g);
  return m;
}

}  // namespace quench
