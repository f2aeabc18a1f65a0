#include "ops/register.h"
#include "ir/op_registry.h"
#include "kernels/onednn/kernels.h"
#include "kernels/onednn/qbinary.h"
#include "kernels/onednn/qconcat.h"
#include "kernels/onednn/qpool.h"
#include "kernels/onednn/qquantize.h"
#include "kernels/onednn/qsoftmax.h"

namespace quench {
namespace {

// int8 pooling, element-wise, concat, softmax and quantization kernels (kernels/onednn/q*.h).
// MaxPool's comes after the float32 pooling kernel, which declines 8-bit data.
void register_int8_misc_kernels(OpRegistry& r) {
  constexpr char kMs[] = "com.microsoft";
  r.add_fast("", "MaxPool", {"onednn-int8", onednn::make_int8_max_pool, true});
  r.add_fast(kMs, "QLinearAveragePool", {"onednn-int8", onednn::make_qlinear_average_pool, true});
  r.add_fast(kMs, "QLinearGlobalAveragePool",
             {"onednn-int8", onednn::make_qlinear_global_average_pool, true});
  r.add_fast(kMs, "QLinearAdd", {"onednn-int8", onednn::make_qlinear_binary, true});
  r.add_fast(kMs, "QLinearMul", {"onednn-int8", onednn::make_qlinear_binary, true});
  r.add_fast(kMs, "QLinearConcat", {"onednn-int8", onednn::make_qlinear_concat, false});
  r.add_fast(kMs, "QLinearSoftmax", {"onednn-int8", onednn::make_qlinear_softmax, false});
  r.add_fast("", "QuantizeLinear", {"onednn-int8", onednn::make_quantize_linear, false});
  r.add_fast("", "DequantizeLinear", {"onednn-int8", onednn::make_dequantize_linear, false});
}

}  // namespace

void register_fast_kernels(OpRegistry& r) {
  onednn::register_kernels(r);
  register_int8_misc_kernels(r);
}

}  // namespace quench
