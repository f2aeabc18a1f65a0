// Concat, Split and Gather (docs/training.md (T17)): Concat hands each input its slice of dY
// along the axis; Split concatenates its outputs' gradients (zeros where none flows); Gather adds
// each gathered row's gradient back at its index (an index used twice gets both).
#include <string>
#include <vector>

#include "quench/error.h"
#include "train/gradient.h"

namespace quench::train {

namespace {

int normalize_axis(const Node& node, int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) {
    throw Error(ErrorKind::kInvalidModel, node.describe() + ": axis " + std::to_string(axis) +
                                              " is outside a rank-" + std::to_string(rank) +
                                              " tensor");
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

// outer = product of dims before axis, inner = after.
void outer_inner(const Shape& s, int axis, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[d];
  for (size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
}

std::vector<Tensor> concat_backward(const GradContext& ctx) {
  const Tensor& dy = ctx.output_grads[0];
  const int axis = normalize_axis(ctx.node, ctx.node.require_int("axis"), dy.rank());
  int64_t outer, inner;
  outer_inner(dy.shape(), axis, outer, inner);
  const int64_t total = dy.dim(axis);
  std::vector<Tensor> grads(ctx.inputs.size());
  int64_t offset = 0;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    const Tensor& x = ctx.input(i);
    const int64_t size = x.dim(axis);
    if (ctx.needs(i)) {
      Tensor dx = Tensor::empty(DType::kFloat32, x.shape());
      for (int64_t o = 0; o < outer; ++o) {
        const float* src = dy.data<float>() + (o * total + offset) * inner;
        std::copy(src, src + size * inner, dx.data<float>() + o * size * inner);
      }
      grads[i] = dx;
    }
    offset += size;
  }
  return grads;
}

std::vector<Tensor> split_backward(const GradContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int axis = normalize_axis(ctx.node, ctx.node.attr_int("axis", 0), x.rank());
  int64_t outer, inner;
  outer_inner(x.shape(), axis, outer, inner);
  Tensor dx = Tensor::zeros(DType::kFloat32, x.shape());
  int64_t offset = 0;
  for (size_t k = 0; k < ctx.outputs.size(); ++k) {
    if (ctx.outputs[k] == nullptr) continue;
    const int64_t size = ctx.outputs[k]->dim(axis);
    const Tensor& g = ctx.output_grads[k];
    if (g.defined()) {
      for (int64_t o = 0; o < outer; ++o) {
        const float* src = g.data<float>() + o * size * inner;
        std::copy(src, src + size * inner, dx.data<float>() + (o * x.dim(axis) + offset) * inner);
      }
    }
    offset += size;
  }
  std::vector<Tensor> grads(ctx.inputs.size());
  grads[0] = dx;
  return grads;
}

std::vector<Tensor> gather_backward(const GradContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::vector<int64_t> indices = ctx.input(1).to_int64_vector();
  const int axis = normalize_axis(ctx.node, ctx.node.attr_int("axis", 0), x.rank());
  int64_t outer, inner;
  outer_inner(x.shape(), axis, outer, inner);
  const int64_t size = x.dim(axis);
  const int64_t count = static_cast<int64_t>(indices.size());
  Tensor dx = Tensor::zeros(DType::kFloat32, x.shape());
  const float* g = ctx.output_grads[0].data<float>();
  float* d = dx.data<float>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < count; ++j) {
      int64_t index = indices[j] < 0 ? indices[j] + size : indices[j];
      if (index < 0 || index >= size) {
        throw Error(ErrorKind::kInvalidArgument,
                    ctx.node.describe() + ": index " + std::to_string(indices[j]) +
                        " is outside [0, " + std::to_string(size) + ")");
      }
      const float* src = g + (o * count + j) * inner;
      float* dst = d + (o * size + index) * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
    }
  }
  std::vector<Tensor> grads(2);
  grads[0] = dx;
  return grads;
}

}  // namespace

void register_tensor_gradients(GradientTable& t) {
  t.emplace_back("Concat", GradientDef{concat_backward, {}, {}});
  t.emplace_back("Split", GradientDef{split_backward, {}, {1}});
  t.emplace_back("Gather", GradientDef{gather_backward, {}, {1}});
}

}  // namespace quench::train
