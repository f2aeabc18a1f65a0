// Finite-difference gradient checks for the training tests: a graph whose float initializers
// are all trained, the loss sum(Y * R) for a fixed random R, and central differences per element.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "quench/graph.h"
#include "train/tape.h"

namespace quench::train::testing {

// Central differences in float32: a step large enough for float rounding to stay small against
// it, and tolerances that cover the O(step^2) truncation of smooth ops.
inline constexpr float kFdStep = 1e-2f;
inline constexpr double kFdAbsTol = 5e-3;
inline constexpr double kFdRelTol = 1e-2;

inline Tensor random_tensor(Shape shape, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f,
                            float avoid = 0.0f) {
  Tensor t = Tensor::empty(DType::kFloat32, std::move(shape));
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float& v : t.values<float>()) {
    do {
      v = dist(rng);
    } while (std::fabs(v) < avoid);
  }
  return t;
}

// A one-node graph `op` with inputs in0.. (all initializers, all trained) and output "y".
// A fast kernel's float result against the reference's: each element within `tol` times the
// largest |want| (at least 1e-6); the first three elements that are not, and their count, fail.
inline void expect_close(const Tensor& got, const Tensor& want, double tol,
                         const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  double scale = 1e-6;
  for (float v : want.values<float>()) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  int bad = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double d = std::fabs(static_cast<double>(got.data<float>()[i]) - want.data<float>()[i]);
    if (d > tol * scale && ++bad <= 3) {
      ADD_FAILURE() << what << "[" << i << "]: " << got.data<float>()[i] << " vs "
                    << want.data<float>()[i] << " (tolerance " << tol * scale << ")";
    }
  }
  EXPECT_EQ(bad, 0) << what;
}

inline Graph single_node_graph(const std::string& op, const std::vector<Tensor>& inputs,
                               std::map<std::string, AttributeValue> attributes = {}) {
  Graph g;
  g.opsets[""] = 17;
  Node n;
  n.name = "n0";
  n.op_type = op;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string name = "in" + std::to_string(i);
    if (!inputs[i].defined()) {
      n.inputs.push_back("");
      continue;
    }
    g.initializers[name] = inputs[i];
    n.inputs.push_back(name);
  }
  n.outputs = {"y"};
  for (auto& [k, v] : attributes) n.set_attr(k, v);
  g.nodes.push_back(n);
  g.outputs = {"y"};
  return g;
}

inline double weighted_sum(const Tensor& y, const Tensor& r) {
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i)
    s += static_cast<double>(y.data<float>()[i]) * r.data<float>()[i];
  return s;
}

// Checks the tape's gradients of every parameter against central differences; `scale_analytic`
// lets a test confirm that a wrong gradient is caught. Returns the number of mismatches.
inline int gradient_mismatches(const Graph& graph, const std::vector<std::string>& params,
                               const std::string& output, uint32_t seed,
                               double scale_analytic = 1.0, bool report = true,
                               bool freeze_batch_norm = false) {
  std::mt19937 rng(seed);
  Tape tape(graph, params);
  tape.set_batch_norm_frozen(freeze_batch_norm);
  tape.forward({});
  const Tensor r = random_tensor(tape.value(output).shape(), rng);
  const auto grads = tape.backward(output, r);
  int mismatches = 0;
  for (const std::string& name : params) {
    Tensor& p = tape.parameters().at(name);
    const Tensor& g = grads.at(name);
    for (int64_t i = 0; i < p.numel(); ++i) {
      float* v = p.data<float>() + i;
      const float saved = *v;
      *v = saved + kFdStep;
      tape.forward({});
      const double plus = weighted_sum(tape.value(output), r);
      *v = saved - kFdStep;
      tape.forward({});
      const double minus = weighted_sum(tape.value(output), r);
      *v = saved;
      const double numeric = (plus - minus) / (2.0 * kFdStep);
      const double analytic = g.data<float>()[i] * scale_analytic;
      if (std::fabs(numeric - analytic) > kFdAbsTol + kFdRelTol * std::fabs(numeric)) {
        ++mismatches;
        if (report && mismatches <= 5) {
          ADD_FAILURE() << name << "[" << i << "]: analytic " << analytic << ", numeric "
                        << numeric;
        }
      }
    }
  }
  return mismatches;
}

inline std::vector<std::string> all_initializers(const Graph& g) {
  std::vector<std::string> names;
  for (const auto& [name, t] : g.initializers) names.push_back(name);
  return names;
}

}  // namespace quench::train::testing
