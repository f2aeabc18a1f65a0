// The multi-threaded side of the data loader: worker threads build the next batches of an epoch
// (gather, crop, flip) while the training step runs, and hand them out in order. The batches are
// those of Loader::batch(), whichever thread builds them, so the worker count never changes a run.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "train/loader.h"

namespace quench::train {

class Prefetcher {
 public:
  // `workers` threads keep up to `depth` batches ready; 0 workers: each batch is built by next()
  // on the calling thread.
  Prefetcher(Loader& loader, int workers, int depth = 2);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // Starts epoch `epoch` and serves its batches first, first + 1, ..., first + count - 1.
  void start_epoch(int64_t epoch, int64_t first, int64_t count);
  // The next batch of the epoch, in order; rethrows what building it threw.
  Batch next();

 private:
  void work();

  Loader& loader_;
  const int depth_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t generation_ = 0;  // bumped by start_epoch: batches of an earlier epoch are dropped
  int64_t next_claim_ = 0;   // the next batch index a worker takes
  int64_t next_serve_ = 0;   // the next batch index next() returns
  int64_t end_ = 0;          // one past the epoch's last batch index
  int busy_ = 0;             // workers building a batch
  bool stop_ = false;
  std::map<int64_t, Batch> ready_;
  std::map<int64_t, std::exception_ptr> failed_;
};

}  // namespace quench::train
