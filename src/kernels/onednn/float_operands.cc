#include "kernels/onednn/float_operands.h"

#include "core/half.h"

namespace quench::onednn {

bool float_operands(const TensorDesc& x, const TensorDesc& w) {
  if (x.dtype == DType::kFloat32) return w.dtype == DType::kFloat32;
  if (x.dtype != DType::kBFloat16) return false;
  if (w.dtype == DType::kBFloat16) return true;
  return w.dtype == DType::kFloat32 && w.constant != nullptr &&
         all_bfloat16_exact(w.constant->data<float>(), w.numel());
}

}  // namespace quench::onednn
