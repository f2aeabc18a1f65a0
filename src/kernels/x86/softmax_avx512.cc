// The softmax loops compiled for AVX-512 (F, BW, VL, DQ) (flags from the file name).
#define QUENCH_X86_ISA avx512
#include "kernels/x86/softmax.h"

#include "kernels/x86/softmax_impl.h"

namespace quench::x86::avx512 {

SoftmaxLoop softmax_loop() { return softmax_impl; }
ExpLoop exp_loop() { return exp_impl; }

}  // namespace quench::x86::avx512
