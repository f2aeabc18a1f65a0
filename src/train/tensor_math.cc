#include "train/tensor_math.h"

#include <string>

#include "quench/error.h"

namespace quench::train {

void add_into(Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) {
    throw Error(ErrorKind::kInternal, "gradient accumulation: shape " + shape_str(a.shape()) +
                                          " vs " + shape_str(b.shape()));
  }
  float* pa = a.data<float>();
  const float* pb = b.data<float>();
  for (int64_t i = 0; i < a.numel(); ++i) pa[i] += pb[i];
}

namespace {

// Strides of `shape` aligned right to `rank` dims, 0 along broadcast (size 1 or missing) dims.
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& full) {
  const size_t rank = full.size();
  std::vector<int64_t> strides(rank, 0);
  int64_t stride = 1;
  for (size_t k = 0; k < shape.size(); ++k) {
    const size_t d = shape.size() - 1 - k;
    const size_t fd = rank - 1 - k;
    if (shape[d] != 1) strides[fd] = stride;
    if (shape[d] != 1 && shape[d] != full[fd]) {
      throw Error(ErrorKind::kInvalidArgument,
                  "cannot broadcast " + shape_str(shape) + " to " + shape_str(full));
    }
    stride *= shape[d];
  }
  return strides;
}

// Calls f(full_index, small_index) over every element of `full`.
template <class F>
void for_each_broadcast(const Shape& full, const std::vector<int64_t>& strides, F f) {
  const int rank = static_cast<int>(full.size());
  const int64_t n = shape_numel(full);
  std::vector<int64_t> index(rank, 0);
  int64_t small = 0;
  for (int64_t i = 0; i < n; ++i) {
    f(i, small);
    for (int d = rank - 1; d >= 0; --d) {
      ++index[d];
      small += strides[d];
      if (index[d] < full[d]) break;
      small -= strides[d] * index[d];
      index[d] = 0;
    }
  }
}

}  // namespace

Tensor reduce_to_shape(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  Tensor out = Tensor::zeros(DType::kFloat32, shape);
  const auto strides = broadcast_strides(shape, grad.shape());
  const float* g = grad.data<float>();
  float* o = out.data<float>();
  for_each_broadcast(grad.shape(), strides, [&](int64_t i, int64_t s) { o[s] += g[i]; });
  return out;
}

Tensor broadcast_to(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  Tensor out = Tensor::empty(DType::kFloat32, shape);
  const auto strides = broadcast_strides(t.shape(), shape);
  const float* p = t.data<float>();
  float* o = out.data<float>();
  for_each_broadcast(shape, strides, [&](int64_t i, int64_t s) { o[i] = p[s]; });
  return out;
}

}  // namespace quench::train
