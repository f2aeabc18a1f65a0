#include "kernels/onednn/eltwise.h"

#include <limits>

#include "kernels/onednn/context.h"
#include "kernels/onednn/layout.h"

namespace quench::onednn {
namespace {

using dnnl::memory;
using alg = dnnl::algorithm;

struct Args2 final : KernelState {
  memory a, b, dst;
};

// A oneDNN primitive with one or two sources and a destination, no weights.
template <class Primitive>
class SimpleKernel final : public Kernel {
 public:
  SimpleKernel(Primitive prim, memory::desc a, memory::desc b, memory::desc dst, std::string impl,
               bool binary)
      : prim_(prim), a_(a), b_(b), dst_(dst), impl_(std::move(impl)), binary_(binary) {}

  void run(const KernelArgs& k) const override {
    auto* s = static_cast<Args2*>(k.state);
    s->a.set_data_handle(const_cast<void*>(k.inputs[a_index_]));
    s->dst.set_data_handle(k.outputs[0]);
    if (binary_) {
      s->b.set_data_handle(const_cast<void*>(k.inputs[b_index_]));
      execute(prim_, {{DNNL_ARG_SRC_0, &s->a}, {DNNL_ARG_SRC_1, &s->b}, {DNNL_ARG_DST, &s->dst}});
    } else {
      execute(prim_, {{DNNL_ARG_SRC, &s->a}, {DNNL_ARG_DST, &s->dst}});
    }
  }
  std::unique_ptr<KernelState> make_state() const override {
    auto s = std::make_unique<Args2>();
    s->a = memory(a_, engine(), DNNL_MEMORY_NONE);
    s->dst = memory(dst_, engine(), DNNL_MEMORY_NONE);
    if (binary_) s->b = memory(b_, engine(), DNNL_MEMORY_NONE);
    return s;
  }
  int inplace_input() const override { return a_index_; }
  std::string impl() const override { return "onednn:" + impl_; }

  int a_index_ = 0;  // inputs read as the primitive's sources
  int b_index_ = 1;

 private:
  Primitive prim_;
  memory::desc a_, b_, dst_;
  std::string impl_;
  bool binary_;
};

struct EltwiseAlg {
  alg algorithm;
  float alpha = 0.f, beta = 0.f;
};

std::optional<EltwiseAlg> eltwise_for(const KernelContext& ctx) {
  const Node& n = ctx.node;
  const std::string& op = n.op_type;
  constexpr float kMax = std::numeric_limits<float>::max();
  if (op == "Relu") return EltwiseAlg{alg::eltwise_relu};
  if (op == "LeakyRelu") return EltwiseAlg{alg::eltwise_relu, n.attr_float("alpha", 0.01f)};
  if (op == "Sigmoid") return EltwiseAlg{alg::eltwise_logistic};
  if (op == "Tanh") return EltwiseAlg{alg::eltwise_tanh};
  if (op == "HardSwish") return EltwiseAlg{alg::eltwise_hardswish};
  if (op == "Elu") return EltwiseAlg{alg::eltwise_elu, n.attr_float("alpha", 1.f)};
  if (op == "Exp") return EltwiseAlg{alg::eltwise_exp};
  if (op == "Sqrt") return EltwiseAlg{alg::eltwise_sqrt};
  if (op == "Abs") return EltwiseAlg{alg::eltwise_abs};
  if (op == "Neg") return EltwiseAlg{alg::eltwise_linear, -1.f, 0.f};
  if (op == "Softplus") return EltwiseAlg{alg::eltwise_soft_relu};
  if (op == "Gelu") return EltwiseAlg{alg::eltwise_gelu_erf};
  if (op == "Swish") return EltwiseAlg{alg::eltwise_swish, 1.f};
  if (op == "Clip") {
    float lo = -kMax, hi = kMax;
    if (ctx.opset < 11) {
      lo = std::max(n.attr_float("min", -kMax), -kMax);
      hi = std::min(n.attr_float("max", kMax), kMax);
    } else {
      for (size_t i = 1; i <= 2; ++i) {
        if (!ctx.has_input(i)) continue;
        const Tensor* t = ctx.inputs[i].constant;
        if (t == nullptr || t->dtype() != DType::kFloat32) return std::nullopt;
        (i == 1 ? lo : hi) = t->data<float>()[0];
      }
    }
    return EltwiseAlg{alg::eltwise_clip, lo, hi};
  }
  return std::nullopt;
}

}  // namespace

std::unique_ptr<Kernel> make_eltwise(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  if (x.dtype != DType::kFloat32 || x.numel() == 0) return nullptr;
  const auto e = eltwise_for(ctx);
  if (!e) return nullptr;
  const memory::desc plain = plain_desc(x.dtype, x.shape);
  const memory::desc src = desc_of(x.layout, plain);
  dnnl::eltwise_forward::primitive_desc pd;
  try {
    pd = dnnl::eltwise_forward::primitive_desc(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, e->algorithm, src, e->alpha,
                                    e->beta),
        engine());
  } catch (const dnnl::error&) {
    return nullptr;
  }
  ctx.outputs[0].layout = x.layout;
  return std::make_unique<SimpleKernel<dnnl::eltwise_forward>>(
      dnnl::eltwise_forward(pd), src, memory::desc(), pd.dst_desc(), pd.impl_info_str(), false);
}

