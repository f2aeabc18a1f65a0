// train_model(): the training loop over the tape, the loader, an optimizer and a schedule.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include <omp.h>

#include "core/progress.h"
#include "quench/error.h"
#include "quench/evaluate.h"
#include "quench/session.h"
#include "quench/train.h"
#include "train/loader.h"
#include "train/loss.h"
#include "train/optimizer.h"
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

std::string data_input(const Graph& g) {
  for (const std::string& in : g.inputs) {
    if (!g.is_initializer(in)) return in;
  }
  throw Error(ErrorKind::kInvalidModel, "the model has no input to feed");
}

// (T23) The gradients averaged over the processes of a data-parallel run: every process then
// applies the same update to the same parameters.
void average_gradients(const train::ProcessGroup& group, std::map<std::string, Tensor>& grads) {
  if (!group.distributed()) return;
  std::vector<float> flat;
  for (const auto& [name, g] : grads) {
    if (g.defined()) flat.insert(flat.end(), g.data<float>(), g.data<float>() + g.numel());
  }
  group.sum(flat);
  const float scale = 1.0f / static_cast<float>(group.size());
  size_t at = 0;
  for (auto& [name, g] : grads) {
    if (!g.defined()) continue;
    float* p = g.data<float>();
    for (int64_t i = 0; i < g.numel(); ++i) p[i] = flat[at++] * scale;
  }
}

// (T24) At the end of an epoch: batch-norm statistics (each process saw its own shards) averaged,
// and the parameters of the root given to every process (they agree up to the order of the
// sums; the root's are the ones written).
void synchronise(const train::ProcessGroup& group, train::Tape& tape) {
  if (!group.distributed()) return;
  for (auto& [name, p] : tape.parameters()) {
    group.broadcast({p.data<float>(), static_cast<size_t>(p.numel())});
  }
  for (auto& [name, b] : tape.buffers()) {
    if (b.dtype() != DType::kFloat32) continue;
    std::span<float> v{b.data<float>(), static_cast<size_t>(b.numel())};
    group.sum(v);
    for (float& x : v) x /= static_cast<float>(group.size());
  }
}

