#include "ops/fused.h"

#include "core/check.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/op_registry.h"
#include "ops/register.h"

namespace quench {

std::string fused_op_for(const std::string& base_op) {
  if (base_op == "Conv" || base_op == "Gemm" || base_op == "MatMul") return "Fused" + base_op;
  return "";
}

FusedInfo fused_info(const Node& node) {
  FusedInfo info;
  QUENCH_CHECK(node.op_type.rfind("Fused", 0) == 0, ErrorKind::kInternal, "{} is not fused",
               node.describe());
  info.base_op = node.op_type.substr(5);
  const bool bias = node.attr_int("bias", 0) != 0;
  const bool sum = node.attr_int("sum", 0) != 0;
  const size_t extra = (bias ? 1 : 0) + (sum ? 1 : 0);
  QUENCH_CHECK(node.inputs.size() > extra, ErrorKind::kInvalidModel, "{}: too few inputs",
               node.describe());
  info.base_inputs = node.inputs.size() - extra;
  if (bias) info.bias_input = static_cast<int>(info.base_inputs);
  if (sum) info.sum_input = static_cast<int>(node.inputs.size()) - 1;
  info.activation = Activation::from_attributes(node);
  return info;
}

FusedInfo fused_or_base_info(const Node& node) {
  if (node.domain == kInternalDomain) return fused_info(node);
  FusedInfo info;
  info.base_op = node.op_type;
  info.base_inputs = node.inputs.size();
  return info;
}

namespace {

const OpDef& base_def(const FusedInfo& info, const Node& node) {
  const OpDef* def = op_registry().find("", info.base_op);
  QUENCH_CHECK(def != nullptr, ErrorKind::kInternal, "{}: base op {} is not registered",
               node.describe(), info.base_op);
  return *def;
}

void infer_fused(InferContext& ctx) {
  const FusedInfo info = fused_info(ctx.node());
  std::vector<const ValueInfo*> inputs;
  std::vector<const Tensor*> constants;
  for (size_t i = 0; i < info.base_inputs; ++i) {
    inputs.push_back(ctx.has_input(i) ? &ctx.input(i) : nullptr);
    constants.push_back(ctx.constant(i));
  }
  std::vector<ValueInfo> outputs(ctx.num_outputs());
  InferContext base(ctx.node(), ctx.opset(), std::move(inputs), std::move(constants), outputs);
  base_def(info, ctx.node()).infer(base);
  for (size_t i = 0; i < outputs.size(); ++i) ctx.output(i) = std::move(outputs[i]);
}

std::unique_ptr<Kernel> ref_fused(KernelContext& ctx) {
  const FusedInfo info = fused_info(ctx.node);
  KernelContext base_ctx = ctx;
  base_ctx.inputs.resize(info.base_inputs);
  std::shared_ptr<Kernel> base = base_def(info, ctx.node).reference(base_ctx);
  if (!base) return nullptr;
  const TensorDesc& out = ctx.outputs[0];
  QUENCH_CHECK(out.dtype == DType::kFloat32, ErrorKind::kUnsupported,
               "{}: fused epilogues run on float32 only", ctx.node.describe());
  const int64_t n = out.numel();
  const int64_t bias_len = info.bias_input >= 0 ? ctx.input(info.bias_input).numel() : 1;
  return ref::make_kernel(
      [base, info, n, bias_len](const KernelArgs& a) {
        base->run(a);  // base inputs come first, so the argument arrays can be shared
        float* y = ref::out<float>(a, 0);
        const float* bias = info.bias_input >= 0 ? ref::in<float>(a, info.bias_input) : nullptr;
        const float* sum = info.sum_input >= 0 ? ref::in<float>(a, info.sum_input) : nullptr;
        for (int64_t i = 0; i < n; ++i) {
          float v = y[i];
          if (bias) v += bias[i % bias_len];
          if (sum) v += sum[i];
          y[i] = info.activation(v);
        }
      },
      base->scratch_bytes());
}

}  // namespace

void register_fused_ops(OpRegistry& r) {
  for (const char* op : {"FusedConv", "FusedGemm", "FusedMatMul"}) {
    r.add({kInternalDomain, op, 1, infer_fused, ref_fused, {}});
  }
}

}  // namespace quench
