// Session: prepares a model once per input-shape signature (kernel choice, weight packing,
// memory planning) and runs it many times. run() is safe to call from several threads at once.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "quench/graph.h"

namespace quench {

struct SessionOptions {
  int threads = 0;              // threads per run; 0: OpenMP's default (all cores)
  bool fast_kernels = true;     // false: reference kernels only
  bool fuse = true;             // fuse activations, residual adds, batch norms into producers
  size_t max_cached_plans = 8;  // input-shape signatures kept prepared
};

// Called after each node with each output the node computed (plain layout, valid only during
// the call). Runs with a callback see every value of the graph: nothing is fused away.
using TensorCallback = std::function<void(const std::string& value, const Tensor& tensor)>;

struct RunOptions {
  TensorCallback on_tensor;
  // When set, receives the wall time in milliseconds of each step of the plan (in the order of
  // plan_steps()), added to what it already holds.
  std::vector<double>* step_ms = nullptr;
};

struct IoInfo {
  std::string name;
  DType dtype;
  SymbolicShape shape;
};

// One executed step of a prepared plan, for `inspect` and profiling.
struct StepInfo {
  std::string node;     // node name (or the value it computes)
  std::string op_type;  // op, "Reorder" for layout conversions
  std::string impl;     // kernel implementation
};

class Session {
 public:
  explicit Session(Model model, SessionOptions options = {});
  static Session load(const std::filesystem::path& path, SessionOptions options = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  const std::vector<IoInfo>& inputs() const;
  const std::vector<IoInfo>& outputs() const;
  const Graph& graph() const;  // the prepared graph (folded and verified)

  // Inputs in the order of inputs(); float inputs etc. as declared. kInvalidArgument naming the
  // input on a count, dtype or shape mismatch.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs, const RunOptions& options = {}) const;

  std::vector<StepInfo> plan_steps(const std::vector<Shape>& input_shapes) const;
  // Bytes of the activation arena for these input shapes (weights excluded).
  size_t arena_bytes(const std::vector<Shape>& input_shapes) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quench
