#include "kernels/onednn/eltwise_training.h"

#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <tuple>

#include "kernels/onednn/context.h"
#include "kernels/onednn/primitive_cache.h"

namespace quench::onednn {

namespace {

dnnl::algorithm algorithm_of(EltwiseGrad kind) {
  switch (kind) {
    case EltwiseGrad::kRelu:
      return dnnl::algorithm::eltwise_relu;
    case EltwiseGrad::kClip:
      return dnnl::algorithm::eltwise_clip_v2;
    case EltwiseGrad::kHardSwish:
      return dnnl::algorithm::eltwise_hardswish;
    case EltwiseGrad::kSigmoid:
      return dnnl::algorithm::eltwise_logistic_use_dst_for_bwd;
    case EltwiseGrad::kTanh:
      return dnnl::algorithm::eltwise_tanh_use_dst_for_bwd;
  }
  return dnnl::algorithm::eltwise_relu;
}

struct Primitive {
  dnnl::eltwise_backward backward;
  dnnl::memory::desc desc;
};

// The primitive for (kind, n, lo, hi), made on first use; nullopt when oneDNN has none.
std::optional<Primitive> primitive(EltwiseGrad kind, int64_t n, float lo, float hi) {
  const std::tuple<int, int64_t, float, float> key{static_cast<int>(kind), n, lo, hi};
  return cached(key, [&]() -> std::optional<Primitive> {
    try {
      const dnnl::memory::desc desc({n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
      // Relu's alpha is its negative slope; clip_v2's alpha and beta its bounds.
      const float alpha = kind == EltwiseGrad::kClip ? lo : 0.f;
      const float beta = kind == EltwiseGrad::kClip ? hi : 0.f;
      const dnnl::algorithm alg = algorithm_of(kind);
      const dnnl::eltwise_forward::primitive_desc hint(
          dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, alg, desc, alpha, beta),
          engine());
      const dnnl::eltwise_backward::primitive_desc pd(
          dnnl::eltwise_backward::desc(alg, desc, desc, alpha, beta), engine(), hint);
      return Primitive{dnnl::eltwise_backward(pd), desc};
    } catch (const dnnl::error&) {
      return std::nullopt;  // the caller runs the reference
    }
  });
}

}  // namespace

bool eltwise_backward(EltwiseGrad kind, const float* data, const float* dy, float* dx, int64_t n,
                      float lo, float hi) {
  if (n <= 0) return n == 0;
  const std::optional<Primitive> p = primitive(kind, n, lo, hi);
  if (!p) return false;
  const bool from_output = kind == EltwiseGrad::kSigmoid || kind == EltwiseGrad::kTanh;
  dnnl::memory src(p->desc, engine(), const_cast<float*>(data));
  dnnl::memory diff_dst(p->desc, engine(), const_cast<float*>(dy));
  dnnl::memory diff_src(p->desc, engine(), dx);
  execute(p->backward, {{from_output ? DNNL_ARG_DST : DNNL_ARG_SRC, &src},
                        {DNNL_ARG_DIFF_DST, &diff_dst},
                        {DNNL_ARG_DIFF_SRC, &diff_src}});
  stream().wait();
  return true;
}

}  // namespace quench::onednn
