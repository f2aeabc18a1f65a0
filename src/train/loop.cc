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
#include "train/data_parallel.h"
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

// One training run: set up from the options (and the checkpoint when resuming), then run() goes
// through the epochs. Each step is forward, loss, backward, gradient averaging and update; each
// epoch ends with synchronisation, a report, validation and a checkpoint.
class TrainingLoop {
 public:
  TrainingLoop(Tape& tape, const Model& base, const Dataset& train_data, const Dataset* val,
               const TrainOptions& o, const LoopHooks& hooks, const ProcessGroup& group);
  TrainResult run();

 private:
  void make_optimizers();
  ScheduleOptions schedule() const;
  void resume();
  Model snapshot() const;
  double elapsed() const;
  // Writes the checkpoint of the current position (root process, a folder given).
  void save();
  void epoch();
  // Forward, loss and backward of one batch, then the update. Returns the batch's loss.
  LossResult step(const Batch& batch);
  void check_labels(const Tensor& logits);
  void update(std::map<std::string, Tensor>& grads, float lr);
  // The step is done: the position moves past it.
  void advance(const LossResult& loss, const Batch& batch);
  TrainEpoch end_epoch(int64_t steps, double seconds);
  TrainResult finish();

  Tape& tape_;
  const Model& base_;
  const Dataset* val_;
  const TrainOptions& o_;
  const LoopHooks& hooks_;
  const ProcessGroup& group_;
  const bool show_;
  const bool checkpoints_;
  Optimizers optimizers_;
  Loader loader_;
  Prefetcher prefetch_;
  const int64_t per_epoch_;
  const int64_t total_;
  const int64_t epochs_;
  const ScheduleOptions schedule_;
  const std::string input_;
  const std::string output_;
  CheckpointKey key_;

  // The run so far: restored from the checkpoint when resuming.
  TrainResult result_{Model{}, {}, 0, 0, 0, 0};
  Position at_;
  double tail_loss_ = 0;
  int64_t tail_count_ = 0;
  double earlier_seconds_ = 0;
  int64_t saved_step_ = -1;  // the step of the checkpoint on disk
  std::chrono::steady_clock::time_point start_;
  bool labels_checked_ = false;
  // The running statistics before the step in progress: an interrupt before the update (the
  // tape polls during backward) puts them back, so the checkpoint is of whole steps.
  bool in_step_ = false;
  std::map<std::string, Tensor> step_buffers_;
};

TrainingLoop::TrainingLoop(Tape& tape, const Model& base, const Dataset& train_data,
                           const Dataset* val, const TrainOptions& o, const LoopHooks& hooks,
                           const ProcessGroup& group)
    : tape_(tape),
      base_(base),
      val_(val),
      o_(o),
      hooks_(hooks),
      group_(group),
      show_(o.progress && group.is_root()),
      checkpoints_(!o.checkpoint_dir.empty()),
      loader_(train_data, {o.batch, o.seed, o.crop_padding, o.flip, group.rank(), group.size()}),
      prefetch_(loader_, o.loader_threads),
      per_epoch_(loader_.batches_per_epoch()),
      total_(o.steps > 0 ? o.steps : o.epochs * per_epoch_),
      epochs_((total_ + per_epoch_ - 1) / per_epoch_),
      schedule_(schedule()),
      input_(data_input(tape.graph())),
      output_(tape.graph().outputs[0]) {
  if (o.threads > 0) omp_set_num_threads(o.threads);
  make_optimizers();
  if (checkpoints_) {
    key_ = checkpoint_key(tape_, loader_, o_, total_, group_.size(), hooks_.checkpoint_settings);
  }
  if (o_.resume) resume();
}

void TrainingLoop::make_optimizers() {
  OptimizerOptions oo;
  oo.kind = o_.optimizer;
  oo.momentum = o_.momentum;
  oo.nesterov = o_.nesterov;
  oo.weight_decay = o_.weight_decay;
  optimizers_.shared = make_optimizer(oo);
  for (const auto& [name, factor] : hooks_.own_rate) {
    OptimizerOptions nd = oo;
    nd.weight_decay = 0.f;
    optimizers_.own[name] = make_optimizer(nd);
  }
}

ScheduleOptions TrainingLoop::schedule() const {
  ScheduleOptions so;
  so.kind = o_.schedule;
  so.total_steps = total_;
  so.warmup_steps = o_.warmup_steps >= 0 ? o_.warmup_steps : total_ / 50;
  so.step_size = o_.step_size > 0 ? o_.step_size : std::max<int64_t>(1, total_ / 3);
  so.gamma = o_.gamma;
  check_schedule(so);
  return so;
}

