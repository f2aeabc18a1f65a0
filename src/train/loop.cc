// run_training(): the training loop over the tape, the loader, an optimizer and a schedule,
// shared by FP32 training (trainer.cc) and quantization-aware training (qat/).
#include "train/loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include <omp.h>

#include "core/check.h"
#include "core/progress.h"
#include "quench/error.h"
#include "quench/evaluate.h"
#include "quench/session.h"
#include "train/loader.h"
#include "train/loss.h"
#include "train/optimizer.h"
#include "train/prefetch.h"
#include "train/process_group.h"
#include "train/resume.h"

namespace quench::train {

std::string data_input(const Graph& g) {
  for (const std::string& in : g.inputs) {
    if (!g.is_initializer(in)) return in;
  }
  throw Error(ErrorKind::kInvalidModel, "the model has no input to feed");
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
void average_buffers(const ProcessGroup& group, Tape& tape) {
  if (!group.distributed()) return;
  for (auto& [name, b] : tape.buffers()) {
    if (b.dtype() != DType::kFloat32) continue;
    std::span<float> v{b.data<float>(), static_cast<size_t>(b.numel())};
    group.sum(v);
    for (float& x : v) x /= static_cast<float>(group.size());
  }
}

void synchronise(const ProcessGroup& group, Tape& tape) {
  if (!group.distributed()) return;
  for (auto& [name, p] : tape.parameters()) {
    group.broadcast({p.data<float>(), static_cast<size_t>(p.numel())});
  }
  average_buffers(group, tape);
}

// Where a run stands after its last completed update: what a checkpoint records besides the
// tensors.
struct Position {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t index = 0;  // batches of `epoch` done
  double loss_sum = 0;
  int64_t correct = 0, seen = 0;
  double epoch_seconds = 0;
};

TrainResult training_loop(Tape& tape, const Model& base, const Dataset& train_data,
                          const Dataset* val, const TrainOptions& o, const LoopHooks& hooks,
                          const ProcessGroup& group) {
  const bool show = o.progress && group.is_root();
  const bool checkpoints = !o.checkpoint_dir.empty();
  OptimizerOptions oo;
  oo.kind = o.optimizer;
  oo.momentum = o.momentum;
  oo.nesterov = o.nesterov;
  oo.weight_decay = o.weight_decay;
  Optimizers optimizers;
  optimizers.shared = make_optimizer(oo);
  if (o.threads > 0) omp_set_num_threads(o.threads);

  for (const auto& [name, factor] : hooks.own_rate) {
    OptimizerOptions nd = oo;
    nd.weight_decay = 0.f;
    optimizers.own[name] = make_optimizer(nd);
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

  // The run so far: restored from the checkpoint when resuming.
  Position at;
  double tail_loss = 0;
  int64_t tail_count = 0;
  double earlier_seconds = 0;
  CheckpointKey key;
  if (checkpoints) {
    key = checkpoint_key(tape, loader, o, total, group.size(), hooks.checkpoint_settings);
  }
  if (o.resume) {
    CheckpointState s = read_checkpoint(o.checkpoint_dir, key);
    QUENCH_CHECK(s.step <= total && s.epoch <= epochs && s.index <= per_epoch &&
                     s.step == std::min(total, s.epoch * per_epoch + s.index),
                 ErrorKind::kIo,
                 "checkpoint '{}' is damaged: step {} at epoch {}, batch {} does not fit a run of "
                 "{} steps of {} per epoch",
                 checkpoint_path(o.checkpoint_dir).string(), s.step, s.epoch, s.index, total,
                 per_epoch);
    restore_state(tape, optimizers, s.tensors);
    at = {s.step, s.epoch, s.index, s.loss_sum, s.correct, s.seen, s.epoch_seconds};
    result.first_loss = s.first_loss;
    tail_loss = s.tail_loss;
    tail_count = s.tail_count;
    earlier_seconds = s.seconds;
    result.epochs = std::move(s.epochs);
    if (show) {
      std::fprintf(stderr, "resuming from step %lld of %lld (epoch %lld, batch %lld)\n",
                   static_cast<long long>(at.step), static_cast<long long>(total),
                   static_cast<long long>(at.epoch + 1), static_cast<long long>(at.index));
    }
  }
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] {
    return earlier_seconds +
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  int64_t saved_step = o.resume ? at.step : -1;  // the step of the checkpoint on disk
  const auto save = [&] {
    if (!checkpoints || !group.is_root()) return;
    CheckpointState s;
    s.step = at.step;
    s.epoch = at.epoch;
    s.index = at.index;
    s.loss_sum = at.loss_sum;
    s.correct = at.correct;
    s.seen = at.seen;
    s.epoch_seconds = at.epoch_seconds;
    s.first_loss = result.first_loss;
    s.tail_loss = tail_loss;
    s.tail_count = tail_count;
    s.seconds = elapsed();
    s.epochs = result.epochs;
    s.tensors = capture_state(tape, optimizers);
    write_checkpoint(o.checkpoint_dir, key, s);
    saved_step = at.step;
  };

  const std::string input = data_input(tape.graph());
  const std::string output = tape.graph().outputs[0];
  bool labels_checked = false;
  Prefetcher prefetch(loader, o.loader_threads);
  bool in_step = false;
  std::map<std::string, Tensor> step_buffers;
  try {
    for (; at.epoch < epochs; ++at.epoch) {
      const auto epoch_start = std::chrono::steady_clock::now();
      const double epoch_before = at.epoch_seconds;
      const auto epoch_elapsed = [&] {
        return epoch_before +
               std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start)
                   .count();
      };
      const int64_t steps = std::min(per_epoch, total - (at.step - at.index));
      prefetch.start_epoch(at.epoch, at.index, steps - at.index);
      Progress progress("epoch " + std::to_string(at.epoch + 1) + "/" + std::to_string(epochs),
                        steps, show);
      for (; at.index < steps; ++at.index) {
        Batch batch = prefetch.next();
        if (checkpoints) {
          // The forward pass moves the running statistics; an interrupt before the update (the
          // tape polls during backward) puts them back, so the checkpoint is of one step.
          step_buffers.clear();
          for (const auto& [name, b] : tape.buffers()) step_buffers[name] = b.clone();
        }
        in_step = true;
        tape.set_batch_norm_frozen(o.freeze_bn_after >= 0 && at.step >= o.freeze_bn_after);
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
          std::string kept;
          if (saved_step >= 0) {
            kept = "; the checkpoint of step " + std::to_string(saved_step) + " stays in " +
                   o.checkpoint_dir;
          }
          throw Error(ErrorKind::kInvalidArgument,
                      "the loss is " + std::to_string(loss.loss) + " at step " +
                          std::to_string(at.step + 1) + " (epoch " + std::to_string(at.epoch + 1) +
                          "); training stopped (try a lower --lr)" + kept);
        }
        auto grads = tape.backward(output, loss.grad);
        average_gradients(group, grads);
        const float lr = learning_rate(so, o.lr, at.step);
        if (optimizers.own.empty()) {
          optimizers.shared->step(tape.parameters(), grads, lr);
        } else {
          std::map<std::string, Tensor> shared;
          for (auto& [name, p] : tape.parameters()) {
            auto it = optimizers.own.find(name);
            if (it == optimizers.own.end()) {
              shared.emplace(name, p);  // shares the storage: updated in place
              continue;
            }
            std::map<std::string, Tensor> one{{name, p}};
            it->second->step(one, grads, lr * hooks.own_rate.at(name));
          }
          optimizers.shared->step(shared, grads, lr);
        }
        if (hooks.after_update) hooks.after_update(tape.parameters());
        if (hooks.average_buffers_every_step) average_buffers(group, tape);
        in_step = false;
        // The step is done: the position moves past it.
        if (at.step == 0) result.first_loss = loss.loss;
        if (at.step >= total - std::max<int64_t>(1, total / 10)) {
          tail_loss += loss.loss;
          ++tail_count;
        }
        at.loss_sum += loss.loss;
        at.correct += loss.correct;
        at.seen += static_cast<int64_t>(batch.labels.size());
        ++at.step;
        if (o.checkpoint_every > 0 && at.step % o.checkpoint_every == 0 && at.index + 1 < steps) {
          ++at.index;  // saved as done
          at.epoch_seconds = epoch_elapsed();
          save();
          --at.index;
        }
        if (show) {
          char detail[96];
          std::snprintf(detail, sizeof detail, "loss %.4f, %.0f samples/s",
                        at.loss_sum / static_cast<double>(at.index + 1),
                        static_cast<double>(at.seen) / std::max(epoch_elapsed(), 1e-9));
          progress.set_detail(detail);
        }
        // Ctrl-C is seen here: at.index + 1 batches of the epoch are done.
        try {
          progress.update(at.index + 1);
        } catch (const Error& e) {
          if (e.kind() == ErrorKind::kInterrupted) ++at.index;
          throw;
        }
      }
      progress.finish();
      synchronise(group, tape);
      double totals[] = {at.loss_sum, static_cast<double>(at.correct),
                         static_cast<double>(at.seen)};
      group.sum(totals);
      TrainEpoch report;
      report.epoch = at.epoch + 1;
      report.steps = steps;
      report.loss = totals[0] / group.size() / static_cast<double>(std::max<int64_t>(1, steps));
      report.train_accuracy = totals[1] / std::max(1.0, totals[2]);
      report.seconds = epoch_elapsed();
      report.throughput = totals[2] / std::max(report.seconds, 1e-9);
      if (val != nullptr && group.is_root()) {
        Session session(snapshot());
        EvalOptions eo;
        eo.batch = 256;
        eo.progress = show;
        report.val_accuracy = evaluate_accuracy(session, *val, eo).accuracy;
      }
      result.epochs.push_back(report);
      at = {at.step, at.epoch + 1, 0, 0, 0, 0, 0};
      save();
      --at.epoch;  // the loop's increment
      if (o.on_epoch) o.on_epoch(report);
    }
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kInterrupted && checkpoints && group.is_root()) {
      if (in_step) {
        for (auto& [name, b] : tape.buffers()) b = step_buffers.at(name);
      }
      save();
      std::fprintf(stderr,
                   "\ninterrupted: checkpoint of step %lld written to %s (--resume to go on)\n",
                   static_cast<long long>(at.step), checkpoint_path(o.checkpoint_dir).c_str());
    }
    throw;
  }
  result.model = snapshot();
  result.steps = at.step;
  result.last_loss = tail_count > 0 ? tail_loss / static_cast<double>(tail_count) : 0.0;
  // Over the whole batches: each process saw its slice.
  double losses[] = {result.first_loss, result.last_loss};
  group.sum(losses);
  result.first_loss = losses[0] / group.size();
  result.last_loss = losses[1] / group.size();
  result.seconds = elapsed();
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

namespace quench {

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
  QUENCH_CHECK(o.checkpoint_every >= 0 && o.loader_threads >= 0, ErrorKind::kInvalidArgument,
               "--checkpoint-every and --loader-threads must be >= 0, got {} and {}",
               o.checkpoint_every, o.loader_threads);
  QUENCH_CHECK(!o.checkpoint_dir.empty() || (!o.resume && o.checkpoint_every == 0),
               ErrorKind::kInvalidArgument,
               "--resume and --checkpoint-every need a --checkpoint folder");
  if (!o.checkpoint_dir.empty()) {
    // Before any work: the folder is created and must be writable, the checkpoint to resume
    // must be there (read_checkpoint checks the rest).
    QUENCH_CHECK(!o.resume || std::filesystem::exists(train::checkpoint_path(o.checkpoint_dir)),
                 ErrorKind::kIo,
                 "no checkpoint to resume in '{}' (expected '{}'; run without --resume to start)",
                 o.checkpoint_dir, train::checkpoint_path(o.checkpoint_dir).string());
    train::prepare_checkpoint_dir(o.checkpoint_dir);
  }
}

}  // namespace quench
