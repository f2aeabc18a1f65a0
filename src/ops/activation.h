// Activations that can be fused into a producing Conv/Gemm/MatMul as an epilogue.
#pragma once

#include <cmath>
#include <optional>
#include <string>

#include "quench/graph.h"

namespace quench {

enum class ActKind : uint8_t {
  kNone,
  kRelu,
  kLeakyRelu,
  kClip,
  kSigmoid,
  kTanh,
  kHardSigmoid,
  kHardSwish,
  kGeluErf,  // 0.5 x (1 + erf(x / sqrt 2)): the internal Gelu op (passes/fuse_gelu.cc)
  kSwish,    // x·sigmoid(x) (SiLU): the internal Swish op (passes/fuse_swish.cc)
};

struct Activation {
  ActKind kind = ActKind::kNone;
  float alpha = 0.f;  // LeakyRelu slope; Clip lower bound; HardSigmoid alpha
  float beta = 0.f;   // Clip upper bound; HardSigmoid beta

  float operator()(float x) const {
    switch (kind) {
      case ActKind::kNone:
        return x;
      case ActKind::kRelu:
        return x > 0.f ? x : 0.f;
      case ActKind::kLeakyRelu:
        return x >= 0.f ? x : alpha * x;
      case ActKind::kClip:
        return x < alpha ? alpha : (x > beta ? beta : x);
      case ActKind::kSigmoid:
        return 1.f / (1.f + std::exp(-x));
      case ActKind::kTanh:
        return std::tanh(x);
      case ActKind::kHardSigmoid:
        return std::fmax(0.f, std::fmin(1.f, alpha * x + beta));
      case ActKind::kHardSwish:
        return x * std::fmax(0.f, std::fmin(1.f, x / 6.f + 0.5f));
      case ActKind::kGeluErf:
        return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f));
      case ActKind::kSwish:
        return x / (1.f + std::exp(-x));
    }
    return x;
  }

  // The activation computed by `node` (a Relu, Clip with constant bounds, ...), or nullopt when
  // the node is not a fusible activation.
  static std::optional<Activation> from_node(const Node& node, const Graph& graph);
  // Stored on a fused node as attributes "activation", "activation_alpha", "activation_beta".
  void to_attributes(Node& fused) const;
  static Activation from_attributes(const Node& fused);
  std::string name() const;
};

}  // namespace quench
