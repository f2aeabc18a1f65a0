// Shape-only ops (docs/training.md (T10)): Flatten, Reshape, Identity, Squeeze and Unsqueeze
// move no data, so dX is dY viewed with X's shape; Transpose applies the inverse permutation;
// Expand sums over the axes it broadcast; a float-to-float Cast passes the gradient through.
#include <vector>

#include "quench/error.h"
#include "train/gradient.h"
#include "train/tensor_math.h"

namespace quench::train {

namespace {

std::vector<Tensor> view_backward(const GradContext& ctx) {
  std::vector<Tensor> grads(ctx.inputs.size());
  grads[0] = ctx.output_grads[0].reshaped(ctx.input(0).shape());
  return grads;
}

std::vector<Tensor> transpose_backward(const GradContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& dy = ctx.output_grads[0];
  const int rank = x.rank();
  std::vector<int64_t> perm = ctx.node.attr_ints("perm");
  if (perm.empty()) {
    for (int d = rank - 1; d >= 0; --d) perm.push_back(d);
  }
  // y[i_0..] = x[j] with j[perm[d]] = i[d]: scatter dy back the same way.
  std::vector<int64_t> x_strides(rank, 1);
  for (int d = rank - 2; d >= 0; --d) x_strides[d] = x_strides[d + 1] * x.dim(d + 1);
  Tensor dx = Tensor::empty(DType::kFloat32, x.shape());
  const float* g = dy.data<float>();
  float* o = dx.data<float>();
  std::vector<int64_t> index(rank, 0);
  for (int64_t i = 0; i < dy.numel(); ++i) {
    int64_t offset = 0;
    for (int d = 0; d < rank; ++d) offset += index[d] * x_strides[perm[d]];
    o[offset] = g[i];
    for (int d = rank - 1; d >= 0; --d) {
      if (++index[d] < dy.dim(d)) break;
      index[d] = 0;
    }
  }
  return {dx};
}

// Expand: Y is X broadcast to the shape input, so dX is dY summed over the broadcast axes.
std::vector<Tensor> expand_backward(const GradContext& ctx) {
  std::vector<Tensor> grads(ctx.inputs.size());
  grads[0] = reduce_to_shape(ctx.output_grads[0], ctx.input(0).shape());
  return grads;
}

// Cast between float32 tensors passes the gradient through; any other cast carries none (the
// tape refuses a float parameter path through it).
std::vector<Tensor> cast_backward(const GradContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DType::kFloat32 || ctx.outputs[0]->dtype() != DType::kFloat32) {
    throw Error(ErrorKind::kUnsupported, ctx.node.describe() +
                                             ": no gradient through a cast from " +
                                             std::string(dtype_name(x.dtype())) + " to " +
                                             std::string(dtype_name(ctx.outputs[0]->dtype())));
  }
  return {ctx.output_grads[0]};
}

}  // namespace

void register_shape_gradients(GradientTable& t) {
  for (const char* op : {"Flatten", "Identity", "Squeeze", "Unsqueeze"}) {
    t.emplace_back(op, GradientDef{view_backward, {}, {1}});
  }
  t.emplace_back("Reshape", GradientDef{view_backward, {}, {1}});
  t.emplace_back("Transpose", GradientDef{transpose_backward, {}, {}});
  t.emplace_back("Expand", GradientDef{expand_backward, {}, {1}});
  t.emplace_back("Cast", GradientDef{cast_backward, {}, {}});
}

}  // namespace quench::train
