// What a training run saves in a checkpoint and restores from one (the file itself is
// train/checkpoint.h): the key that identifies the run, and the tensors of its state.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "quench/train.h"
#include "train/checkpoint.h"
#include "train/loader.h"
#include "train/optimizer.h"
#include "train/tape.h"

namespace quench::train {

// The optimizers of a run: one for the parameters at the base rate, one per parameter trained
// at its own rate (LoopHooks::own_rate).
struct Optimizers {
  std::unique_ptr<Optimizer> shared;
  std::map<std::string, std::unique_ptr<Optimizer>> own;
};

// The key of a run: the tape's parameters, a digest of its graph and starting values (call before
// any update), the training data (size and labels) and every option the continuation depends on,
// plus the caller's `extra` settings.
CheckpointKey checkpoint_key(const Tape& tape, const Loader& loader, const TrainOptions& o,
                             int64_t total_steps, int processes,
                             const std::map<std::string, std::string>& extra);

// Parameters, buffers and optimizer state as checkpoint tensors.
std::map<std::string, Tensor> capture_state(const Tape& tape, const Optimizers& optimizers);

// Puts `tensors` back into the tape and the optimizers; kIo naming a missing or mismatched one.
void restore_state(Tape& tape, Optimizers& optimizers,
                   const std::map<std::string, Tensor>& tensors);

}  // namespace quench::train
