// Training checkpoints (docs/training.md, "Checkpoints"): one file, DIR/checkpoint.qckpt, with
// everything a run needs to continue where it stopped — parameters, batch-norm buffers, optimizer
// state, the step, the epoch's running figures and the earlier epochs' reports — written
// atomically, so the file on disk is always a whole checkpoint. A key records what the run was
// (parameter names and shapes, a hash of the graph and the starting values, the options the
// continuation depends on); resuming under a different key is refused, naming the difference.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "quench/tensor.h"
#include "quench/train.h"

namespace quench::train {

struct CheckpointKey {
  std::map<std::string, Shape> parameters;
  std::string start_hash;  // hex digest of the graph and the starting parameters and buffers
  // Options a continuation must share ("batch" -> "64", "optimizer" -> "sgd", ...).
  std::map<std::string, std::string> settings;
};

struct CheckpointState {
  int64_t step = 0;   // updates done
  int64_t epoch = 0;  // the epoch in progress (0-based)
  int64_t index = 0;  // batches of that epoch done
  // The epoch in progress so far.
  double loss_sum = 0;
  int64_t correct = 0;
  int64_t seen = 0;
  double epoch_seconds = 0;
  // The run so far.
  double first_loss = 0;
  double tail_loss = 0;
  int64_t tail_count = 0;
  double seconds = 0;
  std::vector<TrainEpoch> epochs;
  // "parameter/NAME", "buffer/NAME", "optimizer/...": float32 or int64.
  std::map<std::string, Tensor> tensors;
};

std::filesystem::path checkpoint_path(const std::filesystem::path& dir);

// Creates `dir` when missing (its parent must exist) and checks that a checkpoint can be written
// there; kIo naming the folder otherwise. Called before any training.
void prepare_checkpoint_dir(const std::filesystem::path& dir);

void write_checkpoint(const std::filesystem::path& dir, const CheckpointKey& key,
                      const CheckpointState& state);

// kIo for a missing, unreadable, truncated or corrupt file; kInvalidArgument when the checkpoint
// was written for another model, other data or other options, naming the first difference.
CheckpointState read_checkpoint(const std::filesystem::path& dir, const CheckpointKey& expected);

// A hex FNV-1a digest of bytes, for CheckpointKey::start_hash.
class Digest {
 public:
  void add(const void* data, size_t bytes);
  void add(const std::string& text);
  std::string hex() const;

 private:
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace quench::train
