// Helpers shared by the tests of quantized ops: small typed tensors and running a node with its
// parameters known at build time and at run time.
#pragma once

#include <vector>

#include "quench/session.h"
#include "test_util.h"

namespace quench::testing {

inline Tensor f32(Shape shape, std::vector<float> v) {
  return Tensor::from_vector(std::move(shape), v);
}
inline Tensor u8(Shape shape, std::vector<uint8_t> v) {
  return Tensor::from_vector(std::move(shape), v);
}
inline Tensor s8(Shape shape, std::vector<int8_t> v) {
  return Tensor::from_vector(std::move(shape), v);
}
inline Tensor i32(Shape shape, std::vector<int32_t> v) {
  return Tensor::from_vector(std::move(shape), v);
}

// Runs `node` twice: with run_node, where every input is constant when the kernel is built (so
// parameters are prepared), and in a session where every input is a graph input (so they are read
// at run time). Both must give the same bits; returns the first.
inline std::vector<Tensor> run_both(const Node& node, const std::vector<Tensor>& inputs,
                                    int64_t opset = 17) {
  const std::vector<Tensor> prepared = run_node(node, inputs, opset);
  Model model;
  Graph& g = model.graph;
  g.opsets[""] = opset;
  g.opsets["com.microsoft"] = 1;
  std::vector<Tensor> fed;
  Node graph_node = node;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) {
      graph_node.inputs[i].clear();  // absent in the graph
      continue;
    }
    g.inputs.push_back(node.inputs[i]);
    g.values[node.inputs[i]] = ValueInfo{inputs[i].dtype(), symbolic(inputs[i].shape()), ""};
    fed.push_back(inputs[i]);
  }
  for (const std::string& out : node.outputs) {
    if (!out.empty()) g.outputs.push_back(out);
  }
  g.nodes = {graph_node};
  SessionOptions options;
  options.threads = 1;
  options.fast_kernels = false;
  const std::vector<Tensor> at_run_time = Session(std::move(model), options).run(fed);
  EXPECT_EQ(prepared.size(), at_run_time.size());
  for (size_t i = 0; i < prepared.size() && i < at_run_time.size(); ++i) {
    EXPECT_TRUE(prepared[i].equals(at_run_time[i])) << node.op_type << " output " << i;
  }
  return prepared;
}

}  // namespace quench::testing
