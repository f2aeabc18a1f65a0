// The int8 loops compiled for avx512 (flags from the file name).
#define QUENCH_X86_ISA avx512
#include "kernels/x86/qloops_impl.h"

namespace quench::x86::avx512 {

QLoops qloops() { return table(); }

}  // namespace quench::x86::avx512
