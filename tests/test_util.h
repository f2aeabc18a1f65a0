// Helpers for tests: building nodes and graphs, running one op, comparing tensors.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "ops/evaluate.h"
#include "ops/op_registry.h"
#include "quench/graph.h"

namespace quench::testing {

// A node with attributes given as {name, value} pairs.
inline Node make_node(std::string op_type, std::vector<std::string> inputs,
                      std::vector<std::string> outputs,
                      std::initializer_list<std::pair<std::string, AttributeValue>> attrs = {},
                      std::string domain = "") {
  Node n;
  n.op_type = std::move(op_type);
  n.name = n.op_type + "_under_test";
  n.domain = std::move(domain);
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  for (const auto& [k, v] : attrs) n.set_attr(k, v);
  return n;
}

// A tensor of `shape` holding `values`.
template <class T>
Tensor make(Shape shape, std::vector<T> values) {
  return Tensor::from_vector<T>(std::move(shape), values);
}

// Same type, shape and bytes; the failure prints both.
inline ::testing::AssertionResult same(const Tensor& got, const Tensor& want) {
  if (got.equals(want)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << dtype_name(got.dtype()) << " " << shape_str(got.shape()) << " "
         << ::testing::PrintToString(got.to_double_vector()) << ", want "
         << dtype_name(want.dtype()) << " " << shape_str(want.shape()) << " "
         << ::testing::PrintToString(want.to_double_vector());
}

// Float32 values uniform in [lo, hi).
inline Tensor random_tensor(const Shape& shape, std::mt19937& rng, float lo = -1.f,
                            float hi = 1.f) {
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t = Tensor::empty(DType::kFloat32, shape);
  for (float& v : t.values<float>()) v = u(rng);
  return t;
}
inline Tensor random_tensor(const Shape& shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  return random_tensor(shape, rng, lo, hi);
}

// Runs `node` once with its reference kernel.
inline std::vector<Tensor> run_node(const Node& node, const std::vector<Tensor>& inputs,
                                    int64_t opset = 17) {
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : inputs) ptrs.push_back(t.defined() ? &t : nullptr);
  return evaluate_node(node, opset, ptrs);
}

// Shape inference of `node` alone: types/shapes of its inputs (nullopt shape = unknown rank) and
// optional constant values; returns the inferred output infos.
inline std::vector<ValueInfo> infer_node(const Node& node, const std::vector<ValueInfo>& inputs,
                                         int64_t opset = 17,
                                         const std::vector<const Tensor*>& constants = {}) {
  std::vector<const ValueInfo*> ptrs;
  for (const ValueInfo& v : inputs) ptrs.push_back(v.dtype == DType::kUndefined ? nullptr : &v);
  std::vector<const Tensor*> consts = constants;
  consts.resize(inputs.size(), nullptr);
  std::vector<ValueInfo> outputs(node.outputs.size());
  const OpDef* def = op_registry().find(node.domain, node.op_type);
  if (def == nullptr) throw Error(ErrorKind::kUnsupported, "op not registered: " + node.op_type);
  InferContext ctx(node, opset, ptrs, consts, outputs);
  def->infer(ctx);
  return outputs;
}

// |got - want| <= atol + rtol * |want| for every element (float tensors), NaN equal to NaN.
inline ::testing::AssertionResult tensors_near(const Tensor& got, const Tensor& want, double atol,
                                               double rtol) {
  if (got.shape() != want.shape()) {
    return ::testing::AssertionFailure()
           << "shape " << shape_str(got.shape()) << " != " << shape_str(want.shape());
  }
  const auto g = got.to_double_vector();
  const auto w = want.to_double_vector();
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(g[i]) && std::isnan(w[i])) continue;
    if (g[i] == w[i]) continue;  // includes equal infinities
    if (!(std::abs(g[i] - w[i]) <= atol + rtol * std::abs(w[i]))) {
      return ::testing::AssertionFailure() << "element " << i << ": got " << g[i] << ", want "
                                           << w[i] << " (atol " << atol << ", rtol " << rtol << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

using quench::TempDir;  // a temporary folder removed when the object goes away

// Path of a bundled test model (tests/models/).
inline std::filesystem::path test_model(const std::string& name) {
  return std::filesystem::path(QUENCH_TEST_MODELS) / name;
}

}  // namespace quench::testing
