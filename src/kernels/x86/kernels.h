// quench's own hand-written x86 kernels (not oneDNN), registered as fast kernels.
#pragma once

namespace quench {
class OpRegistry;
namespace x86 {

// The exact int8 products (int8_conv.h, int8_matmul.h), after oneDNN's: they run where oneDNN's
// int8 kernels are not exact (no VNNI) and the CPU has AVX2.
void register_int8_kernels(OpRegistry& r);

}  // namespace x86
}  // namespace quench
