// The Swish loop compiled for the baseline instruction set (SSE2) (flags from the file name).
#define QUENCH_X86_ISA baseline
#include "kernels/x86/swish.h"

#include "kernels/x86/swish_impl.h"

namespace quench::x86::baseline {

SwishLoop swish_loop() { return swish_impl; }

}  // namespace quench::x86::baseline
