// The Erf loop compiled for AVX2 (flags from the file name).
#define QUENCH_X86_ISA avx2
#include "kernels/x86/erf.h"

#include "kernels/x86/erf_impl.h"

namespace quench::x86::avx2 {

ErfLoop erf_loop() { return erf_loop_impl; }

}  // namespace quench::x86::avx2
