// Ctrl-C handling for long work: the first SIGINT sets a flag that loops poll (they stop with
// ErrorKind::kInterrupted, so no half-written output is left); a second one exits at once.
#pragma once

namespace quench {

void install_interrupt_handler();
bool interrupted();
// Throws Error(kInterrupted) when the user asked to stop.
void check_interrupted();
// For tests: sets or clears the flag as if SIGINT had arrived.
void set_interrupted(bool value);

}  // namespace quench
