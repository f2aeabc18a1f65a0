// Concat, Split, Gather and Slice (docs/training.md (T17)): Concat hands each input its slice of dY
// along the axis; Split concatenates its outputs' gradients (zeros where none flows); Gather adds
// each gathered row's gradient back at its index (an index used twice gets both).
#include <algorithm>
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

// Slice: dY is scattered back at the positions the slice read (starts/ends/axes/steps from the
// inputs, or from the attributes before opset 10), the rest of dX is 0.
std::vector<Tensor> slice_backward(const GradContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int rank = x.rank();
  auto list = [&](size_t input, const char* attr) {
    if (ctx.opset >= 10) {
      return input < ctx.inputs.size() && ctx.inputs[input] != nullptr
                 ? ctx.inputs[input]->to_int64_vector()
                 : std::vector<int64_t>{};
    }
    return ctx.node.attr_ints(attr);
  };
  const std::vector<int64_t> starts = list(1, "starts");
  const std::vector<int64_t> ends = list(2, "ends");
  std::vector<int64_t> axes = list(3, "axes");
  std::vector<int64_t> steps = ctx.opset >= 10 ? list(4, "") : std::vector<int64_t>{};
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      (!steps.empty() && steps.size() != starts.size())) {
    throw Error(ErrorKind::kInvalidModel,
                ctx.node.describe() + ": starts, ends, axes and steps " + "differ in length");
  }
  std::vector<int64_t> begin(rank, 0), step(rank, 1);
  for (size_t i = 0; i < starts.size(); ++i) {
    const int axis = normalize_axis(ctx.node, axes[i], rank);
    const int64_t dim = x.dim(axis);
    const int64_t st = steps.empty() ? 1 : steps[i];
    if (st == 0) throw Error(ErrorKind::kInvalidModel, ctx.node.describe() + ": step 0");
    int64_t b = starts[i] < 0 ? starts[i] + dim : starts[i];
    b = st > 0 ? std::clamp<int64_t>(b, 0, dim) : std::clamp<int64_t>(b, 0, dim - 1);
    begin[axis] = b;
    step[axis] = st;
  }
  const Tensor& dy = ctx.output_grads[0];
  Tensor dx = Tensor::zeros(DType::kFloat32, x.shape());
  std::vector<int64_t> x_strides(rank, 1);
  for (int d = rank - 2; d >= 0; --d) x_strides[d] = x_strides[d + 1] * x.dim(d + 1);
  std::vector<int64_t> index(rank, 0);
  const float* g = dy.data<float>();
  float* o = dx.data<float>();
  for (int64_t i = 0; i < dy.numel(); ++i) {
    int64_t offset = 0;
    for (int d = 0; d < rank; ++d) offset += (begin[d] + index[d] * step[d]) * x_strides[d];
    o[offset] += g[i];
    for (int d = rank - 1; d >= 0; --d) {
      if (++index[d] < dy.dim(d)) break;
      index[d] = 0;
    }
  }
  std::vector<Tensor> grads(ctx.inputs.size());
  grads[0] = dx;
  return grads;
}

}  // namespace

void register_tensor_gradients(GradientTable& t) {
  t.emplace_back("Concat", GradientDef{concat_backward, {}, {}});
  t.emplace_back("Split", GradientDef{split_backward, {}, {1}});
  t.emplace_back("Gather", GradientDef{gather_backward, {}, {1}});
  t.emplace_back("Slice", GradientDef{slice_backward, {}, {1, 2, 3, 4}});
}

}  // namespace quench::train
