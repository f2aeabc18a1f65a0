// The Swish loop compiled for AVX-512 (F, BW, VL, DQ) (flags from the file name).
#define QUENCH_X86_ISA avx512
#include "kernels/x86/swish.h"

#include "kernels/x86/swish_impl.h"

namespace quench::x86::avx512 {

SwishLoop swish_loop() { return swish_impl; }

}  // namespace quench::x86::avx512
