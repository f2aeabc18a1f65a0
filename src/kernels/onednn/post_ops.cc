#include "kernels/onednn/post_ops.h"

#include <algorithm>
#include <limits>

namespace quench::onednn {

void append_activation(dnnl::post_ops& ops, const Activation& act) {
  using alg = dnnl::algorithm;
  constexpr float kMax = std::numeric_limits<float>::max();
  switch (act.kind) {
    case ActKind::kNone:
      return;
    case ActKind::kRelu:
      ops.append_eltwise(1.f, alg::eltwise_relu, 0.f, 0.f);
      return;
    case ActKind::kLeakyRelu:
      ops.append_eltwise(1.f, alg::eltwise_relu, act.alpha, 0.f);
      return;
    case ActKind::kClip:
      // Finite bounds: an unbounded side of Clip becomes +-FLT_MAX.
      ops.append_eltwise(1.f, alg::eltwise_clip, std::max(act.alpha, -kMax),
                         std::min(act.beta, kMax));
      return;
    case ActKind::kSigmoid:
      ops.append_eltwise(1.f, alg::eltwise_logistic, 0.f, 0.f);
      return;
    case ActKind::kTanh:
      ops.append_eltwise(1.f, alg::eltwise_tanh, 0.f, 0.f);
      return;
    case ActKind::kHardSwish:
      ops.append_eltwise(1.f, alg::eltwise_hardswish, 0.f, 0.f);
      return;
    case ActKind::kGeluErf:
      ops.append_eltwise(1.f, alg::eltwise_gelu_erf, 0.f, 0.f);
      return;
    case ActKind::kSwish:
      ops.append_eltwise(1.f, alg::eltwise_swish, 1.f, 0.f);
      return;
    case ActKind::kHardSigmoid:
      ops.append_eltwise(1.f, alg::eltwise_linear, act.alpha, act.beta);
      ops.append_eltwise(1.f, alg::eltwise_clip, 0.f, 1.f);
      return;
  }
}

}  // namespace quench::onednn
