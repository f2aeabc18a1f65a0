#include "kernels/onednn/register.h"

#include "kernels/onednn/cast.h"
#include "kernels/onednn/conv.h"
#include "kernels/onednn/eltwise.h"
#include "kernels/onednn/matmul.h"
#include "kernels/onednn/norm.h"
#include "kernels/onednn/pool.h"
#include "kernels/onednn/qbinary.h"
#include "kernels/onednn/qconcat.h"
#include "kernels/onednn/qconv.h"
#include "kernels/onednn/qlookup.h"
#include "kernels/onednn/qmatmul.h"
#include "kernels/onednn/qpool.h"
#include "kernels/onednn/qquantize.h"
#include "kernels/onednn/qsoftmax.h"
#include "kernels/onednn/quant_lstm.h"
#include "kernels/onednn/rnn.h"
#include "ops/fused.h"
#include "ops/op_registry.h"

namespace quench::onednn {
namespace {

void register_float_kernels(OpRegistry& r) {
  r.add_fast("", "Conv", {"onednn", make_conv, true});
  r.add_fast(kInternalDomain, "FusedConv", {"onednn", make_conv, true});
  r.add_fast("", "Softmax", {"onednn", make_softmax, false});
  r.add_fast("", "LogSoftmax", {"onednn", make_softmax, false});
  r.add_fast("", "LayerNormalization", {"onednn", make_layer_norm, false});
  for (const char* op : {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"}) {
    r.add_fast("", op, {"onednn", make_pool, true});
  }
  r.add_fast("", "Gemm", {"onednn", make_gemm, false});
  r.add_fast(kInternalDomain, "FusedGemm", {"onednn", make_gemm, false});
  r.add_fast("", "MatMul", {"onednn", make_matmul, false});
  r.add_fast(kInternalDomain, "FusedMatMul", {"onednn", make_matmul, false});
  // Not Log: oneDNN's approximation misses log(1) = 0 by 1e-6, outside the ONNX tolerance.
  for (const char* op : {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSwish", "Elu", "Exp", "Sqrt",
                         "Abs", "Neg", "Softplus", "Clip"}) {
    r.add_fast("", op, {"onednn", make_eltwise, true});
  }
  r.add_fast(kInternalDomain, "Gelu", {"onednn", make_eltwise, true});
  r.add_fast(kInternalDomain, "Swish", {"onednn", make_eltwise, true});
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"}) {
    r.add_fast("", op, {"onednn", make_binary, true});
  }
  for (const char* op : {"RNN", "GRU", "LSTM"}) r.add_fast("", op, {"onednn", make_rnn, false});
}

// int8 convolutions and matrix products (ConvInteger and MatMulInteger included); convolutions keep
// their channels-last activations between them.
void register_int8_product_kernels(OpRegistry& r) {
  r.add_fast("", "QLinearConv", {"onednn", make_qconv, true});
  r.add_fast(kInternalDomain, "QFusedConv", {"onednn", make_qconv, true});
  r.add_fast("", "QLinearMatMul", {"onednn", make_qmatmul, false});
  r.add_fast(kInternalDomain, "QFusedMatMul", {"onednn", make_qmatmul, false});
  r.add_fast(kMsDomain, "QGemm", {"onednn", make_qgemm, false});
  r.add_fast("", "ConvInteger", {"onednn", make_conv_integer, true});
  r.add_fast("", "MatMulInteger", {"onednn", make_matmul_integer, false});
  r.add_fast(kMsDomain, "MatMulIntegerToFloat", {"onednn", make_matmul_integer_to_float, false});
  r.add_fast(kMsDomain, "DynamicQuantizeLSTM", {"onednn", make_quant_lstm, false});
}

// int8 pooling, element-wise, concat, softmax and quantization kernels (kernels/onednn/q*.h),
// which read and keep oneDNN's layouts. MaxPool's comes after the float32 pooling kernel, which
// declines 8-bit data.
void register_int8_misc_kernels(OpRegistry& r) {
  r.add_fast("", "MaxPool", {"onednn-int8", make_int8_max_pool, true});
  r.add_fast(kMsDomain, "QLinearAveragePool", {"onednn-int8", make_qlinear_average_pool, true});
  r.add_fast(kMsDomain, "QLinearGlobalAveragePool",
             {"onednn-int8", make_qlinear_global_average_pool, true});
  r.add_fast(kInternalDomain, "DequantizeGlobalAveragePool",
             {"onednn-int8", make_qlinear_global_average_pool, true});
  r.add_fast(kMsDomain, "QLinearAdd", {"onednn-int8", make_qlinear_binary, true});
  r.add_fast(kMsDomain, "QLinearMul", {"onednn-int8", make_qlinear_binary, true});
  r.add_fast(kMsDomain, "QLinearConcat", {"onednn-int8", make_qlinear_concat, false});
  r.add_fast(kMsDomain, "QLinearSoftmax", {"onednn-int8", make_qlinear_softmax, false});
  r.add_fast(kInternalDomain, "QLookup", {"onednn-int8", make_qlookup, true});
  r.add_fast("", "QuantizeLinear", {"onednn-int8", make_quantize_linear, false});
  r.add_fast("", "DequantizeLinear", {"onednn-int8", make_dequantize_linear, false});
  // Integer results to float (ConvInteger -> Cast), reading the producer's layout.
  r.add_fast("", "Cast", {"onednn-int8", make_cast, true});
  r.add_fast("", "DynamicQuantizeLinear", {"onednn-int8", make_dynamic_quantize_linear, false});
}

}  // namespace

void register_kernels(OpRegistry& r) {
  register_float_kernels(r);
  register_int8_product_kernels(r);
  register_int8_misc_kernels(r);
}

}  // namespace quench::onednn
