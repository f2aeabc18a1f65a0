#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

#include "core/interrupt.h"

namespace quench {

Progress::Progress(std::string what, int64_t total, bool enabled)
    : what_(std::move(what)),
      total_(total),
      enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (enabled_ && tty_ && !finished_) std::fputc('\n', stderr);
}

void Progress::update(int64_t done) {
  check_interrupted();
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
    last_draw_ = now;
    draw(done, false);
  } else {
    const int decile = total_ > 0 ? static_cast<int>(done * 10 / total_) : 10;
    if (decile != last_decile_) {
      last_decile_ = decile;
      draw(done, false);
    }
  }
}

void Progress::finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  if (!tty_ && last_decile_ == 10) return;  // the 100% line is already out
  draw(total_, true);
}

void Progress::draw(int64_t done, bool final) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  const double frac = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r%s [%s] %lld/%lld  %s%s%.0f/s  %s %.1fs ", what_.c_str(), bar.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), detail_.c_str(),
                 detail_.empty() ? "" : "  ", rate, final ? "took" : "eta", final ? seconds : eta);
    if (final) std::fputc('\n', stderr);
  } else {
    std::fprintf(stderr, "%s: %lld/%lld (%.0f%%) %s%s%.0f/s\n", what_.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), frac * 100,
                 detail_.c_str(), detail_.empty() ? "" : " ", rate);
  }
  std::fflush(stderr);
}

}  // namespace quench
