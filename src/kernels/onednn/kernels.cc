#include "kernels/onednn/kernels.h"

#include "ir/op_registry.h"
#include "kernels/onednn/conv.h"
#include "kernels/onednn/eltwise.h"
#include "kernels/onednn/matmul.h"
#include "kernels/onednn/norm.h"
#include "kernels/onednn/pool.h"
#include "kernels/onednn/rnn.h"
#include "ops/fused.h"

namespace quench::onednn {

void register_kernels(OpRegistry& r) {
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
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"}) {
    r.add_fast("", op, {"onednn", make_binary, true});
  }
  for (const char* op : {"RNN", "GRU", "LSTM"}) r.add_fast("", op, {"onednn", make_rnn, false});
}

}  // namespace quench::onednn
