#include "core/interrupt.h"

#include <atomic>
#include <csignal>

#include "core/check.h"
#include "quench/error.h"

namespace quench {
namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) {
  if (g_interrupted.exchange(true)) {
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
  }
}

}  // namespace

void install_interrupt_handler() { std::signal(SIGINT, on_sigint); }

bool interrupted() { return g_interrupted.load(std::memory_order_relaxed); }

void check_interrupted() {
  if (interrupted()) fail(ErrorKind::kInterrupted, "interrupted by the user; nothing was written");
}

void request_interrupt() { g_interrupted.store(true); }

void clear_interrupt() { g_interrupted.store(false); }

}  // namespace quench
