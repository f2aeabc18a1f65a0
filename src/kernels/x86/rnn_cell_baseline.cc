// The recurrent cells compiled for the build's baseline (x86-64-v2).
#define QUENCH_X86_ISA baseline
#include "kernels/x86/rnn_cell_impl.h"

namespace quench::x86::baseline {

CellFunctions cell_functions() { return table(); }

}  // namespace quench::x86::baseline
