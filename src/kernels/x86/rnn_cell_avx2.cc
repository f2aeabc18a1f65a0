// The recurrent cells compiled for AVX2 (flags from the file name).
#define QUENCH_X86_ISA avx2
#include "kernels/x86/rnn_cell_impl.h"

namespace quench::x86::avx2 {

CellFunctions cell_functions() { return table(); }

}  // namespace quench::x86::avx2
