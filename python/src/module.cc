// quench._quench: the compiled half of the Python package (python/quench wraps it). Errors:
// quench::Error becomes the quench.Error subclass of its kind (the classes are defined in Python,
// quench/_errors.py, and handed over at import).
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <array>
#include <cstdint>
#include <exception>

#include "convert.h"
#include "module.h"
#include "quench/error.h"
#include "quench/interrupt.h"

namespace quench::py {
namespace {

constexpr size_t kKinds = static_cast<size_t>(ErrorKind::kInternal) + 1;
std::array<PyObject*, kKinds> g_error_classes{};
unsigned long g_main_thread = 0;

void on_python_sigint(int) { request_interrupt(); }

}  // namespace

InterruptScope::InterruptScope() {
  if (PyThread_get_thread_ident() != g_main_thread) return;
  clear_interrupt();
  struct sigaction action {};
  action.sa_handler = on_python_sigint;
  sigemptyset(&action.sa_mask);
  installed_ = sigaction(SIGINT, &action, &previous_) == 0;
}

InterruptScope::~InterruptScope() {
  if (!installed_) return;
  sigaction(SIGINT, &previous_, nullptr);
  if (interrupted()) {
    clear_interrupt();
    // The work ended anyway: Python sees the Ctrl-C next. (When it raised, quench.Interrupted or
    // the other error is what the caller sees.)
    if (std::uncaught_exceptions() == 0) {
      nb::gil_scoped_acquire gil;
      PyErr_SetInterrupt();
    }
  }
}

}  // namespace quench::py

NB_MODULE(_quench, m) {
  namespace nb = nanobind;
  using namespace quench::py;
  m.doc() = "quench's compiled core; use the quench package instead.";
  g_main_thread = PyThread_get_thread_ident();

  m.def(
      "_set_error_classes",
      [](nb::list classes) {
        if (classes.size() != kKinds) throw nb::value_error("one class per ErrorKind expected");
        for (size_t i = 0; i < kKinds; ++i) {
          nb::object c = classes[i];
          Py_XDECREF(g_error_classes[i]);
          g_error_classes[i] = c.release().ptr();
        }
      },
      "Sets the exception class raised for each quench::ErrorKind (in enum order).");
  m.def(
      "_input_copies", [] { return g_input_copies.load(); },
      "Number of Session.run inputs copied because they were not C-contiguous.");

  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const quench::Error& e) {
      PyObject* cls = g_error_classes[static_cast<size_t>(e.kind())];
      PyErr_SetString(cls ? cls : PyExc_RuntimeError, e.what());
    }
  });

  bind_session(m);
  bind_tools(m);
}