void TrainingLoop::resume() {
  CheckpointState s = read_checkpoint(o_.checkpoint_dir, key_);
  QUENCH_CHECK(s.step <= total_ && s.epoch <= epochs_ && s.index <= per_epoch_ &&
                   s.step == std::min(total_, s.epoch * per_epoch_ + s.index),
               ErrorKind::kIo,
               "checkpoint '{}' is damaged: step {} at epoch {}, batch {} does not fit a run of "
               "{} steps of {} per epoch",
               checkpoint_path(o_.checkpoint_dir).string(), s.step, s.epoch, s.index, total_,
               per_epoch_);
  restore_state(tape_, optimizers_, s.tensors);
  at_ = {s.step, s.epoch, s.index, s.loss_sum, s.correct, s.seen, s.epoch_seconds};
  result_.first_loss = s.first_loss;
  tail_loss_ = s.tail_loss;
  tail_count_ = s.tail_count;
  earlier_seconds_ = s.seconds;
  result_.epochs = std::move(s.epochs);
  saved_step_ = at_.step;
  if (show_) {
    std::fprintf(stderr, "resuming from step %lld of %lld (epoch %lld, batch %lld)\n",
                 static_cast<long long>(at_.step), static_cast<long long>(total_),
                 static_cast<long long>(at_.epoch + 1), static_cast<long long>(at_.index));
  }
}

Model TrainingLoop::snapshot() const {
  if (hooks_.snapshot) return hooks_.snapshot(tape_);
  Model m = base_;
  for (const auto& [name, p] : tape_.parameters()) m.graph.initializers[name] = p.clone();
  for (const auto& [name, b] : tape_.buffers()) m.graph.initializers[name] = b.clone();
  return m;
}

double TrainingLoop::elapsed() const {
  return earlier_seconds_ +
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void TrainingLoop::save() {
  if (!checkpoints_ || !group_.is_root()) return;
  CheckpointState s;
  s.step = at_.step;
  s.epoch = at_.epoch;
  s.index = at_.index;
  s.loss_sum = at_.loss_sum;
  s.correct = at_.correct;
  s.seen = at_.seen;
  s.epoch_seconds = at_.epoch_seconds;
  s.first_loss = result_.first_loss;
  s.tail_loss = tail_loss_;
  s.tail_count = tail_count_;
  s.seconds = elapsed();
  s.epochs = result_.epochs;
  s.tensors = capture_state(tape_, optimizers_);
  write_checkpoint(o_.checkpoint_dir, key_, s);
  saved_step_ = at_.step;
}

TrainResult TrainingLoop::run() {
  start_ = std::chrono::steady_clock::now();
  try {
    for (; at_.epoch < epochs_; ++at_.epoch) epoch();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kInterrupted && checkpoints_ && group_.is_root()) {
      if (in_step_) {
        for (auto& [name, b] : tape_.buffers()) b = step_buffers_.at(name);
      }
      save();
      std::fprintf(stderr,
                   "\ninterrupted: checkpoint of step %lld written to %s (--resume to go on)\n",
                   static_cast<long long>(at_.step), checkpoint_path(o_.checkpoint_dir).c_str());
    }
    throw;
  }
  return finish();
}

void TrainingLoop::epoch() {
  const auto epoch_start = std::chrono::steady_clock::now();
  const double epoch_before = at_.epoch_seconds;
  const auto epoch_elapsed = [&] {
    return epoch_before +
           std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
  };
  const int64_t steps = std::min(per_epoch_, total_ - (at_.step - at_.index));
  prefetch_.start_epoch(at_.epoch, at_.index, steps - at_.index);
  Progress progress("epoch " + std::to_string(at_.epoch + 1) + "/" + std::to_string(epochs_), steps,
                    show_);
  for (; at_.index < steps; ++at_.index) {
    const Batch batch = prefetch_.next();
    const LossResult loss = step(batch);
    advance(loss, batch);
    if (o_.checkpoint_every > 0 && at_.step % o_.checkpoint_every == 0 && at_.index + 1 < steps) {
      ++at_.index;  // saved as done
      at_.epoch_seconds = epoch_elapsed();
      save();
      --at_.index;
    }
    if (show_) {
      char detail[96];
      std::snprintf(detail, sizeof detail, "loss %.4f, %.0f samples/s",
                    at_.loss_sum / static_cast<double>(at_.index + 1),
                    static_cast<double>(at_.seen) / std::max(epoch_elapsed(), 1e-9));
      progress.set_detail(detail);
    }
    // Ctrl-C is seen here: at_.index + 1 batches of the epoch are done.
    try {
      progress.update(at_.index + 1);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kInterrupted) ++at_.index;
      throw;
    }
  }
  progress.finish();
  const TrainEpoch report = end_epoch(steps, epoch_elapsed());
  result_.epochs.push_back(report);
  at_ = {at_.step, at_.epoch + 1, 0, 0, 0, 0, 0};
  save();
  --at_.epoch;  // the loop's increment
  if (o_.on_epoch) o_.on_epoch(report);
}

