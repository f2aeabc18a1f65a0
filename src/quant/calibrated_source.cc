#include <algorithm>

#include "core/check.h"
#include "quant/quant_source.h"

namespace quench::quant {

QuantParams CalibratedSource::activation(const Graph& graph, const std::string& value,
                                         const ActivationQuant& a) const {
  if (a.constant) {
    const auto v = graph.initializer(value)->to_double_vector();
    if (v.empty()) return QuantParams::per_tensor(a.type, 1.f, 0);
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    return activation_params(static_cast<float>(*lo), static_cast<float>(*hi), a.type);
  }
  auto it = table_.observers.find(a.params_from);
  QUENCH_CHECK(it != table_.observers.end(), ErrorKind::kInvalidArgument,
               "the calibration table has no range for tensor '{}' (was it made for another "
               "model or recipe?)",
               a.params_from);
  const CalibratedRange r =
      quant_levels_ > 0 ? it->second.range(quant_levels_) : it->second.range();
  return activation_params(r.min, r.max, a.type);
}

WeightQuant CalibratedSource::weight(const Graph& graph, const std::string& value,
                                     const WeightInput& input) const {
  return quantize_weights(*graph.initializer(value), input.axis, recipe_.per_channel, input.bits);
}

}  // namespace quench::quant
