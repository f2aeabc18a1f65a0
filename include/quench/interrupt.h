// Stopping long work (calibration, quantization, evaluation, training): such calls poll a flag and
// end with ErrorKind::kInterrupted, leaving no half-written output. The flag is set by SIGINT once
// install_interrupt_handler() ran (a second SIGINT exits at once), or by request_interrupt() from
// any thread (a binding's own signal handling).
#pragma once

namespace quench {

void install_interrupt_handler();
void request_interrupt();
// Whether an interrupt was requested and not yet cleared.
bool interrupted();
// Clears the flag (before starting new work after an interrupted call).
void clear_interrupt();

}  // namespace quench
