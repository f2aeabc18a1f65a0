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

namespace quench::train {

std::string data_input(const Graph& g) {
  for (const std::string& in : g.inputs) {
    if (!g.is_initializer(in)) return in;
  }
  throw Error(ErrorKind::kInvalidModel, "the model has no input to feed");
}

void check_train_options(const TrainOptions& o) {
  if (o.epochs <= 0 && o.steps <= 0) {
    throw Error(ErrorKind::kInvalidArgument, "need epochs > 0 or steps > 0");
  }
  if (!(o.lr > 0) || !std::isfinite(o.lr)) {
    throw Error(ErrorKind::kInvalidArgument, "learning rate must be > 0");
  }
}

TrainResult run_training(Tape& tape, const Model& base, const Dataset& train_data,
                         const Dataset* val, const TrainOptions& o, const LoopHooks& hooks) {
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
  Loader loader(train_data, {o.batch, o.seed, o.crop_padding, o.flip});
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
                      o.progress);
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
      const auto grads = tape.backward(output, loss.grad);
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
      if (o.progress) {
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
    if (val != nullptr) {
      Session session(snapshot());
      EvalOptions eo;
      eo.batch = 256;
      eo.progress = o.progress;
      report.val_accuracy = evaluate_accuracy(session, *val, eo).accuracy;
    }
    result.epochs.push_back(report);
    if (o.on_epoch) o.on_epoch(report);
  }
  result.model = snapshot();
  result.steps = step;
  result.last_loss = tail_count > 0 ? tail_loss / static_cast<double>(tail_count) : 0.0;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace quench::train
