#include "ops/fused.h"

#include <memory>

#include "core/check.h"
#include "core/half.h"
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
  info.output_type = static_cast<DType>(node.attr_int("to", 1));
  QUENCH_CHECK(info.output_type == DType::kFloat32 || info.output_type == DType::kBFloat16,
               ErrorKind::kInvalidModel, "{}: output type 'to' must be float or bfloat16, got {}",
               node.describe(), node.attr_int("to", 1));
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
  std::vector<ValueInfo> as_float(info.base_inputs);
  for (size_t i = 0; i < info.base_inputs; ++i) {
    const ValueInfo* in = ctx.has_input(i) ? &ctx.input(i) : nullptr;
    if (in != nullptr && in->dtype == DType::kBFloat16) {  // read as float32
      as_float[i] = *in;
      as_float[i].dtype = DType::kFloat32;
      in = &as_float[i];
    }
    inputs.push_back(in);
    constants.push_back(in != nullptr && in->dtype == ctx.input(i).dtype ? ctx.constant(i)
                                                                         : nullptr);
  }
  std::vector<ValueInfo> outputs(ctx.num_outputs());
  InferContext base(ctx.node(), ctx.opset(), std::move(inputs), std::move(constants), outputs);
  base_def(info, ctx.node()).infer(base);
  if (!outputs.empty() && outputs[0].dtype == DType::kFloat32) outputs[0].dtype = info.output_type;
  for (size_t i = 0; i < outputs.size(); ++i) ctx.output(i) = std::move(outputs[i]);
}

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

// bfloat16 operands of the base op, widened to float32 before it runs: constants once, the
// others into scratch at each run.
struct WidenedInputs {
  std::vector<size_t> index;                      // base inputs that are bfloat16
  std::vector<std::shared_ptr<Tensor>> constant;  // their float32 copies, or null
  std::vector<int64_t> numel;
  std::vector<size_t> offset;  // in scratch, for the non-constant ones
  size_t bytes = 0;

  // Retypes `base` inputs to float32 and records what run() converts.
  explicit WidenedInputs(std::vector<TensorDesc>& base) {
    for (size_t i = 0; i < base.size(); ++i) {
      TensorDesc& d = base[i];
      if (d.dtype != DType::kBFloat16) continue;
      index.push_back(i);
      numel.push_back(d.numel());
      offset.push_back(bytes);
      std::shared_ptr<Tensor> c;
      if (d.constant != nullptr) {
        c = std::make_shared<Tensor>(Tensor::empty(DType::kFloat32, d.shape));
        widen(static_cast<const uint16_t*>(d.constant->raw_data()), c->data<float>(), d.numel());
        d.constant = c.get();
      } else {
        bytes += align64(static_cast<size_t>(d.numel()) * sizeof(float));
      }
      constant.push_back(std::move(c));
      d.dtype = DType::kFloat32;
    }
  }

  static void widen(const uint16_t* from, float* to, int64_t n) {
    for (int64_t i = 0; i < n; ++i) to[i] = bfloat16_to_float(from[i]);
  }

  // `pointers` (the base inputs) with each bfloat16 one replaced by its float32 copy.
  void apply(std::vector<const void*>& pointers, char* scratch) const {
    for (size_t j = 0; j < index.size(); ++j) {
      const size_t i = index[j];
      if (constant[j]) {
        pointers[i] = constant[j]->raw_data();
        continue;
      }
      auto* to = reinterpret_cast<float*>(scratch + offset[j]);
      widen(static_cast<const uint16_t*>(pointers[i]), to, numel[j]);
      pointers[i] = to;
    }
  }
};

std::unique_ptr<Kernel> ref_fused(KernelContext& ctx) {
  const FusedInfo info = fused_info(ctx.node);
  KernelContext base_ctx = ctx;
  base_ctx.inputs.resize(info.base_inputs);
  auto widened = std::make_shared<const WidenedInputs>(base_ctx.inputs);
  base_ctx.outputs[0].dtype = DType::kFloat32;
  std::shared_ptr<Kernel> base = base_def(info, ctx.node).reference(base_ctx);
  if (!base) return nullptr;
  const TensorDesc& out = ctx.outputs[0];
  for (int extra : {info.bias_input, info.sum_input}) {
    QUENCH_CHECK(extra < 0 || ctx.input(static_cast<size_t>(extra)).dtype == DType::kFloat32,
                 ErrorKind::kUnsupported, "{}: fused bias and sum inputs must be float32",
                 ctx.node.describe());
  }
  const int64_t n = out.numel();
  const int64_t bias_len = info.bias_input >= 0 ? ctx.input(info.bias_input).numel() : 1;
  const bool round = info.output_type == DType::kBFloat16;
  // scratch: the base kernel's, then the widened inputs, then a float32 result to round
  const size_t base_bytes = align64(base->scratch_bytes());
  const size_t result_offset = base_bytes + widened->bytes;
  const size_t scratch = result_offset + (round ? static_cast<size_t>(n) * sizeof(float) : 0);
  const size_t num_inputs = ctx.inputs.size();
  return ref::make_kernel(
      [base, widened, info, n, bias_len, round, base_bytes, result_offset,
       num_inputs](const KernelArgs& a) {
        char* scratch = static_cast<char*>(a.scratch);
        float* y =
            round ? reinterpret_cast<float*>(scratch + result_offset) : ref::out<float>(a, 0);
        if (widened->index.empty() && !round) {
          base->run(a);  // base inputs come first, so the argument arrays can be shared
        } else {
          std::vector<const void*> inputs(a.inputs, a.inputs + num_inputs);
          widened->apply(inputs, scratch + base_bytes);
          void* outputs[] = {y};
          base->run(KernelArgs{inputs.data(), outputs, a.scratch, a.state});
        }
        const float* bias = info.bias_input >= 0 ? ref::in<float>(a, info.bias_input) : nullptr;
        const float* sum = info.sum_input >= 0 ? ref::in<float>(a, info.sum_input) : nullptr;
        auto* y_half = round ? ref::out<uint16_t>(a, 0) : nullptr;
        for (int64_t i = 0; i < n; ++i) {
          float v = y[i];
          if (bias) v += bias[i % bias_len];
          if (sum) v += sum[i];
          v = info.activation(v);
          if (round) {
            y_half[i] = float_to_bfloat16(v);
          } else {
            y[i] = v;
          }
        }
      },
      scratch);
}

}  // namespace

void register_fused_ops(OpRegistry& r) {
  for (const char* op : {"FusedConv", "FusedGemm", "FusedMatMul"}) {
    r.add({kInternalDomain, op, 1, infer_fused, ref_fused, {}});
  }
}

}  // namespace quench
