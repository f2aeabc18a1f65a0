// The panel loop of PackedFloatGemv compiled for the baseline instruction set (SSE2) (flags from
// the file name).
#define QUENCH_X86_ISA baseline
#include "kernels/x86/float_gemv_impl.h"
