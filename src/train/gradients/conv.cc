// Conv in the training engine: oneDNN's forward-training, backward-data and backward-weights
// primitives where oneDNN has them for the node's shapes (kernels/onednn/conv_training.h), else
// the reference im2col kernel (conv_im2col.cc), which is also the oracle the fast path is tested
// against. docs/training.md (T1)-(T3).
#include <vector>

#include "train/gradients/conv_im2col.h"

#ifdef QUENCH_WITH_ONEDNN
#include "kernels/onednn/conv_training.h"
#endif

namespace quench::train {

namespace {

#ifdef QUENCH_WITH_ONEDNN
std::shared_ptr<const onednn::ConvTraining> fast_conv(const Node& node, const Tensor* x,
                                                      const Tensor* w, const Tensor* bias) {
  if (x == nullptr || w == nullptr || x->dtype() != DType::kFloat32 ||
      w->dtype() != DType::kFloat32 || (x->rank() != 3 && x->rank() != 4) ||
      w->rank() != x->rank() || x->dim(1) != w->dim(1) * node.attr_int("group", 1) ||
      (bias != nullptr &&
       (bias->dtype() != DType::kFloat32 || bias->rank() != 1 || bias->dim(0) != w->dim(0)))) {
    return nullptr;  // the reference kernel checks and reports
  }
  return onednn::ConvTraining::get(node, x->shape(), w->shape(), bias != nullptr);
}
#endif

std::vector<Tensor> conv_forward(const Node& node, const std::vector<const Tensor*>& in) {
#ifdef QUENCH_WITH_ONEDNN
  const Tensor* bias = in.size() > 2 ? in[2] : nullptr;
  if (in.size() >= 2) {
    if (auto k = fast_conv(node, in[0], in[1], bias)) {
      Tensor result = Tensor::empty(DType::kFloat32, k->output_shape());
      k->forward(in[0]->data<float>(), in[1]->data<float>(), bias ? bias->data<float>() : nullptr,
                 result.data<float>());
      return {result};
    }
  }
#endif
  return conv_forward_im2col(node, in);
}

std::vector<Tensor> conv_backward(const GradContext& ctx) {
#ifdef QUENCH_WITH_ONEDNN
  const Tensor* bias = ctx.inputs.size() > 2 ? ctx.inputs[2] : nullptr;
  if (ctx.inputs.size() >= 2) {
    if (auto k = fast_conv(ctx.node, ctx.inputs[0], ctx.inputs[1], bias)) {
      const Tensor& x = *ctx.inputs[0];
      const Tensor& w = *ctx.inputs[1];
      const Tensor& dy = ctx.output_grads[0];
      std::vector<Tensor> grads(ctx.inputs.size());
      if (ctx.needs(0)) {
        grads[0] = Tensor::empty(DType::kFloat32, x.shape());
        k->backward_data(w.data<float>(), dy.data<float>(), grads[0].data<float>());
      }
      const bool want_bias = bias != nullptr && ctx.needs(2);
      if (ctx.needs(1) || want_bias) {
        Tensor dw = Tensor::empty(DType::kFloat32, w.shape());
        if (want_bias) grads[2] = Tensor::empty(DType::kFloat32, bias->shape());
        k->backward_weights(x.data<float>(), dy.data<float>(), dw.data<float>(),
                            want_bias ? grads[2].data<float>() : nullptr);
        if (ctx.needs(1)) grads[1] = std::move(dw);
      }
      return grads;
    }
  }
#endif
  return conv_backward_im2col(ctx);
}

}  // namespace

void register_conv_gradients(GradientTable& t) {
  t.emplace_back("Conv", GradientDef{conv_backward, conv_forward, {}});
}

}  // namespace quench::train
