#include "kernels/onednn/batch_norm_training.h"

#include <oneapi/dnnl/dnnl.hpp>
#include <string>

#include "kernels/onednn/context.h"
#include "kernels/onednn/primitive_cache.h"

namespace quench::onednn {

struct BatchNormTraining::Impl {
  dnnl::batch_normalization_forward forward;  // training mode only
  dnnl::batch_normalization_backward backward;
  dnnl::memory::desc data, channels;
};

BatchNormTraining::BatchNormTraining(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BatchNormTraining::~BatchNormTraining() = default;

std::shared_ptr<const BatchNormTraining> BatchNormTraining::get(const Shape& x, float epsilon,
                                                                bool frozen) {
  if (x.size() < 2 || x.size() > 5) return nullptr;
  std::string key = std::to_string(epsilon) + (frozen ? "f|" : "t|");
  for (int64_t d : x) key += std::to_string(d) + ",";
  return cached(key, [&]() -> std::shared_ptr<const BatchNormTraining> {
    try {
      using flags = dnnl::normalization_flags;
      using fwd_t = dnnl::batch_normalization_forward;
      using bwd_t = dnnl::batch_normalization_backward;
      auto impl = std::make_unique<Impl>();
      impl->data = plain_desc(DType::kFloat32, x);
      impl->channels =
          dnnl::memory::desc({x[1]}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
      const flags f = frozen ? flags::use_global_stats | flags::use_scale | flags::use_shift
                             : flags::use_scale | flags::use_shift;
      const fwd_t::primitive_desc fpd(
          fwd_t::desc(dnnl::prop_kind::forward_training, impl->data, epsilon, f), engine());
      const bwd_t::primitive_desc bpd(
          bwd_t::desc(dnnl::prop_kind::backward, impl->data, impl->data, epsilon, f), engine(),
          fpd);
      if (!frozen) impl->forward = fwd_t(fpd);
      impl->backward = bwd_t(bpd);
      return std::make_shared<const BatchNormTraining>(std::move(impl));
    } catch (const dnnl::error&) {
      return nullptr;  // the caller runs the reference
    }
  });
}

void BatchNormTraining::forward(const float* x, const float* gamma, const float* beta, float* y,
                                float* mean, float* variance) const {
  const Impl& p = *impl_;
  dnnl::memory src(p.data, engine(), const_cast<float*>(x));
  dnnl::memory dst(p.data, engine(), y);
  dnnl::memory scale(p.channels, engine(), const_cast<float*>(gamma));
  dnnl::memory shift(p.channels, engine(), const_cast<float*>(beta));
  dnnl::memory m(p.channels, engine(), mean);
  dnnl::memory v(p.channels, engine(), variance);
  execute(p.forward, {{DNNL_ARG_SRC, &src},
                      {DNNL_ARG_DST, &dst},
                      {DNNL_ARG_SCALE, &scale},
                      {DNNL_ARG_SHIFT, &shift},
                      {DNNL_ARG_MEAN, &m},
                      {DNNL_ARG_VARIANCE, &v}});
  stream().wait();
}

void BatchNormTraining::backward(const float* x, const float* mean, const float* variance,
                                 const float* gamma, const float* beta, const float* dy, float* dx,
                                 float* dgamma, float* dbeta) const {
  const Impl& p = *impl_;
  dnnl::memory src(p.data, engine(), const_cast<float*>(x));
  dnnl::memory diff_dst(p.data, engine(), const_cast<float*>(dy));
  dnnl::memory diff_src(p.data, engine(), dx);
  dnnl::memory m(p.channels, engine(), const_cast<float*>(mean));
  dnnl::memory v(p.channels, engine(), const_cast<float*>(variance));
  dnnl::memory scale(p.channels, engine(), const_cast<float*>(gamma));
  dnnl::memory shift(p.channels, engine(), const_cast<float*>(beta));
  dnnl::memory diff_scale(p.channels, engine(), dgamma);
  dnnl::memory diff_shift(p.channels, engine(), dbeta);
  execute(p.backward, {{DNNL_ARG_SRC, &src},
                       {DNNL_ARG_DIFF_DST, &diff_dst},
                       {DNNL_ARG_MEAN, &m},
                       {DNNL_ARG_VARIANCE, &v},
                       {DNNL_ARG_SCALE, &scale},
                       {DNNL_ARG_SHIFT, &shift},
                       {DNNL_ARG_DIFF_SRC, &diff_src},
                       {DNNL_ARG_DIFF_SCALE, &diff_scale},
                       {DNNL_ARG_DIFF_SHIFT, &diff_shift}});
  stream().wait();
}

}  // namespace quench::onednn
