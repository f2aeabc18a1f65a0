// The recurrent cells compiled for AVX-512 with full-width vectors (flags from the file name and
// CMakeLists.txt).
#define QUENCH_X86_ISA avx512
#include "kernels/x86/rnn_cell_impl.h"

namespace quench::x86::avx512 {

CellFunctions cell_functions() { return table(); }

}  // namespace quench::x86::avx512
