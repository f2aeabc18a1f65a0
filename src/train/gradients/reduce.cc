// ReduceMean (docs/training.md (T19)): every input element of a reduced group receives the group
// output's gradient divided by the group size.
#include <vector>

#include "quench/error.h"
#include "train/gradient.h"
#include "train/tensor_math.h"

namespace quench::train {

namespace {

std::vector<Tensor> reduce_mean_backward(const GradContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int rank = x.rank();
  std::vector<int64_t> axes = ctx.node.attr_ints("axes");
  if (ctx.inputs.size() > 1 && ctx.inputs[1] != nullptr) axes = ctx.inputs[1]->to_int64_vector();
  const bool noop = ctx.node.attr_int("noop_with_empty_axes", 0) != 0;
  std::vector<bool> reduced(rank, axes.empty() && !noop);
  for (int64_t a : axes) {
    if (a < -rank || a >= rank) {
      throw Error(ErrorKind::kInvalidModel, ctx.node.describe() + ": axis out of range");
    }
    reduced[a < 0 ? a + rank : a] = true;
  }
  Shape kept = x.shape();
  int64_t count = 1;
  for (int d = 0; d < rank; ++d) {
    if (reduced[d]) {
      count *= kept[d];
      kept[d] = 1;
    }
  }
  // dY with the reduced dims kept as 1 (whatever keepdims was), broadcast back over them.
  Tensor dx = broadcast_to(ctx.output_grads[0].reshaped(kept), x.shape()).clone();
  const float scale = 1.0f / static_cast<float>(count > 0 ? count : 1);
  for (float& v : dx.values<float>()) v *= scale;
  std::vector<Tensor> grads(ctx.inputs.size());
  grads[0] = dx;
  return grads;
}

}  // namespace

void register_reduce_gradients(GradientTable& t) {
  t.emplace_back("ReduceMean", GradientDef{reduce_mean_backward, {}, {1}});
}

}  // namespace quench::train
