// The Erf loop compiled for the baseline instruction set (SSE2).
#define QUENCH_X86_ISA baseline
#include "kernels/x86/erf.h"

#include "kernels/x86/erf_impl.h"

namespace quench::x86::baseline {

ErfLoop erf_loop() { return erf_loop_impl; }

}  // namespace quench::x86::baseline
