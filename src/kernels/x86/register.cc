#include "kernels/x86/register.h"

#include "kernels/x86/cpu_features.h"
#include "kernels/x86/erf.h"
#include "kernels/x86/int8_conv.h"
#include "kernels/x86/int8_matmul.h"
#include "kernels/x86/nbits_gemv.h"
#include "kernels/x86/quant_gru.h"
#include "kernels/x86/softmax.h"
#include "kernels/x86/swish.h"
#include "kernels/x86/transpose.h"
#include "ops/domains.h"
#include "ops/op_registry.h"

namespace quench::x86 {

void register_leading_kernels(OpRegistry& r) {
  // oneDNN 2.6's softmax slows to 1.5 ns per value on attention scores (eq. (153)).
  r.add_fast("", "Softmax", {"x86", make_softmax, false});
  // oneDNN 2.6's swish costs about 0.67 ns per value (eq. (164)).
  r.add_fast(kInternalDomain, "Swish", {"x86", make_swish, true});
  // 2-D depthwise int8 convolutions on AVX-512 VNNI (eq. (163)): three taps per vpdpbusd lane,
  // ahead of oneDNN 2.6's depthwise kernels (one tap per lane).
  if (cpu_features().avx512 && cpu_features().avx512_vnni) {
    r.add_fast("", "QLinearConv", {"x86", make_qdepthwise_conv, true});
    r.add_fast(kInternalDomain, "QFusedConv", {"x86", make_qdepthwise_conv, true});
  }
}

void register_kernels(OpRegistry& r) {
  // Any fixed-size element type: float and 8-bit data alike.
  r.add_fast("", "Transpose", {"x86", make_transpose, false});
  // float32 Erf as one vectorized loop (the reference calls std::erf per element): the GELU of a
  // quantized transformer keeps a float Erf between its Q/DQ pairs.
  r.add_fast("", "Erf", {"x86", make_erf, false});
  // The exact int8 products (AVX2), after oneDNN's: they run where oneDNN's are not exact (no
  // VNNI). Convolutions read and write activations channels last between them.
  if (!cpu_features().avx2) return;
  r.add_fast("", "QLinearConv", {"x86", make_qconv, true});
  r.add_fast(kInternalDomain, "QFusedConv", {"x86", make_qconv, true});
  r.add_fast("", "ConvInteger", {"x86", make_conv_integer, true});
  r.add_fast("", "QLinearMatMul", {"x86", make_qmatmul, false});
  r.add_fast(kInternalDomain, "QFusedMatMul", {"x86", make_qmatmul, false});
  r.add_fast("", "MatMulInteger", {"x86", make_matmul_integer, false});
  r.add_fast(kMsDomain, "MatMulIntegerToFloat", {"x86", make_matmul_integer_to_float, false});
  r.add_fast(kMsDomain, "QGemm", {"x86", make_qgemm, false});
  // The integer GRU the runtime makes from DequantizeLinear(int8 W, R) -> GRU.
  r.add_fast(kInternalDomain, "DynamicQuantizeGRU", {"x86", make_quant_gru, false});
  // 4-bit weight-only products (float activations).
  r.add_fast(kMsDomain, "MatMulNBits", {"x86", make_matmul_nbits, false});
}

}  // namespace quench::x86