LossResult TrainingLoop::step(const Batch& batch) {
  if (checkpoints_) {
    step_buffers_.clear();
    for (const auto& [name, b] : tape_.buffers()) step_buffers_[name] = b.clone();
  }
  in_step_ = true;
  tape_.set_batch_norm_frozen(o_.freeze_bn_after >= 0 && at_.step >= o_.freeze_bn_after);
  tape_.forward({{input_, batch.images()}});
  const Tensor& logits = tape_.value(output_);
  if (!labels_checked_) check_labels(logits);
  const LossResult loss =
      hooks_.loss ? hooks_.loss(logits, batch) : softmax_cross_entropy(logits, batch.labels);
  if (!std::isfinite(loss.loss)) {
    std::string kept;
    if (saved_step_ >= 0) {
      kept = "; the checkpoint of step " + std::to_string(saved_step_) + " stays in " +
             o_.checkpoint_dir;
    }
    throw Error(ErrorKind::kInvalidArgument, "the loss is " + std::to_string(loss.loss) +
                                                 " at step " + std::to_string(at_.step + 1) +
                                                 " (epoch " + std::to_string(at_.epoch + 1) +
                                                 "); training stopped (try a lower --lr)" + kept);
  }
  auto grads = tape_.backward(output_, loss.grad);
  average_gradients(group_, grads);
  update(grads, learning_rate(schedule_, o_.lr, at_.step));
  if (hooks_.after_update) hooks_.after_update(tape_.parameters());
  if (hooks_.average_buffers_every_step) average_buffers(group_, tape_);
  in_step_ = false;
  return loss;
}

// Every label against the model's classes, once, before the first update.
void TrainingLoop::check_labels(const Tensor& logits) {
  const int64_t classes = logits.rank() == 2 ? logits.dim(1) : 0;
  const auto& labels = loader_.labels();
  for (size_t s = 0; s < labels.size(); ++s) {
    if (labels[s] < 0 || labels[s] >= classes) {
      throw Error(ErrorKind::kInvalidArgument, "label " + std::to_string(labels[s]) +
                                                   " of training sample " + std::to_string(s) +
                                                   " is outside [0, " + std::to_string(classes) +
                                                   ") (the model's output " + output_ +
                                                   " has shape " + shape_str(logits.shape()) + ")");
    }
  }
  labels_checked_ = true;
}

void TrainingLoop::update(std::map<std::string, Tensor>& grads, float lr) {
  if (optimizers_.own.empty()) {
    optimizers_.shared->step(tape_.parameters(), grads, lr);
    return;
  }
  std::map<std::string, Tensor> shared;
  for (auto& [name, p] : tape_.parameters()) {
    auto it = optimizers_.own.find(name);
    if (it == optimizers_.own.end()) {
      shared.emplace(name, p);  // shares the storage: updated in place
      continue;
    }
    std::map<std::string, Tensor> one{{name, p}};
    it->second->step(one, grads, lr * hooks_.own_rate.at(name));
  }
  optimizers_.shared->step(shared, grads, lr);
}

void TrainingLoop::advance(const LossResult& loss, const Batch& batch) {
  if (at_.step == 0) result_.first_loss = loss.loss;
  if (at_.step >= total_ - std::max<int64_t>(1, total_ / 10)) {
    tail_loss_ += loss.loss;
    ++tail_count_;
  }
  at_.loss_sum += loss.loss;
  at_.correct += loss.correct;
  at_.seen += static_cast<int64_t>(batch.labels.size());
  ++at_.step;
}

TrainEpoch TrainingLoop::end_epoch(int64_t steps, double seconds) {
  synchronise(group_, tape_);
  double totals[] = {at_.loss_sum, static_cast<double>(at_.correct), static_cast<double>(at_.seen)};
  group_.sum(totals);
  TrainEpoch report;
  report.epoch = at_.epoch + 1;
  report.steps = steps;
  report.loss = totals[0] / group_.size() / static_cast<double>(std::max<int64_t>(1, steps));
  report.train_accuracy = totals[1] / std::max(1.0, totals[2]);
  report.seconds = seconds;
  report.throughput = totals[2] / std::max(report.seconds, 1e-9);
  if (val_ != nullptr && group_.is_root()) {
    Session session(snapshot());
    EvalOptions eo;
    eo.batch = 256;
    eo.progress = show_;
    report.val_accuracy = evaluate_accuracy(session, *val_, eo).accuracy;
  }
  return report;
}

TrainResult TrainingLoop::finish() {
  result_.model = snapshot();
  result_.steps = at_.step;
  result_.last_loss = tail_count_ > 0 ? tail_loss_ / static_cast<double>(tail_count_) : 0.0;
  // Over the whole batches: each process saw its slice.
  double losses[] = {result_.first_loss, result_.last_loss};
  group_.sum(losses);
  result_.first_loss = losses[0] / group_.size();
  result_.last_loss = losses[1] / group_.size();
  result_.seconds = elapsed();
  return result_;
}

}  // namespace

TrainResult run_training(Tape& tape, const Model& base, const Dataset& train_data,
                         const Dataset* val, const TrainOptions& o, const LoopHooks& hooks) {
  ProcessGroup& group = ProcessGroup::world();
  try {
    return TrainingLoop(tape, base, train_data, val, o, hooks, group).run();
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
