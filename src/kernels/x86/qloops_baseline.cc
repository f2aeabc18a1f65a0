// The int8 loops compiled for the build's baseline (x86-64-v2).
#define QUENCH_X86_ISA baseline
#include "kernels/x86/qloops_impl.h"

namespace quench::x86::baseline {

QLoops qloops() { return table(); }

}  // namespace quench::x86::baseline
