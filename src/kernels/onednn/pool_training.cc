#include "kernels/onednn/pool_training.h"

#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>

#include "kernels/onednn/context.h"
#include "kernels/onednn/pool_window.h"
#include "kernels/onednn/primitive_cache.h"

namespace quench::onednn {

struct PoolTraining::Impl {
  bool is_max = false;
  dnnl::pooling_v2_forward forward;  // max pooling only: the workspace
  dnnl::pooling_v2_backward backward;
  dnnl::memory::desc src, dst, workspace;
};

PoolTraining::PoolTraining(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PoolTraining::~PoolTraining() = default;

std::shared_ptr<const PoolTraining> PoolTraining::get(const Node& node, const Shape& x,
                                                      const Shape& y) {
  if (x.size() < 3 || x.size() > 5 || y.size() != x.size() || x[0] != y[0] || x[1] != y[1]) {
    return nullptr;
  }
  const bool is_max = node.op_type == "MaxPool";
  std::optional<Window> w;
  if (node.op_type == "GlobalAveragePool") {
    // One window over the whole spatial extent.
    w.emplace();
    for (size_t i = 2; i < x.size(); ++i) {
      if (y[i] != 1) return nullptr;
      w->strides.push_back(1);
      w->kernel.push_back(x[i]);
      w->dilation.push_back(0);
      w->pad_l.push_back(0);
      w->pad_r.push_back(0);
    }
  } else if (is_max || node.op_type == "AveragePool") {
    if (is_max && (node.outputs.size() > 1 || node.attr_int("storage_order", 0) != 0)) {
      return nullptr;
    }
    w = pool_window(node, x, y, is_max);
  }
  if (!w) return nullptr;

  std::string key = node.op_type + (w->include_pad ? "+pad|" : "|");
  for (const auto* dims : {&x, &y}) {
    for (int64_t d : *dims) key += std::to_string(d) + ",";
    key += "|";
  }
  for (const auto* dims : {&w->strides, &w->kernel, &w->dilation, &w->pad_l, &w->pad_r}) {
    for (int64_t d : *dims) key += std::to_string(d) + ",";
    key += "|";
  }
  return cached(key, [&]() -> std::shared_ptr<const PoolTraining> {
    try {
      const dnnl::algorithm alg = is_max           ? dnnl::algorithm::pooling_max
                                  : w->include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                                   : dnnl::algorithm::pooling_avg_exclude_padding;
      auto impl = std::make_unique<Impl>();
      impl->is_max = is_max;
      impl->src = plain_desc(DType::kFloat32, x);
      impl->dst = plain_desc(DType::kFloat32, y);
      const dnnl::pooling_v2_forward::primitive_desc fpd(
          dnnl::pooling_v2_forward::desc(dnnl::prop_kind::forward_training, alg, impl->src,
                                         impl->dst, w->strides, w->kernel, w->dilation, w->pad_l,
                                         w->pad_r),
          engine());
      const dnnl::pooling_v2_backward::primitive_desc bpd(
          dnnl::pooling_v2_backward::desc(alg, impl->src, impl->dst, w->strides, w->kernel,
                                          w->dilation, w->pad_l, w->pad_r),
          engine(), fpd);
      if (is_max) {
        impl->forward = dnnl::pooling_v2_forward(fpd);
        impl->workspace = fpd.workspace_desc();
      }
      impl->backward = dnnl::pooling_v2_backward(bpd);
      return std::make_shared<const PoolTraining>(std::move(impl));
    } catch (const dnnl::error&) {
      return nullptr;  // the caller runs the reference
    }
  });
}

void PoolTraining::backward(const float* x, const float* dy, float* dx) const {
  const Impl& p = *impl_;
  dnnl::memory diff_dst(p.dst, engine(), const_cast<float*>(dy));
  dnnl::memory diff_src(p.src, engine(), dx);
  if (!p.is_max) {
    execute(p.backward, {{DNNL_ARG_DIFF_DST, &diff_dst}, {DNNL_ARG_DIFF_SRC, &diff_src}});
    stream().wait();
    return;
  }
  dnnl::memory src(p.src, engine(), const_cast<float*>(x));
  dnnl::memory dst(p.dst, engine());
  dnnl::memory workspace(p.workspace, engine());
  execute(p.forward,
          {{DNNL_ARG_SRC, &src}, {DNNL_ARG_DST, &dst}, {DNNL_ARG_WORKSPACE, &workspace}});
  execute(p.backward, {{DNNL_ARG_DIFF_DST, &diff_dst},
                       {DNNL_ARG_WORKSPACE, &workspace},
                       {DNNL_ARG_DIFF_SRC, &diff_src}});
  stream().wait();
}

}  // namespace quench::onednn
