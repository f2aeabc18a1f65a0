// The softmax loops compiled for AVX2 and FMA (flags from the file name).
#define QUENCH_X86_ISA avx2
#include "kernels/x86/softmax.h"

#include "kernels/x86/softmax_impl.h"

namespace quench::x86::avx2 {

SoftmaxLoop softmax_loop() { return softmax_impl; }
ExpLoop exp_loop() { return exp_impl; }

}  // namespace quench::x86::avx2
