// The training loop shared by FP32 training (train_model) and quantization-aware training: epochs
// of mini-batches from the loader, forward and backward on a tape, an optimizer with its schedule,
// progress, a NaN check and validation after each epoch (docs/training.md).
#pragma once

#include <functional>
#include <map>
#include <string>

#include "quench/train.h"
#include "train/loss.h"
#include "train/tape.h"

namespace quench::train {

struct LoopHooks {
  // The loss of a batch from the model's logits; empty: softmax cross-entropy (T11).
  std::function<LossResult(const Tensor& logits, const Batch& batch)> loss;
  // Parameters trained by their own optimizer, without weight decay, at the base learning rate
  // times the given factor (learned quantization scales and offsets: an AdamW step is about the
  // learning rate in the parameter's own units, so a scale's factor is its size).
  std::map<std::string, float> own_rate;
  // Called after each optimizer update (QAT keeps its scales positive).
  std::function<void(std::map<std::string, Tensor>& parameters)> after_update;
  // The model to validate and return, from the tape; empty: `base` with the tape's parameters
  // and buffers.
  std::function<Model(const Tape& tape)> snapshot;
  // Data-parallel: average the buffers (batch-norm running statistics) over the processes after
  // every step rather than at the end of each epoch only ((T24)); needed where the forward pass
  // reads them in training (QAT's simulated batch-norm folding quantizes w·γ/σ_run).
  bool average_buffers_every_step = false;
  // What else a checkpoint must agree on to be resumed (QAT: bit widths, distillation, ...).
  std::map<std::string, std::string> checkpoint_settings;
};

// The name of the model's data input (the first graph input that is not an initializer).
std::string data_input(const Graph& g);

// Trains the tape's parameters on `train` and reports validation accuracy on `val` (may be
// nullptr) after each epoch, writing checkpoints and resuming from one as `o` asks (train/
// checkpoint.h). Throws kInvalidArgument at a NaN or infinite loss naming the step, kInterrupted on
// Ctrl-C (after writing a checkpoint when a folder is given).
TrainResult run_training(Tape& tape, const Model& base, const Dataset& train, const Dataset* val,
                         const TrainOptions& o, const LoopHooks& hooks);

}  // namespace quench::train
