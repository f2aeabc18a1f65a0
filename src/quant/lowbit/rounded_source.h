// A QuantSource whose weights an algorithm chose (GPTQ, AdaRound, bias-corrected rounding):
// those it holds, and everything else from the source it wraps. With `remember`, the weights the
// wrapped source gives are kept too, for a caller that writes the same graph's weights many times
// (the weight-rounding driver writes the model once per layer; its weights do not change).
#pragma once

#include <map>
#include <string>

#include "quant/quant_source.h"

namespace quench::quant::lowbit {

class RoundedSource final : public QuantSource {
 public:
  explicit RoundedSource(const QuantSource& base, bool remember = false)
      : base_(base), remember_(remember) {}
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
    if (it != weights_.end()) return it->second;
    if (!remember_) return base_.weight(graph, value, input);
    auto [at, fresh] = remembered_.try_emplace(value);
    if (fresh) at->second = base_.weight(graph, value, input);
    return at->second;
  }

 private:
  const QuantSource& base_;
  bool remember_ = false;
  std::map<std::string, WeightQuant> weights_;
  mutable std::map<std::string, WeightQuant> remembered_;
};

}  // namespace quench::quant::lowbit
