#include "kernels/ref/elementwise.h"

#include "kernels/ref/broadcast.h"

namespace quench::ref::elementwise {

std::string type_class_names(unsigned classes) {
  std::string names;
  auto add = [&](unsigned bit, const char* name) {
    if ((classes & bit) == 0) return;
    if (!names.empty()) names += ", ";
    names += name;
  };
  add(kFloats, "float types");
  add(kSignedInts, "signed integers");
  add(kUnsignedInts, "unsigned integers");
  add(kBools, "bool");
  return names;
}

BroadcastRuns plan_broadcast(const std::vector<Shape>& inputs, const Shape& output) {
  BroadcastRuns plan;
  const size_t num_inputs = inputs.size();
  plan.outer_strides.resize(num_inputs);
  plan.run_step.assign(num_inputs, 0);
  if (shape_numel(output) == 0) return plan;

  // Output dims of size 1 do not move any index: leave them out.
  std::vector<int64_t> dims;
  std::vector<Shape> strides(num_inputs);
  std::vector<Shape> full_strides(num_inputs);
  for (size_t k = 0; k < num_inputs; ++k) full_strides[k] = broadcast_strides(inputs[k], output);
  for (size_t d = 0; d < output.size(); ++d) {
    if (output[d] == 1) continue;
    dims.push_back(output[d]);
    for (size_t k = 0; k < num_inputs; ++k) strides[k].push_back(full_strides[k][d]);
  }

  // The innermost dim starts the run; an input's stride there is 1 or 0 because every later
  // output dim has size 1. A dim further out joins the run when each input's stride over it
  // equals step * run_length, i.e. the input stays contiguous (step 1) or constant (step 0).
  int outer_rank = static_cast<int>(dims.size());
  if (outer_rank > 0) {
    --outer_rank;
    plan.run_length = dims[outer_rank];
    for (size_t k = 0; k < num_inputs; ++k) plan.run_step[k] = strides[k][outer_rank];
    while (outer_rank > 0) {
      const int dim = outer_rank - 1;
      bool mergeable = true;
      for (size_t k = 0; k < num_inputs; ++k) {
        mergeable &= strides[k][dim] == plan.run_step[k] * plan.run_length;
      }
      if (!mergeable) break;
      plan.run_length *= dims[dim];
      --outer_rank;
    }
  }
  plan.outer_shape.assign(dims.begin(), dims.begin() + outer_rank);
  for (size_t k = 0; k < num_inputs; ++k) {
    plan.outer_strides[k].assign(strides[k].begin(), strides[k].begin() + outer_rank);
  }
  plan.runs = shape_numel(plan.outer_shape);
  return plan;
}

}  // namespace quench::ref::elementwise
