// The Swish loop compiled for AVX2 and FMA (flags from the file name).
#define QUENCH_X86_ISA avx2
#include "kernels/x86/swish.h"

#include "kernels/x86/swish_impl.h"

namespace quench::x86::avx2 {

SwishLoop swish_loop() { return swish_impl; }

}  // namespace quench::x86::avx2
