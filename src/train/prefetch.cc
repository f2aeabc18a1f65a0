#include "train/prefetch.h"

#include <utility>

namespace quench::train {

Prefetcher::Prefetcher(Loader& loader, int workers, int depth)
    : loader_(loader), depth_(depth < 1 ? 1 : depth) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void Prefetcher::start_epoch(int64_t epoch, int64_t first, int64_t count) {
  std::unique_lock lock(mutex_);
  ++generation_;
  end_ = 0;  // no new claims until the permutation is in place
  changed_.wait(lock, [&] { return busy_ == 0; });
  ready_.clear();
  failed_.clear();
  loader_.start_epoch(epoch);  // no worker reads the loader now
  next_claim_ = next_serve_ = first;
  end_ = first + count;
  lock.unlock();
  changed_.notify_all();
}

Batch Prefetcher::next() {
  if (threads_.empty()) return loader_.batch(next_serve_++);
  std::unique_lock lock(mutex_);
  const int64_t index = next_serve_;
  changed_.wait(lock, [&] { return ready_.count(index) != 0 || failed_.count(index) != 0; });
  if (auto f = failed_.find(index); f != failed_.end()) std::rethrow_exception(f->second);
  Batch batch = std::move(ready_.at(index));
  ready_.erase(index);
  ++next_serve_;
  lock.unlock();
  changed_.notify_all();  // room for one more batch ahead
  return batch;
}

void Prefetcher::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(
        lock, [&] { return stop_ || (next_claim_ < end_ && next_claim_ < next_serve_ + depth_); });
    if (stop_) return;
    const int64_t index = next_claim_++;
    const uint64_t generation = generation_;
    ++busy_;
    lock.unlock();
    Batch batch;
    std::exception_ptr error;
    try {
      batch = loader_.batch(index);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    --busy_;
    if (generation == generation_) {
      if (error) {
        failed_[index] = error;
      } else {
        ready_[index] = std::move(batch);
      }
    }
    changed_.notify_all();
  }
}

}  // namespace quench::train
