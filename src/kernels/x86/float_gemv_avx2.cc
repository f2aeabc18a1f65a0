// The panel loop of PackedFloatGemv compiled for AVX2 (flags from the file name).
#define QUENCH_X86_ISA avx2
#include "kernels/x86/float_gemv_impl.h"
