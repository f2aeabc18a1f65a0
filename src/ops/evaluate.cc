#include "ops/evaluate.h"

#include "core/check.h"
#include "ops/op_registry.h"

namespace quench {

std::vector<Tensor> evaluate_node(const Node& node, int64_t opset,
                                  const std::vector<const Tensor*>& inputs) {
  const OpDef* def = op_registry().find(node.domain, node.op_type);
  QUENCH_CHECK(def != nullptr && def->reference != nullptr, ErrorKind::kUnsupported,
               "{}: op is not supported", node.describe());
  std::vector<ValueInfo> input_infos(inputs.size());
  std::vector<const ValueInfo*> info_ptrs(inputs.size(), nullptr);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] == nullptr) continue;
    input_infos[i] = ValueInfo{inputs[i]->dtype(), symbolic(inputs[i]->shape()), ""};
    info_ptrs[i] = &input_infos[i];
  }
  std::vector<ValueInfo> outputs(node.outputs.size());
  InferContext infer(node, opset, info_ptrs, inputs, outputs);
  def->infer(infer);

  KernelContext ctx{node, opset, {}, {}, 1};
  for (const Tensor* t : inputs) {
    ctx.inputs.push_back(t ? TensorDesc{t->dtype(), t->shape(), t, {}} : TensorDesc{});
  }
  std::vector<Tensor> results;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (node.outputs[i].empty()) {
      ctx.outputs.emplace_back();
      results.emplace_back();
      continue;
    }
    auto shape = outputs[i].shape ? concrete(*outputs[i].shape) : std::nullopt;
    QUENCH_CHECK(shape.has_value() && outputs[i].dtype != DType::kUndefined, ErrorKind::kInternal,
                 "{}: output {} has no concrete type and shape after inference", node.describe(),
                 i);
    ctx.outputs.push_back(TensorDesc{outputs[i].dtype, *shape, nullptr, {}});
    results.push_back(Tensor::empty(outputs[i].dtype, *shape));
  }
  std::unique_ptr<Kernel> kernel = def->reference(ctx);
  QUENCH_CHECK(kernel != nullptr, ErrorKind::kUnsupported,
               "{}: the reference kernel does not support this configuration", node.describe());
  std::vector<const void*> in_ptrs;
  for (const Tensor* t : inputs) in_ptrs.push_back(t ? t->raw_data() : nullptr);
  std::vector<void*> out_ptrs;
  for (Tensor& t : results) out_ptrs.push_back(t.defined() ? t.raw_data() : nullptr);
  std::shared_ptr<void> scratch = aligned_alloc_shared(kernel->scratch_bytes());
  std::unique_ptr<KernelState> state = kernel->make_state();
  kernel->run(KernelArgs{in_ptrs.data(), out_ptrs.data(), scratch.get(), state.get()});
  return results;
}

}  // namespace quench