TrainResult train_loop(const Model& model, const Dataset& train_data, const Dataset* val,
                       const TrainOptions& o) {
  if (model.graph.outputs.empty()) {
    throw Error(ErrorKind::kInvalidModel, "the model has no output to train");
  }
  if (o.epochs <= 0 && o.steps <= 0) {
    throw Error(ErrorKind::kInvalidArgument, "need epochs > 0 or steps > 0");
  }
  if (!(o.lr > 0) || !std::isfinite(o.lr)) {
    throw Error(ErrorKind::kInvalidArgument, "learning rate must be > 0");
  }
  train::OptimizerOptions oo;
  oo.kind = o.optimizer;
  oo.momentum = o.momentum;
  oo.nesterov = o.nesterov;
  oo.weight_decay = o.weight_decay;
  auto optimizer = train::make_optimizer(oo);
  if (o.threads > 0) omp_set_num_threads(o.threads);
  train::ProcessGroup& group = train::ProcessGroup::world();
  const bool show = o.progress && group.is_root();

  TrainResult result{model, {}, 0, 0, 0, 0};
  Model& work = result.model;
  const std::vector<std::string> params = train::default_parameters(work.graph);
  if (params.empty()) {
    throw Error(ErrorKind::kInvalidModel, "the model has no float weights to train");
  }
  if (o.init_random) initialise(work, params, o.seed);
  train::Tape tape(work.graph, params);  // refuses ops without a gradient before any work

  train::Loader loader(train_data,
                       {o.batch, o.seed, o.crop_padding, o.flip, group.rank(), group.size()});
  const int64_t per_epoch = loader.batches_per_epoch();
  const int64_t total = o.steps > 0 ? o.steps : o.epochs * per_epoch;
  const int64_t epochs = (total + per_epoch - 1) / per_epoch;
  train::ScheduleOptions so;
  so.kind = o.schedule;
  so.total_steps = total;
  so.warmup_steps = o.warmup_steps >= 0 ? o.warmup_steps : total / 50;
  so.step_size = o.step_size > 0 ? o.step_size : std::max<int64_t>(1, total / 3);
  so.gamma = o.gamma;
  train::check_schedule(so);

  const std::string input = data_input(work.graph);
  const std::string output = work.graph.outputs[0];
  bool labels_checked = false;
  const auto start = std::chrono::steady_clock::now();
  int64_t step = 0;
  double tail_loss = 0;
  int64_t tail_count = 0;
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    loader.start_epoch(epoch);
    const int64_t steps = std::min(per_epoch, total - step);
    Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs), steps,
                      show);
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    for (int64_t i = 0; i < steps; ++i, ++step) {
      Batch batch = loader.batch(i);
      tape.forward({{input, batch.images()}});
      const Tensor& logits = tape.value(output);
      if (!labels_checked) {
        // Every label against the model's classes, once, before the first update.
        const int64_t classes = logits.rank() == 2 ? logits.dim(1) : 0;
        const auto& labels = loader.labels();
        for (size_t s = 0; s < labels.size(); ++s) {
          if (labels[s] < 0 || labels[s] >= classes) {
            throw Error(ErrorKind::kInvalidArgument,
                        "label " + std::to_string(labels[s]) + " of training sample " +
                            std::to_string(s) + " is outside [0, " + std::to_string(classes) +
                            ") (the model's output " + output + " has shape " +
                            shape_str(logits.shape()) + ")");
          }
        }
        labels_checked = true;
      }
      const train::LossResult loss = train::softmax_cross_entropy(logits, batch.labels);
      if (!std::isfinite(loss.loss)) {
        throw Error(ErrorKind::kInvalidArgument, "the loss is " + std::to_string(loss.loss) +
                                                     " at step " + std::to_string(step + 1) +
                                                     " (epoch " + std::to_string(epoch + 1) +
                                                     "); training stopped (try a lower --lr)");
      }
      if (step == 0) result.first_loss = loss.loss;
      if (step >= total - std::max<int64_t>(1, total / 10)) {
        tail_loss += loss.loss;
        ++tail_count;
      }
      loss_sum += loss.loss;
      correct += loss.correct;
      seen += static_cast<int64_t>(batch.labels.size());
      auto grads = tape.backward(output, loss.grad);
      average_gradients(group, grads);
      optimizer->step(tape.parameters(), grads, train::learning_rate(so, o.lr, step));
      if (show) {
        char detail[64];
        std::snprintf(detail, sizeof detail, "loss %.4f", loss_sum / static_cast<double>(i + 1));
        progress.set_detail(detail);
      }
      progress.update(i + 1);
    }
    progress.finish();
    synchronise(group, tape);
    double totals[] = {loss_sum, static_cast<double>(correct), static_cast<double>(seen)};
    group.sum(totals);
    loss_sum = totals[0] / group.size();
    correct = static_cast<int64_t>(totals[1]);
    seen = static_cast<int64_t>(totals[2]);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    for (const auto& [name, p] : tape.parameters()) work.graph.initializers[name] = p.clone();
    for (const auto& [name, b] : tape.buffers()) work.graph.initializers[name] = b.clone();
    TrainEpoch report;
    report.epoch = epoch + 1;
    report.steps = steps;
    report.loss = loss_sum / static_cast<double>(std::max<int64_t>(1, steps));
    report.train_accuracy =
        static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(1, seen));
    report.seconds = seconds;
    report.throughput = static_cast<double>(seen) / std::max(seconds, 1e-9);
    if (val != nullptr && group.is_root()) {
      Session session(work);
      EvalOptions eo;
      eo.batch = 256;
      eo.progress = show;
      report.val_accuracy = evaluate_accuracy(session, *val, eo).accuracy;
    }
    result.epochs.push_back(report);
    if (o.on_epoch) o.on_epoch(report);
  }
  result.steps = step;
  result.last_loss = tail_count > 0 ? tail_loss / static_cast<double>(tail_count) : 0.0;
  // Over the whole batches: each process saw its slice.
  double losses[] = {result.first_loss, result.last_loss};
  group.sum(losses);
  result.first_loss = losses[0] / group.size();
  result.last_loss = losses[1] / group.size();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace

TrainProcess train_process() {
  const train::ProcessGroup& group = train::ProcessGroup::world();
  return {group.rank(), group.size()};
}

TrainResult train_model(const Model& model, const Dataset& train_data, const Dataset* val,
                        const TrainOptions& o) {
  train::ProcessGroup& group = train::ProcessGroup::world();
  try {
    return train_loop(model, train_data, val, o);
  } catch (...) {
    group.fail();  // the other processes would wait for this one in the next collective
    throw;
  }
}

}  // namespace quench
