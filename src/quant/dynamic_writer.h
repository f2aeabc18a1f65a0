// The pieces of a dynamically quantized graph (docs/quantization.md, "Dynamic quantization"):
// new nodes and initializers, activations quantized at run time (each tensor once, shared by its
// readers) and int8 weights. dynamic_writer.cc writes MatMul, Gemm and Conv with them,
// dynamic_rnn_writer.cc LSTM and GRU.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "quant/qparams.h"
#include "quant/quant_plan.h"
#include "quench/graph.h"
#include "quench/quantize.h"

namespace quench::quant {

class DynamicBuilder {
 public:
  DynamicBuilder(Graph& g, const QuantRecipe& recipe, const DynamicQuantOptions& options,
                 QuantizeReport& report)
      : g_(g), recipe_(recipe), options_(options), report_(report) {}

  Graph& graph() { return g_; }
  const QuantRecipe& recipe() const { return recipe_; }
  const DynamicQuantOptions& options() const { return options_; }

  std::string add_initializer(const std::string& base, Tensor t);
  // Adds node `op` named `name` reading `inputs`; its one output is a new value of type `type`
  // named from `base` (returned), or, with `exact`, exactly `base` (a value the graph had).
  std::string add_node(const std::string& name, const char* op, std::vector<std::string> inputs,
                       const std::string& base, DType type, bool exact = false,
                       std::map<std::string, AttributeValue> attributes = {});
  void add(Node n) { added_.push_back(std::move(n)); }
  std::vector<Node>& added() { return added_; }

  // `value` quantized at run time. Per tensor (eq. (37)): DynamicQuantizeLinear, u8 data with a
  // scalar scale and zero point. Per token (eq. (65)): s8 data with a scale per row of the last
  // axis ([..., 1]) and no zero point.
  struct Activation {
    std::string data, scale, zero_point;
  };
  const Activation& per_tensor(const std::string& value);
  const Activation& per_token(const std::string& value);

  // A float constant as int8 with scales along `axis` (eq. (25)), counted in the report.
  WeightQuant weight(const Tensor& w, int64_t axis);

 private:
  Graph& g_;
  const QuantRecipe& recipe_;
  const DynamicQuantOptions& options_;
  QuantizeReport& report_;
  std::vector<Node> added_;
  std::map<std::string, Activation> per_tensor_, per_token_;
};

// Each appends the nodes replacing `node` (whose outputs they write) to the builder.
void write_dynamic_matmul(DynamicBuilder& b, const Node& node);
void write_dynamic_gemm(DynamicBuilder& b, const Node& node);
void write_dynamic_conv(DynamicBuilder& b, const Node& node);
void write_dynamic_lstm(DynamicBuilder& b, const Node& node);
// The GRU itself stays: returns it reading dequantized int8 W and R.
Node write_weight_only_gru(DynamicBuilder& b, const Node& node);

// int8 [rows, cols] -> [cols, rows].
Tensor transposed_2d(const Tensor& t);

}  // namespace quench::quant
