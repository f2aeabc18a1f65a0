// The int8 loops compiled for avx2 (flags from the file name).
#define QUENCH_X86_ISA avx2
#include "kernels/x86/qloops_impl.h"

namespace quench::x86::avx2 {

QLoops qloops() { return table(); }

}  // namespace quench::x86::avx2
