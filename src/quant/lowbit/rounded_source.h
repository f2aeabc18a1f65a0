// A QuantSource whose weights an algorithm chose (GPTQ, AdaRound, bias-corrected rounding):
// those it holds, and everything else from the source it wraps.
#pragma once

#include <map>
#include <string>

#include "quant/quant_source.h"

namespace quench::quant::lowbit {

class RoundedSource final : public QuantSource {
 public:
  explicit RoundedSource(const QuantSource& base) : base_(base) {}
  void set(const std::string& value, WeightQuant w) { weights_[value] = std::move(w); }
  bool has(const std::string& value) const { return weights_.count(value) != 0; }
  const std::map<std::string, WeightQuant>& weights() const { return weights_; }

  QuantParams activation(const Graph& graph, const std::string& value,
                         const ActivationQuant& a) const override {
    return base_.activation(graph, value, a);
  }
  WeightQuant weight(const Graph& graph, const std::string& value,
                     const WeightInput& input) const override {
    auto it = weights_.find(value);
    return it != weights_.end() ? it->second : base_.weight(graph, value, input);
  }

 private:
  const QuantSource& base_;
  std::map<std::string, WeightQuant> weights_;
};

}  // namespace quench::quant::lowbit
