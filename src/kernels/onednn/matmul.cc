#include "kernels/onednn/matmul.h"

#include <cstring>

#include "ir/shape_util.h"
#include "kernels/onednn/context.h"
#include "kernels/onednn/float_operands.h"
#include "kernels/onednn/post_ops.h"
#include "ops/fused.h"

namespace quench::onednn {
namespace {

using dnnl::memory;
using dt = memory::data_type;

struct MatMulState final : KernelState {
  memory src, weights, dst, scratchpad;
};

class MatMulKernel final : public Kernel {
 public:
  void run(const KernelArgs& a) const override {
    auto* s = static_cast<MatMulState*>(a.state);
    s->src.set_data_handle(const_cast<void*>(a.inputs[0]));
    s->dst.set_data_handle(a.outputs[0]);
    s->scratchpad.set_data_handle(a.scratch);
    ExecArgs args{
        {DNNL_ARG_SRC, &s->src}, {DNNL_ARG_DST, &s->dst}, {DNNL_ARG_SCRATCHPAD, &s->scratchpad}};
    if (packed_weights_) {
      args.add(DNNL_ARG_WEIGHTS, packed_weights_);
    } else {
      s->weights.set_data_handle(const_cast<void*>(a.inputs[1]));
      args.add(DNNL_ARG_WEIGHTS, s->weights);
    }
    if (bias_) args.add(DNNL_ARG_BIAS, bias_);
    args.execute(prim_);
  }
  std::unique_ptr<KernelState> make_state() const override {
    auto s = std::make_unique<MatMulState>();
    s->src = memory(src_, engine(), DNNL_MEMORY_NONE);
    s->dst = memory(dst_, engine(), DNNL_MEMORY_NONE);
    s->scratchpad = memory(scratchpad_, engine(), DNNL_MEMORY_NONE);
    if (!packed_weights_) s->weights = memory(weights_, engine(), DNNL_MEMORY_NONE);
    return s;
  }
  size_t scratch_bytes() const override { return scratchpad_.get_size(); }
  std::string impl() const override { return "onednn:" + impl_; }

  // src/weights/dst as the kernel reads them; `constant_weights` (in the layout `weights`
  // describes, already scaled) are packed when given, in src's type; bias is [1, N] when given.
  static std::unique_ptr<Kernel> make(const memory::desc& src, const memory::desc& weights,
                                      const memory::desc& dst, const void* constant_weights,
                                      const std::vector<float>* bias, const Activation& act) {
    const bool pack = constant_weights != nullptr;
    const memory::desc w_md =
        pack ? memory::desc(weights.dims(), src.data_type(), memory::format_tag::any) : weights;
    dnnl::post_ops ops;
    append_activation(ops, act);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::matmul::primitive_desc pd;
    try {
      if (bias) {
        memory::dims bias_dims(dst.dims().size(), 1);
        bias_dims.back() = dst.dims().back();
        const memory::desc bias_md(bias_dims, dt::f32,
                                   to_dims(strides_of(Shape(bias_dims.begin(), bias_dims.end()))));
        pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, w_md, bias_md, dst), attr,
                                          engine());
      } else {
        pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, w_md, dst), attr, engine());
      }
    } catch (const dnnl::error&) {
      return nullptr;
    }
    auto k = std::make_unique<MatMulKernel>();
    k->prim_ = dnnl::matmul(pd);
    k->impl_ = pd.impl_info_str();
    k->src_ = src;
    k->dst_ = dst;
    k->weights_ = weights;
    k->scratchpad_ = pd.scratchpad_desc();
    if (pack) {
      memory user(weights, engine(), const_cast<void*>(constant_weights));
      k->packed_weights_ = memory(pd.weights_desc(), engine());
      dnnl::reorder(user, k->packed_weights_).execute(stream(), user, k->packed_weights_);
      stream().wait();
    }
    if (bias) {
      k->bias_ = memory(pd.bias_desc(), engine());
      std::memcpy(k->bias_.get_data_handle(), bias->data(), bias->size() * sizeof(float));
    }
    return k;
  }

 private:
  dnnl::matmul prim_;
  memory::desc src_, weights_, dst_, scratchpad_;
  memory packed_weights_, bias_;
  std::string impl_;
};

memory::desc matrix_desc(int64_t rows, int64_t cols, bool transposed, DType type) {
  // A row-major [cols, rows] matrix read as [rows, cols].
  const dt t = to_dnnl(type);
  return transposed ? memory::desc({rows, cols}, t, memory::dims{1, rows})
                    : memory::desc({rows, cols}, t, memory::dims{cols, 1});
}

