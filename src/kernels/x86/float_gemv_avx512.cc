// The panel loop of PackedFloatGemv compiled for AVX-512 (flags from the file name).
#define QUENCH_X86_ISA avx512
#include "kernels/x86/float_gemv_impl.h"
