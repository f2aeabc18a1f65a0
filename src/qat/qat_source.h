// The QuantSource of a trained QAT graph (docs/quantization.md (104)): the learned activation
// scales with their offsets rounded to integers, and the trained weights rounded with their
// learned per-channel scales; constant operands with the fixed parameters training used.
#pragma once

#include <map>
#include <string>

#include "qat/placement.h"
#include "quant/quant_source.h"

namespace quench::qat {

class QatSource final : public quant::QuantSource {
 public:
  // `values`: the current scales and zero points by initializer name.
  QatSource(const quant::QuantSource& base, const QatGraph& qat,
            const std::map<std::string, Tensor>& values)
      : base_(base), qat_(qat), values_(values) {}
  QuantParams activation(const Graph& graph, const std::string& value,
                         const quant::ActivationQuant& a) const override;
  quant::WeightQuant weight(const Graph& graph, const std::string& value,
                            const quant::WeightInput& input) const override;

 private:
  const quant::QuantSource& base_;
  const QatGraph& qat_;
  const std::map<std::string, Tensor>& values_;
};

// Clip(x, s·(qmin − z), s·(qmax − z)) in front of the QuantizeLinear of every activation whose
// trained range is narrower than its type's (activations below 8 bits, s8 at −127), so that the
// exported model saturates where training did; the stored codes of constant operands clamped to
// [qmin, qmax] likewise.
void clip_narrow_activations(Model& qdq, const QatGraph& qat,
                             const std::map<std::string, Tensor>& values,
                             const quant::QuantPlan& plan);

}  // namespace quench::qat
