#include "quant/lowbit/batch_norm_means.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <optional>

#include "ir/graph_index.h"

namespace quench::quant::lowbit {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }
double normal_pdf(double z) {
  return std::isinf(z) ? 0.0 : std::exp(-0.5 * z * z) / std::sqrt(2.0 * std::numbers::pi);
}

// A constant float tensor of one value, or nullopt.
std::optional<double> scalar(const Graph& g, const std::string& name) {
  const Tensor* t = g.initializer(name);
  if (t == nullptr || t->numel() != 1 || t->dtype() != DType::kFloat32) return std::nullopt;
  return static_cast<double>(t->data<float>()[0]);
}

// The bounds of a Relu or Clip node, or nullopt when they are not constant (or the op is another).
std::optional<std::pair<double, double>> clip_bounds(const Graph& g, const Node& act) {
  if (!act.domain.empty()) return std::nullopt;
  if (act.op_type == "Relu") return std::pair{0.0, kInf};
  if (act.op_type != "Clip") return std::nullopt;
  // Opset 11 on: bounds as optional inputs; before: as attributes.
  double low = act.attr_float("min", -std::numeric_limits<float>::infinity());
  double high = act.attr_float("max", std::numeric_limits<float>::infinity());
  for (size_t k = 1; k <= 2; ++k) {
    if (!act.has_input(k)) continue;
    const std::optional<double> v = scalar(g, act.input(k));
    if (!v) return std::nullopt;
    (k == 1 ? low : high) = *v;
  }
  return std::pair{low, high};
}

}  // namespace

double clipped_normal_mean(double mu, double sigma, double low, double high) {
  if (!(sigma > 0.0)) return std::clamp(mu, low, high);
  const double a = (low - mu) / sigma, b = (high - mu) / sigma;
  const double below = std::isinf(low) ? 0.0 : low * normal_cdf(a);
  const double above = std::isinf(high) ? 0.0 : high * (1.0 - normal_cdf(b));
  return below + mu * (normal_cdf(b) - normal_cdf(a)) + sigma * (normal_pdf(a) - normal_pdf(b)) +
         above;  // eq. (140)
}

ChannelMeans batch_norm_channel_means(const Graph& g) {
  ChannelMeans means;
  const GraphIndex index(g);
  for (const Node& bn : g.nodes) {
    if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.inputs.size() < 3 ||
        bn.attr_int("training_mode", 0) != 0) {
      continue;
    }
    const Tensor* gamma = g.initializer(bn.input(1));
    const Tensor* beta = g.initializer(bn.input(2));
    if (gamma == nullptr || beta == nullptr || gamma->dtype() != DType::kFloat32 ||
        beta->dtype() != DType::kFloat32 || gamma->rank() != 1 || gamma->numel() != beta->numel()) {
      continue;
    }
    const int64_t channels = gamma->numel();
    std::vector<double> mu(channels), sigma(channels);
    for (int64_t c = 0; c < channels; ++c) {
      mu[c] = beta->data<float>()[c];  // eq. (141): the output is N(β_c, γ_c²)
      sigma[c] = std::abs(static_cast<double>(gamma->data<float>()[c]));
    }
    const std::string& out = bn.outputs[0];
    means[out] = mu;
    for (int consumer : index.consumers(out)) {
      const Node& act = g.nodes[consumer];
      const auto bounds = clip_bounds(g, act);
      if (!bounds || act.outputs.empty() || act.input(0) != out) continue;
      std::vector<double> clipped(channels);
      for (int64_t c = 0; c < channels; ++c) {
        clipped[c] = clipped_normal_mean(mu[c], sigma[c], bounds->first, bounds->second);
      }
      means[act.outputs[0]] = std::move(clipped);
    }
  }
  return means;
}

}  // namespace quench::quant::lowbit
