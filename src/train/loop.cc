// run_training(): the training loop over the tape, the loader, an optimizer and a schedule,
// shared by FP32 training (trainer.cc) and quantization-aware training (qat/).
#include "train/loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include <omp.h>

#include "core/progress.h"
#include "quench/error.h"
#include "quench/evaluate.h"
#include "quench/session.h"
#include "train/loader.h"
#include "train/loss.h"
#include "train/optimizer.h"
#include "train/process_group.h"

namespace quench::train {

std::string data_input(const Graph& g) {
  for (const std::string& in : g.inputs) {
    if (!g.is_initializer(in)) return in;
  }
  throw Error(ErrorKind::kInvalidModel, "the model has no input to feed");
}

void check_train_options(const TrainOptions& o) {
  if (o.freeze_bn_after < -1) {
    throw Error(ErrorKind::kInvalidArgument,
                "--freeze-bn-after must be a step >= 0 or -1 (never), got " +
                    std::to_string(o.freeze_bn_after));
  }
  if (o.epochs <= 0 && o.steps <= 0) {
    throw Error(ErrorKind::kInvalidArgument, "need epochs > 0 or steps > 0");
  }
  if (!(o.lr > 0) || !std::isfinite(o.lr)) {
    throw Error(ErrorKind::kInvalidArgument, "learning rate must be > 0");
  }
}

namespace {

// (T23) The gradients averaged over the processes of a data-parallel run: every process then
// applies the same update to the same parameters.
void average_gradients(const ProcessGroup& group, std::map<std::string, Tensor>& grads) {
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

// (T24) At the end of an epoch: batch-norm statistics (each process saw its own slices) averaged,
// and the parameters of the root given to every process (they agree up to the order of the
// sums; the root's are the ones written).
void synchronise(const ProcessGroup& group, Tape& tape) {
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

TrainResult training_loop(Tape& tape, const Model& base, const Dataset& train_data,
                          const Dataset* val, const TrainOptions& o, const LoopHooks& hooks,
                          const ProcessGroup& group) {
  const bool show = o.progress && group.is_root();
  OptimizerOptions oo;
  oo.kind = o.optimizer;
  oo.momentum = o.momentum;
  oo.nesterov = o.nesterov;
  oo.weight_decay = o.weight_decay;
  auto optimizer = make_optimizer(oo);
  if (o.threads > 0) omp_set_num_threads(o.threads);

  std::map<std::string, std::unique_ptr<Optimizer>> own;
  for (const auto& [name, factor] : hooks.own_rate) {
    OptimizerOptions nd = oo;
    nd.weight_decay = 0.f;
    own[name] = make_optimizer(nd);
  }
  const auto snapshot = [&]() {
    if (hooks.snapshot) return hooks.snapshot(tape);
    Model m = base;
    for (const auto& [name, p] : tape.parameters()) m.graph.initializers[name] = p.clone();
    for (const auto& [name, b] : tape.buffers()) m.graph.initializers[name] = b.clone();
    return m;
  };
  TrainResult result{Model{}, {}, 0, 0, 0, 0};
  Loader loader(train_data, {o.batch, o.seed, o.crop_padding, o.flip, group.rank(), group.size()});
  const int64_t per_epoch = loader.batches_per_epoch();
  const int64_t total = o.steps > 0 ? o.steps : o.epochs * per_epoch;
  const int64_t epochs = (total + per_epoch - 1) / per_epoch;
  ScheduleOptions so;
  so.kind = o.schedule;
  so.total_steps = total;
  so.warmup_steps = o.warmup_steps >= 0 ? o.warmup_steps : total / 50;
  so.step_size = o.step_size > 0 ? o.step_size : std::max<int64_t>(1, total / 3);
  so.gamma = o.gamma;
  check_schedule(so);

  const std::string input = data_input(tape.graph());
  const std::string output = tape.graph().outputs[0];
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
      tape.set_batch_norm_frozen(o.freeze_bn_after >= 0 && step >= o.freeze_bn_after);
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
      const LossResult loss =
          hooks.loss ? hooks.loss(logits, batch) : softmax_cross_entropy(logits, batch.labels);
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
      const float lr = learning_rate(so, o.lr, step);
      if (own.empty()) {
        optimizer->step(tape.parameters(), grads, lr);
      } else {
        std::map<std::string, Tensor> shared;
        for (auto& [name, p] : tape.parameters()) {
          auto it = own.find(name);
          if (it == own.end()) {
            shared.emplace(name, p);  // shares the storage: updated in place
            continue;
          }
          std::map<std::string, Tensor> one{{name, p}};
          it->second->step(one, grads, lr * hooks.own_rate.at(name));
        }
        optimizer->step(shared, grads, lr);
      }
      if (hooks.after_update) hooks.after_update(tape.parameters());
      if (show) {
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
        char detail[96];
        std::snprintf(detail, sizeof detail, "loss %.4f, %.0f samples/s",
                      loss_sum / static_cast<double>(i + 1),
                      static_cast<double>(seen) / std::max(elapsed, 1e-9));
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
    TrainEpoch report;
    report.epoch = epoch + 1;
    report.steps = steps;
    report.loss = loss_sum / static_cast<double>(std::max<int64_t>(1, steps));
    report.train_accuracy =
        static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(1, seen));
    report.seconds = seconds;
    report.throughput = static_cast<double>(seen) / std::max(seconds, 1e-9);
    if (val != nullptr && group.is_root()) {
      Session session(snapshot());
      EvalOptions eo;
      eo.batch = 256;
      eo.progress = show;
      report.val_accuracy = evaluate_accuracy(session, *val, eo).accuracy;
    }
    result.epochs.push_back(report);
    if (o.on_epoch) o.on_epoch(report);
  }
  result.model = snapshot();
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

TrainResult run_training(Tape& tape, const Model& base, const Dataset& train_data,
                         const Dataset* val, const TrainOptions& o, const LoopHooks& hooks) {
  ProcessGroup& group = ProcessGroup::world();
  try {
    return training_loop(tape, base, train_data, val, o, hooks, group);
  } catch (...) {
    group.fail();  // the other processes would wait for this one in the next collective
    throw;
  }
}

}  // namespace quench::train
