// A progress line on stderr for long work (calibration, QAT, evaluation): a bar with rate and
// ETA on a terminal, a line every 10% otherwise. Silent when disabled.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace quench {

class Progress {
 public:
  Progress(std::string what, int64_t total, bool enabled = true);
  ~Progress();
  // Reports `done` units of `total`; also polls for Ctrl-C (throws kInterrupted).
  void update(int64_t done);
  void finish();
  // Text shown after the counts from the next drawn line on (e.g. "loss 0.4123").
  void set_detail(std::string detail) { detail_ = std::move(detail); }

 private:
  void draw(int64_t done, bool final);

  std::string what_;
  std::string detail_;
  int64_t total_;
  bool enabled_, tty_, finished_ = false;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace quench
