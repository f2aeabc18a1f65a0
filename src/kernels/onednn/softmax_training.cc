#include "kernels/onednn/softmax_training.h"

#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <tuple>

#include "kernels/onednn/context.h"
#include "kernels/onednn/primitive_cache.h"

namespace quench::onednn {

namespace {

struct Primitive {
  dnnl::softmax_backward backward;
  dnnl::memory::desc desc;
};

}  // namespace

bool softmax_backward(int64_t outer, int64_t size, int64_t inner, const float* y, const float* dy,
                      float* dx) {
  if (outer * size * inner == 0) return true;
  const std::tuple<int64_t, int64_t, int64_t> key{outer, size, inner};
  const std::optional<Primitive> p = cached(key, [&]() -> std::optional<Primitive> {
    try {
      const dnnl::memory::desc desc({outer, size, inner}, dnnl::memory::data_type::f32,
                                    dnnl::memory::format_tag::abc);
      const dnnl::softmax_forward::primitive_desc hint(
          dnnl::softmax_forward::desc(dnnl::prop_kind::forward_training, desc, 1), engine());
      const dnnl::softmax_backward::primitive_desc pd(dnnl::softmax_backward::desc(desc, desc, 1),
                                                      engine(), hint);
      return Primitive{dnnl::softmax_backward(pd), desc};
    } catch (const dnnl::error&) {
      return std::nullopt;  // the caller runs the reference
    }
  });
  if (!p) return false;
  dnnl::memory dst(p->desc, engine(), const_cast<float*>(y));
  dnnl::memory diff_dst(p->desc, engine(), const_cast<float*>(dy));
  dnnl::memory diff_src(p->desc, engine(), dx);
  execute(p->backward,
          {{DNNL_ARG_DST, &dst}, {DNNL_ARG_DIFF_DST, &diff_dst}, {DNNL_ARG_DIFF_SRC, &diff_src}});
  stream().wait();
  return true;
}

}  // namespace quench::onednn
