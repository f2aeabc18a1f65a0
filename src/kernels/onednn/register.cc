#include "ops/register.h"
#include "ir/op_registry.h"
#include "kernels/onednn/cast.h"
#include "kernels/onednn/kernels.h"
#include "kernels/onednn/qbinary.h"
#include "kernels/onednn/qconcat.h"
#include "kernels/onednn/qconv.h"
#include "kernels/onednn/qlookup.h"
#include "kernels/onednn/qmatmul.h"
#include "kernels/onednn/qpool.h"
#include "kernels/onednn/qquantize.h"
#include "kernels/onednn/qsoftmax.h"
#include "kernels/onednn/quant_lstm.h"
#include "kernels/onednn/transpose.h"
#include "kernels/x86/kernels.h"
#include "ops/fused.h"

namespace quench {
namespace {

constexpr char kMs[] = "com.microsoft";

// int8 convolutions and matrix products (ConvInteger and MatMulInteger included); convolutions keep
// their channels-last activations between them.
void register_int8_gemm_kernels(OpRegistry& r) {
  r.add_fast("", "QLinearConv", {"onednn", onednn::make_qconv, true});
  r.add_fast(kInternalDomain, "QFusedConv", {"onednn", onednn::make_qconv, true});
  r.add_fast("", "QLinearMatMul", {"onednn", onednn::make_qmatmul, false});
  r.add_fast(kInternalDomain, "QFusedMatMul", {"onednn", onednn::make_qmatmul, false});
  r.add_fast(kMs, "QGemm", {"onednn", onednn::make_qgemm, false});
  r.add_fast("", "ConvInteger", {"onednn", onednn::make_conv_integer, true});
  r.add_fast("", "MatMulInteger", {"onednn", onednn::make_matmul_integer, false});
  r.add_fast(kMs, "DynamicQuantizeLSTM", {"onednn", onednn::make_quant_lstm, false});
}

// int8 pooling, element-wise, concat, softmax and quantization kernels (kernels/onednn/q*.h).
// MaxPool's comes after the float32 pooling kernel, which declines 8-bit data.
void register_int8_misc_kernels(OpRegistry& r) {
  r.add_fast("", "MaxPool", {"onednn-int8", onednn::make_int8_max_pool, true});
  r.add_fast(kMs, "QLinearAveragePool", {"onednn-int8", onednn::make_qlinear_average_pool, true});
  r.add_fast(kMs, "QLinearGlobalAveragePool",
             {"onednn-int8", onednn::make_qlinear_global_average_pool, true});
  r.add_fast(kMs, "QLinearAdd", {"onednn-int8", onednn::make_qlinear_binary, true});
  r.add_fast(kMs, "QLinearMul", {"onednn-int8", onednn::make_qlinear_binary, true});
  r.add_fast(kMs, "QLinearConcat", {"onednn-int8", onednn::make_qlinear_concat, false});
  r.add_fast(kMs, "QLinearSoftmax", {"onednn-int8", onednn::make_qlinear_softmax, false});
  r.add_fast(kInternalDomain, "QLookup", {"onednn-int8", onednn::make_qlookup, true});
  r.add_fast("", "QuantizeLinear", {"onednn-int8", onednn::make_quantize_linear, false});
  r.add_fast("", "DequantizeLinear", {"onednn-int8", onednn::make_dequantize_linear, false});
  // Integer results to float (ConvInteger -> Cast), reading the producer's layout.
  r.add_fast("", "Cast", {"onednn-int8", onednn::make_cast, true});
  r.add_fast("", "DynamicQuantizeLinear",
             {"onednn-int8", onednn::make_dynamic_quantize_linear, false});
}

// Kernels the int8 transformer path needs: Transpose of any fixed-size element type (float and
// 8-bit data alike).
void register_int8_vit_kernels(OpRegistry& r) {
  r.add_fast("", "Transpose", {"onednn", onednn::make_transpose, false});
}

}  // namespace

void register_fast_kernels(OpRegistry& r) {
  onednn::register_kernels(r);
  register_int8_gemm_kernels(r);
  x86::register_int8_kernels(r);  // after oneDNN's, which win where they are exact
  register_int8_misc_kernels(r);
  register_int8_vit_kernels(r);
}

}  // namespace quench
