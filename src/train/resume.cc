#include "train/resume.h"

#include <cstring>

#include <fmt/format.h>

#include "core/check.h"

namespace quench::train {

namespace {

std::string own_prefix(size_t index) { return fmt::format("optimizer/own/{}/", index); }

void restore_into(Tensor& target, const std::map<std::string, Tensor>& tensors,
                  const std::string& key) {
  auto it = tensors.find(key);
  QUENCH_CHECK(it != tensors.end(), ErrorKind::kIo, "the checkpoint has no tensor '{}'", key);
  QUENCH_CHECK(it->second.dtype() == target.dtype() && it->second.shape() == target.shape(),
               ErrorKind::kIo, "checkpoint tensor '{}' is {} {}, the model's {} {}", key,
               dtype_name(it->second.dtype()), shape_str(it->second.shape()),
               dtype_name(target.dtype()), shape_str(target.shape()));
  // In place: the optimizers and hooks may hold the same storage.
  std::memcpy(target.raw_data(), it->second.raw_data(), target.nbytes());
}

}  // namespace

CheckpointKey checkpoint_key(const Tape& tape, const Loader& loader, const TrainOptions& o,
                             int64_t total_steps, int processes,
                             const std::map<std::string, std::string>& extra) {
  CheckpointKey key;
  for (const auto& [name, p] : tape.parameters()) key.parameters[name] = p.shape();
  const Graph& g = tape.graph();
  Digest graph;
  for (const Node& n : g.nodes) {
    graph.add(n.op_type);
    graph.add(n.name);
    for (const std::string& s : n.inputs) graph.add(s);
    for (const std::string& s : n.outputs) graph.add(s);
  }
  // The graph's initializers hold every starting value, the trained parameters' included.
  for (const auto& [name, t] : g.initializers) {
    graph.add(name);
    graph.add(t.raw_data(), t.nbytes());
  }
  key.start_hash = graph.hex();
  Digest labels;
  labels.add(loader.labels().data(), loader.labels().size() * sizeof(int64_t));
  key.settings = {{"training samples", std::to_string(loader.size())},
                  {"labels digest", labels.hex()},
                  {"processes", std::to_string(processes)},
                  {"steps", std::to_string(total_steps)},
                  {"batch", std::to_string(o.batch)},
                  {"seed", std::to_string(o.seed)},
                  {"lr", fmt::format("{}", o.lr)},
                  {"optimizer", o.optimizer},
                  {"momentum", fmt::format("{}", o.momentum)},
                  {"nesterov", o.nesterov ? "yes" : "no"},
                  {"weight decay", fmt::format("{}", o.weight_decay)},
                  {"schedule", o.schedule},
                  {"warm-up steps", std::to_string(o.warmup_steps)},
                  {"step size", std::to_string(o.step_size)},
                  {"gamma", fmt::format("{}", o.gamma)},
                  {"crop padding", std::to_string(o.crop_padding)},
                  {"flip", o.flip ? "yes" : "no"},
                  {"freeze-bn-after", std::to_string(o.freeze_bn_after)}};
  for (const auto& [name, value] : extra) key.settings[name] = value;
  return key;
}

std::map<std::string, Tensor> capture_state(const Tape& tape, const Optimizers& optimizers) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, p] : tape.parameters()) out["parameter/" + name] = p.clone();
  for (const auto& [name, b] : tape.buffers()) {
    if (b.dtype() == DType::kFloat32 || b.dtype() == DType::kInt64)
      out["buffer/" + name] = b.clone();
  }
  optimizers.shared->save_state("optimizer/shared/", out);
  size_t i = 0;
  for (const auto& [name, opt] : optimizers.own) opt->save_state(own_prefix(i++), out);
  return out;
}

void restore_state(Tape& tape, Optimizers& optimizers,
                   const std::map<std::string, Tensor>& tensors) {
  for (auto& [name, p] : tape.parameters()) restore_into(p, tensors, "parameter/" + name);
  for (auto& [name, b] : tape.buffers()) {
    if (b.dtype() == DType::kFloat32 || b.dtype() == DType::kInt64) {
      restore_into(b, tensors, "buffer/" + name);
    }
  }
  optimizers.shared->load_state("optimizer/shared/", tensors, tape.parameters());
  size_t i = 0;
  for (auto& [name, opt] : optimizers.own) {
    opt->load_state(own_prefix(i++), tensors, tape.parameters());
  }
}

}  // namespace quench::train
