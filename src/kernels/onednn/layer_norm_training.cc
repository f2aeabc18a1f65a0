#include "kernels/onednn/layer_norm_training.h"

#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <tuple>
#include <vector>

#include "kernels/onednn/context.h"
#include "kernels/onednn/primitive_cache.h"

namespace quench::onednn {

namespace {

struct Primitives {
  dnnl::layer_normalization_forward forward;
  dnnl::layer_normalization_backward backward;
  dnnl::memory::desc data, stats, channels;
};

}  // namespace

bool layer_norm_backward(int64_t groups, int64_t n, float epsilon, const float* x,
                         const float* gamma, const float* beta, const float* dy, float* dx,
                         float* dgamma, float* dbeta) {
  if (groups * n == 0) return false;
  const bool has_beta = beta != nullptr;
  const std::tuple<int64_t, int64_t, float, bool> key{groups, n, epsilon, has_beta};
  const std::optional<Primitives> p = cached(key, [&]() -> std::optional<Primitives> {
    try {
      using flags = dnnl::normalization_flags;
      using fwd_t = dnnl::layer_normalization_forward;
      using bwd_t = dnnl::layer_normalization_backward;
      Primitives made;
      made.data = dnnl::memory::desc({groups, n}, dnnl::memory::data_type::f32,
                                     dnnl::memory::format_tag::ab);
      made.stats =
          dnnl::memory::desc({groups}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
      made.channels =
          dnnl::memory::desc({n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
      const flags f = has_beta ? flags::use_scale | flags::use_shift : flags::use_scale;
      const fwd_t::primitive_desc fpd(
          fwd_t::desc(dnnl::prop_kind::forward_training, made.data, made.stats, epsilon, f),
          engine());
      const bwd_t::primitive_desc bpd(
          bwd_t::desc(dnnl::prop_kind::backward, made.data, made.data, made.stats, epsilon, f),
          engine(), fpd);
      made.forward = fwd_t(fpd);
      made.backward = bwd_t(bpd);
      return made;
    } catch (const dnnl::error&) {
      return std::nullopt;  // the caller runs the reference
    }
  });
  if (!p) return false;
  std::vector<float> y(static_cast<size_t>(groups * n)), mean(static_cast<size_t>(groups)),
      variance(static_cast<size_t>(groups));
  dnnl::memory src(p->data, engine(), const_cast<float*>(x));
  dnnl::memory dst(p->data, engine(), y.data());
  dnnl::memory m(p->stats, engine(), mean.data());
  dnnl::memory v(p->stats, engine(), variance.data());
  dnnl::memory scale(p->channels, engine(), const_cast<float*>(gamma));
  ExecArgs forward{{DNNL_ARG_SRC, &src},
                   {DNNL_ARG_DST, &dst},
                   {DNNL_ARG_MEAN, &m},
                   {DNNL_ARG_VARIANCE, &v},
                   {DNNL_ARG_SCALE, &scale}};
  dnnl::memory shift, diff_shift;
  if (has_beta) {
    shift = dnnl::memory(p->channels, engine(), const_cast<float*>(beta));
    forward.add(DNNL_ARG_SHIFT, shift);
  }
  forward.execute(p->forward);
  dnnl::memory diff_dst(p->data, engine(), const_cast<float*>(dy));
  dnnl::memory diff_src(p->data, engine(), dx);
  dnnl::memory diff_scale(p->channels, engine(), dgamma);
  ExecArgs backward{{DNNL_ARG_SRC, &src},
                    {DNNL_ARG_DIFF_DST, &diff_dst},
                    {DNNL_ARG_MEAN, &m},
                    {DNNL_ARG_VARIANCE, &v},
                    {DNNL_ARG_SCALE, &scale},
                    {DNNL_ARG_DIFF_SRC, &diff_src},
                    {DNNL_ARG_DIFF_SCALE, &diff_scale}};
  if (has_beta) {
    diff_shift = dnnl::memory(p->channels, engine(), dbeta);
    backward.add(DNNL_ARG_SHIFT, shift);
    backward.add(DNNL_ARG_DIFF_SHIFT, diff_shift);
  }
  backward.execute(p->backward);
  stream().wait();
  return true;
}

}  // namespace quench::onednn
