// train_model(): FP32 training of every weight of a model (the loop is train/loop.cc).
#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "quench/error.h"
#include "quench/train.h"
#include "train/loop.h"
#include "train/process_group.h"
#include "train/tape.h"

namespace quench {

namespace {

// Fan-in of a weight as its consumer reads it: Conv [M, C/g, k...] -> C/g·Πk; Gemm/MatMul B
// [K, N] -> K ([N, K] -> K with transB).
int64_t fan_in(const Graph& g, const std::string& name, const Tensor& w) {
  for (const Node& node : g.nodes) {
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i] != name) continue;
      if (node.op_type == "Gemm" && i == 1) {
        return node.attr_int("transB", 0) != 0 ? w.dim(1) : w.dim(0);
      }
      if (node.op_type == "MatMul" && i == 1) return w.dim(-2);
    }
  }
  return w.numel() / w.dim(0);
}

// (T16) Kaiming normal: W ~ N(0, 2 / fan_in); biases 0; batch norms scale 1, bias 0, mean 0,
// variance 1.
void initialise(Model& model, const std::vector<std::string>& params, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Graph& g = model.graph;
  for (const std::string& name : params) {
    Tensor& w = g.initializers.at(name);
    if (w.rank() < 2) {
      for (float& v : w.values<float>()) v = 0.0f;
      continue;
    }
    std::normal_distribution<float> dist(
        0.0f, std::sqrt(2.0f / static_cast<float>(std::max<int64_t>(1, fan_in(g, name, w)))));
    for (float& v : w.values<float>()) v = dist(rng);
  }
  for (const Node& node : g.nodes) {
    if (node.op_type != "BatchNormalization") continue;
    const float fill[] = {1.0f, 0.0f, 0.0f, 1.0f};  // scale, bias, mean, var
    for (size_t i = 1; i < node.inputs.size() && i <= 4; ++i) {
      auto it = g.initializers.find(node.inputs[i]);
      if (it == g.initializers.end() || it->second.dtype() != DType::kFloat32) continue;
      for (float& v : it->second.values<float>()) v = fill[i - 1];
    }
  }
}

}  // namespace

TrainResult train_model(const Model& model, const Dataset& train_data, const Dataset* val,
                        const TrainOptions& o) {
  if (model.graph.outputs.empty()) {
    throw Error(ErrorKind::kInvalidModel, "the model has no output to train");
  }
  check_train_options(o);
  Model work = model;
  const std::vector<std::string> params = train::default_parameters(work.graph);
  if (params.empty()) {
    throw Error(ErrorKind::kInvalidModel, "the model has no float weights to train");
  }
  if (o.init_random) initialise(work, params, o.seed);
  train::Tape tape(work.graph, params);  // refuses ops without a gradient before any work

  train::LoopHooks hooks;
  hooks.checkpoint_settings = {{"run", "train"}, {"init", o.init_random ? "random" : "keep"}};
  return train::run_training(tape, work, train_data, val, o, hooks);
}

TrainProcess train_process() {
  const train::ProcessGroup& group = train::ProcessGroup::world();
  return {group.rank(), group.size()};
}

}  // namespace quench
