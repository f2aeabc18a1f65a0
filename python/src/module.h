// Pieces shared by the files of the Python module quench._quench.
#pragma once

#include <nanobind/nanobind.h>

#include <csignal>

namespace quench::py {

namespace nb = nanobind;

void bind_session(nb::module_& m);
void bind_tools(nb::module_& m);

// While alive, Ctrl-C (SIGINT) asks quench's long work to stop (quench::request_interrupt) instead
// of waiting for Python's handler, which cannot run while the GIL is released. Only in the main
// thread (where Python handles signals); the previous handler is restored on exit, and a SIGINT
// that arrived is handed back to Python (KeyboardInterrupt) when the work finished anyway.
class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

 private:
  bool installed_ = false;
  struct sigaction previous_ {};
};

}  // namespace quench::py
