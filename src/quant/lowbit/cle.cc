#include "quant/lowbit/cle.h"

#include <algorithm>
#include <cmath>

#include "ir/graph_index.h"

namespace quench::quant::lowbit {
namespace {

bool constant_conv(const Graph& g, const Node& n) {
  if (n.op_type != "Conv" || n.inputs.size() < 2) return false;
  const Tensor* w = g.initializer(n.input(1));
  if (w == nullptr || w->rank() != 4 || w->dtype() != DType::kFloat32) return false;
  return !n.has_input(2) || g.is_initializer(n.input(2));
}

float scalar(const Graph& g, const Node& n, size_t k) {
  const Tensor* t = n.has_input(k) ? g.initializer(n.input(k)) : nullptr;
  return t != nullptr && t->numel() == 1 ? static_cast<float>(t->to_double_vector()[0]) : NAN;
}

Tensor& mutable_initializer(Graph& g, const std::string& name) {
  Tensor& t = g.initializers.at(name);
  if (t.storage().use_count() > 1) t = t.clone();  // shared with the caller's model
  return t;
}

}  // namespace

std::vector<ConvPair> equalizable_pairs(const Graph& g) {
  const GraphIndex index(g);
  std::vector<ConvPair> pairs;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& c1 = g.nodes[i];
    if (!constant_conv(g, c1) || !index.single_use(c1.outputs[0])) continue;
    ConvPair p;
    p.conv1 = i;
    int next = index.consumers(c1.outputs[0])[0];
    const Node& mid = g.nodes[next];
    if (mid.op_type == "Relu" || mid.op_type == "Clip") {
      if (mid.op_type == "Clip" && scalar(g, mid, 1) != 0.f) continue;  // not positive-homogeneous
      if (!index.single_use(mid.outputs[0])) continue;
      p.act = next;
      next = index.consumers(mid.outputs[0])[0];
    }
    const Node& c2 = g.nodes[next];
    if (!constant_conv(g, c2) || c2.input(0) != g.nodes[p.act >= 0 ? p.act : i].outputs[0]) {
      continue;
    }
    const int64_t channels = g.initializer(c1.input(1))->dim(0);
    const Tensor& w2 = *g.initializer(c2.input(1));
    if (w2.dim(1) * c2.attr_int("group", 1) != channels) continue;
    p.conv2 = static_cast<size_t>(next);
    pairs.push_back(p);
  }
  return pairs;
}

int equalize_pairs(Graph& g, const std::vector<ConvPair>& pairs,
                   std::vector<std::vector<float>>& total_scales) {
  total_scales.clear();
  for (const ConvPair& p : pairs) {
    total_scales.emplace_back(g.initializer(g.nodes[p.conv1].input(1))->dim(0), 1.f);
  }
  int sweep = 0;
  for (; sweep < 100; ++sweep) {
    double largest = 0.0;
    for (size_t k = 0; k < pairs.size(); ++k) {
      const Node& c1 = g.nodes[pairs[k].conv1];
      const Node& c2 = g.nodes[pairs[k].conv2];
      Tensor& w1 = mutable_initializer(g, c1.input(1));
      Tensor& w2 = mutable_initializer(g, c2.input(1));
      float* b1 = c1.has_input(2) ? mutable_initializer(g, c1.input(2)).data<float>() : nullptr;
      const int64_t channels = w1.dim(0), per1 = w1.numel() / channels;
      const int64_t out2 = w2.dim(0), in_g = w2.dim(1), taps = w2.dim(2) * w2.dim(3);
      const int64_t groups = channels / in_g, out_g = out2 / groups;
      float* a = w1.data<float>();
      float* b = w2.data<float>();
      for (int64_t c = 0; c < channels; ++c) {
        // Eq. (82): channel c's range in both weights.
        float r1 = 0.f, r2 = 0.f;
        for (int64_t i = 0; i < per1; ++i) r1 = std::max(r1, std::abs(a[c * per1 + i]));
        const int64_t g2 = c / in_g, local = c % in_g;
        for (int64_t o = g2 * out_g; o < (g2 + 1) * out_g; ++o) {
          for (int64_t t = 0; t < taps; ++t) {
            r2 = std::max(r2, std::abs(b[(o * in_g + local) * taps + t]));
          }
        }
        if (r1 <= 0.f || r2 <= 0.f) continue;
        const float s = std::sqrt(r1 / r2);                       // eq. (83)
        for (int64_t i = 0; i < per1; ++i) a[c * per1 + i] /= s;  // eq. (84)
        if (b1 != nullptr) b1[c] /= s;
        for (int64_t o = g2 * out_g; o < (g2 + 1) * out_g; ++o) {
          for (int64_t t = 0; t < taps; ++t) b[(o * in_g + local) * taps + t] *= s;
        }
        total_scales[k][c] *= s;
        largest = std::max(largest, std::abs(std::log(static_cast<double>(s))));
      }
    }
    if (largest < 1e-4) break;
  }
  return sweep + 1;
}

}  // namespace quench::quant::lowbit
