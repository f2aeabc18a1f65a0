// The training data loader: a dataset's samples held in memory, reshuffled every epoch from the
// seed, served as mini-batches with optional random crop (of the image padded with zeros) and
// random horizontal flip. Deterministic for a given seed: batch `index` of epoch `epoch` depends on
// (seed, epoch, index, shard) only, so a resumed run sees the batches an uninterrupted one would,
// and several threads may build batches of one epoch at once (train/prefetch.h). In data-parallel
// training every process draws the same permutation and serves its own slice of each batch.
#pragma once

#include <cstdint>
#include <vector>

#include "quench/data.h"

namespace quench::train {

struct LoaderOptions {
  int64_t batch = 64;
  uint64_t seed = 0;
  int64_t crop_padding = 0;
  bool flip = false;
  // Data-parallel training: this process serves shard `shard` of `shards` equal parts of every
  // batch (the batch must divide evenly); the permutation is the same in every process.
  int shard = 0;
  int shards = 1;
};

class Loader {
 public:
  // Reads every sample of `data` (one float32 input [C, H, W] with labels); kInvalidArgument
  // for an unlabeled dataset or another input layout.
  Loader(const Dataset& data, const LoaderOptions& options);

  int64_t size() const { return static_cast<int64_t>(labels_.size()); }
  // Full batches per epoch (the last partial batch is dropped; at least one batch).
  int64_t batches_per_epoch() const;
  // Starts epoch `epoch` (0-based): a new permutation of the samples. Not concurrent with batch().
  void start_epoch(int64_t epoch);
  // This process's part of batch `index` of the current epoch (batch / shards samples). Safe to
  // call from several threads at once.
  Batch batch(int64_t index) const;
  const std::vector<int64_t>& labels() const { return labels_; }

 private:
  LoaderOptions o_;
  Shape sample_;  // [C, H, W]
  std::vector<float> images_;
  std::vector<int64_t> labels_;
  std::vector<int64_t> order_;
  int64_t epoch_ = 0;
};

}  // namespace quench::train
