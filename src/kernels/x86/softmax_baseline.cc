// The softmax loops compiled for the baseline instruction set (SSE2) (flags from the file name).
#define QUENCH_X86_ISA baseline
#include "kernels/x86/softmax.h"

#include "kernels/x86/softmax_impl.h"

namespace quench::x86::baseline {

SoftmaxLoop softmax_loop() { return softmax_impl; }
ExpLoop exp_loop() { return exp_impl; }

}  // namespace quench::x86::baseline
