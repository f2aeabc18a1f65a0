// Where the QDQ writer gets what it writes for each quantized tensor: the scale and zero point of
// an activation, and a weight's integer values and scales. CalibratedSource takes activation
// ranges from a calibration table and rounds weights to nearest; quantization-aware training
// (learned scales) and the weight-rounding algorithms (AdaRound, GPTQ, bias correction) provide
// their own sources, so the writer stays one piece.
#pragma once

#include <string>

#include "core/quant_params.h"
#include "quant/qparams.h"
#include "quant/quant_plan.h"
#include "quench/calibration.h"
#include "quench/graph.h"
#include "quench/quantize.h"

namespace quench::quant {

class QuantSource {
 public:
  virtual ~QuantSource() = default;
  // Per-tensor parameters of activation `value` of `graph` as `a` plans it.
  virtual QuantParams activation(const Graph& graph, const std::string& value,
                                 const ActivationQuant& a) const = 0;
  // Weight `value` (an initializer of `graph`) as int8 values with scales along `input.axis`.
  virtual WeightQuant weight(const Graph& graph, const std::string& value,
                             const WeightInput& input) const = 0;
};

// Calibrated activation ranges (eqs. (20)-(24)) and weights rounded to nearest (eq. (25)).
class CalibratedSource final : public QuantSource {
 public:
  // quant_levels > 0: activation ranges selected for a grid of that many levels (Observer::range)
  // instead of the table's config.
  CalibratedSource(const CalibrationTable& table, const QuantRecipe& recipe, int quant_levels = 0)
      : table_(table), recipe_(recipe), quant_levels_(quant_levels) {}
  QuantParams activation(const Graph& graph, const std::string& value,
                         const ActivationQuant& a) const override;
  WeightQuant weight(const Graph& graph, const std::string& value,
                     const WeightInput& input) const override;

 private:
  const CalibrationTable& table_;
  const QuantRecipe& recipe_;
  int quant_levels_ = 0;
};

// Writes the QDQ form of `prepared` as `plan` decides, with what `source` gives.
Model write_qdq(const Model& prepared, const QuantPlan& plan, const QuantSource& source,
                const QuantRecipe& recipe, QuantizeReport& report);

}  // namespace quench::quant
