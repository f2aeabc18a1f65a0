// Data-free expectations of a network's activations (Nagel et al., "Data-Free Quantization",
// 2019): a BatchNormalization's output is taken as Gaussian per channel, N(β_c, γ_c²), and a Relu
// or Clip right after it as that Gaussian clipped (docs/quantization.md eqs. (140)-(141)).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "quench/graph.h"

namespace quench::quant::lowbit {

// Eq. (140): E[min(max(X, low), high)] for X ~ N(mu, sigma²); low may be -inf, high +inf.
double clipped_normal_mean(double mu, double sigma, double low, double high);

// Per channel, the expected value of each tensor a BatchNormalization with constant scale and
// bias produces in `g` (a graph whose batch normalizations are not folded yet), and of the output
// of each Relu or Clip with constant bounds that reads one (eq. (141)).
using ChannelMeans = std::map<std::string, std::vector<double>>;
ChannelMeans batch_norm_channel_means(const Graph& g);

}  // namespace quench::quant::lowbit