std::unique_ptr<Kernel> make_binary(KernelContext& ctx) {
  const std::string& op = ctx.node.op_type;
  if (ctx.node.inputs.size() != 2) return nullptr;  // variadic Max/Min with 1 or 3+ inputs
  const TensorDesc& x0 = ctx.input(0);
  const TensorDesc& x1 = ctx.input(1);
  const TensorDesc& y = ctx.outputs[0];
  if (x0.dtype != DType::kFloat32 || y.numel() == 0 || y.rank() > 6) return nullptr;
  alg a;
  bool commutes = true;
  if (op == "Add") {
    a = alg::binary_add;
  } else if (op == "Mul") {
    a = alg::binary_mul;
  } else if (op == "Max") {
    a = alg::binary_max;
  } else if (op == "Min") {
    a = alg::binary_min;
  } else if (op == "Sub") {
    a = alg::binary_sub;
    commutes = false;
  } else if (op == "Div") {
    a = alg::binary_div;
    commutes = false;
  } else {
    return nullptr;
  }
  // oneDNN broadcasts only its second source: the first must have the output's shape.
  int first = 0;
  if (x0.shape != y.shape) {
    if (!commutes || x1.shape != y.shape) return nullptr;
    first = 1;
  }
  const TensorDesc& s0 = ctx.input(first);
  const TensorDesc& s1 = ctx.input(1 - first);
  const bool same = s0.shape == s1.shape && same_layout(s0.layout, s1.layout);
  if (!s1.layout.plain() && !same) return nullptr;  // the runtime will offer plain inputs
  Shape b_shape(y.rank() - s1.rank(), 1);
  b_shape.insert(b_shape.end(), s1.shape.begin(), s1.shape.end());
  const memory::desc d0 = desc_of(s0.layout, plain_desc(DType::kFloat32, s0.shape));
  const memory::desc d1 = same ? d0 : plain_desc(DType::kFloat32, b_shape);
  dnnl::binary::primitive_desc pd;
  try {
    pd = dnnl::binary::primitive_desc(dnnl::binary::desc(a, d0, d1, d0), engine());
  } catch (const dnnl::error&) {
    return nullptr;
  }
  auto k = std::make_unique<SimpleKernel<dnnl::binary>>(dnnl::binary(pd), d0, d1, pd.dst_desc(),
                                                        pd.impl_info_str(), true);
  k->a_index_ = first;
  k->b_index_ = 1 - first;
  ctx.outputs[0].layout = s0.layout;
  return k;
}

}  // namespace quench::onednn
