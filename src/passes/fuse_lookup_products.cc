// fuse_lookup_products (passes/runtime_passes.h): QLinearMul(x, QLookup(x)) becomes one QLookup
// (docs/quantization.md eq. (149)).
#include "ir/graph_index.h"
#include "ops/domains.h"
#include "ops/evaluate.h"
#include "ops/quantized/integer_products.h"
#include "passes/runtime_passes.h"

namespace quench {
namespace {

bool scalar_constant(const Graph& g, const std::string& value) {
  const Tensor* t = g.initializer(value);
  return t != nullptr && t->numel() == 1;
}

// The 256 values of an 8-bit type in increasing order (the order of a QLookup table).
Tensor every_value(DType type) {
  Tensor t = Tensor::empty(type, {256});
  visit_quant_type(type, [&](auto q) {
    using Q = typename decltype(q)::type;
    for (int i = 0; i < 256; ++i) t.data<Q>()[i] = static_cast<Q>(kQuantMin<Q> + i);
  });
  return t;
}

}  // namespace

int fuse_lookup_products(Graph& g) {
  GraphIndex index(g);
  int fused = 0;
  for (Node& mul : g.nodes) {
    if (mul.op_type != "QLinearMul" || mul.domain != kMsDomain || mul.inputs.size() != 8) continue;
    bool params_constant = true;
    for (size_t k : {1, 2, 4, 5, 6, 7}) {
      params_constant = params_constant && scalar_constant(g, mul.input(k));
    }
    if (!params_constant) continue;
    for (const size_t side : {size_t{3}, size_t{0}}) {  // the QLookup's output as B, or as A
      const size_t other = 3 - side;
      const int p = index.producer(mul.input(side));
      if (p < 0) continue;
      const Node& lookup = g.nodes[p];
      if (lookup.op_type != "QLookup" || lookup.domain != kInternalDomain ||
          lookup.input(0) != mul.input(other)) {
        continue;
      }
      const Tensor* table = g.initializer(lookup.input(1));
      const ValueInfo* x_info = g.info(lookup.input(0));
      if (table == nullptr || x_info == nullptr || !is_quant_type(x_info->dtype)) continue;
      // eq. (149): the product at each of the 256 values of x, by the reference QLinearMul.
      const Tensor x = every_value(x_info->dtype);
      std::vector<const Tensor*> args;
      for (const auto& in : mul.inputs) args.push_back(g.initializer(in));
      args[other] = &x;
      args[side] = table;  // table[v − q_min] is f(x) at x's v-th value
      Tensor product = evaluate_node(mul, g.opset(kMsDomain), args).at(0);
      const std::string name = g.unique_name(mul.outputs[0] + "_table");
      g.info_mut(name) = ValueInfo{product.dtype(), symbolic(product.shape()), ""};
      g.initializers[name] = std::move(product);
      const std::string input = mul.input(other);
      mul.op_type = "QLookup";
      mul.domain = kInternalDomain;
      mul.inputs = {input, name};
      mul.attributes.clear();
      ++fused;
      break;
    }
  }
  return fused;
}

}  // namespace quench