bool float_bias(const KernelContext& ctx, int input) {
  return input < 0 || ctx.input(static_cast<size_t>(input)).dtype == DType::kFloat32;
}

}  // namespace

std::unique_ptr<Kernel> make_gemm(KernelContext& ctx) {
  const Node& node = ctx.node;
  const FusedInfo info = fused_or_base_info(node);
  const TensorDesc& a = ctx.input(0);
  const TensorDesc& b = ctx.input(1);
  if (!float_operands(a, b) || b.constant == nullptr || b.dtype != DType::kFloat32 ||
      a.rank() != 2 || b.rank() != 2 || info.sum_input >= 0 || info.bias_input >= 0) {
    return nullptr;
  }
  const bool trans_a = node.attr_int("transA", 0) != 0;
  const bool trans_b = node.attr_int("transB", 0) != 0;
  const float alpha = node.attr_float("alpha", 1.f);
  const float beta = node.attr_float("beta", 1.f);
  if (a.dtype == DType::kBFloat16 && alpha != 1.f) return nullptr;  // alpha·B may not be bf16
  const int64_t m = trans_a ? a.shape[1] : a.shape[0];
  const int64_t k = trans_a ? a.shape[0] : a.shape[1];
  const int64_t n = trans_b ? b.shape[0] : b.shape[1];

  std::vector<float> bias;
  const bool has_c = info.base_inputs > 2 && ctx.has_input(2);
  if (has_c) {
    const TensorDesc& c = ctx.input(2);
    if (c.constant == nullptr || c.dtype != DType::kFloat32) return nullptr;
    const int64_t cn = c.numel();
    const bool row_vector = c.rank() <= 1 || (c.rank() == 2 && c.shape[0] == 1);
    if (!row_vector || (cn != n && cn != 1)) return nullptr;  // per-row C: reference kernel
    const float* cv = c.constant->data<float>();
    for (int64_t j = 0; j < n; ++j) bias.push_back(beta * cv[cn == 1 ? 0 : j]);
  }
  // alpha is folded into the packed weights.
  Tensor w = b.constant->clone();
  if (alpha != 1.f) {
    for (float& v : w.values<float>()) v *= alpha;
  }
  return MatMulKernel::make(matrix_desc(m, k, trans_a, a.dtype),
                            matrix_desc(k, n, trans_b, DType::kFloat32),
                            matrix_desc(m, n, false, ctx.outputs[0].dtype), w.raw_data(),
                            has_c ? &bias : nullptr, info.activation);
}

std::unique_ptr<Kernel> make_matmul(KernelContext& ctx) {
  const FusedInfo info = fused_or_base_info(ctx.node);
  const TensorDesc& a = ctx.input(0);
  const TensorDesc& b = ctx.input(1);
  const TensorDesc& y = ctx.outputs[0];
  if (!float_operands(a, b) || a.rank() < 2 || b.rank() < 2 || info.sum_input >= 0 ||
      !float_bias(ctx, info.bias_input)) {
    return nullptr;
  }
  std::vector<float> bias;
  if (info.bias_input >= 0) {
    const TensorDesc& bd = ctx.input(info.bias_input);
    if (bd.constant == nullptr) return nullptr;
    bias.assign(bd.constant->data<float>(), bd.constant->data<float>() + bd.numel());
  }
  const std::vector<float>* bias_ptr = info.bias_input >= 0 ? &bias : nullptr;
  if (b.constant != nullptr && b.rank() == 2) {
    // [..., M, K] x [K, N]: every leading dim folds into M.
    const int64_t k = a.shape.back();
    const int64_t rows = a.numel() / k;
    const int64_t n = b.shape[1];
    return MatMulKernel::make(
        matrix_desc(rows, k, false, a.dtype), matrix_desc(k, n, false, b.dtype),
        matrix_desc(rows, n, false, y.dtype), b.constant->raw_data(), bias_ptr, info.activation);
  }
  // Batched, both operands at run time: equal ranks, batch dims broadcast by oneDNN.
  const size_t rank = y.shape.size();
  if (rank > 6) return nullptr;
  auto padded = [rank](const Shape& s) {
    Shape out(rank - s.size(), 1);
    out.insert(out.end(), s.begin(), s.end());
    return out;
  };
  const Shape sa = padded(a.shape), sb = padded(b.shape);
  return MatMulKernel::make(plain_desc(a.dtype, sa), plain_desc(b.dtype, sb),
                            plain_desc(y.dtype, y.shape), nullptr, bias_ptr, info.activation);
}

}  // namespace quench::onednn
