// Batch-norm folding simulated during quantization-aware training (docs/quantization.md
// (107)-(109); Jacob et al. 2018, sec. 3.2; PyTorch's ConvBn2d): every Conv→BatchNormalization
// that prepare_for_quantization folds is put back into the training graph as
//   w_fold = w · γ / √(σ²_run + ε)  →  FakeQuantize  →  Conv  →  · √(σ²_run + ε) / γ  →  + b
//   →  BatchNormalization(γ, β, μ_run, σ²_run)
// so that the weights are quantized in their folded form while the batch norm trains (batch
// statistics, running statistics updated) until the tape freezes it (--freeze-bn-after); the
// export folds the trained values back into the folded model's weight and bias.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "qat/placement.h"

namespace quench::qat {

// One Conv whose batch norm is simulated.
struct SimulatedBn {
  std::string conv;           // the Conv node's name
  std::string folded_weight;  // the folded model's weight and bias initializers (exported)
  std::string folded_bias;
  std::string weight;  // the trained conv weight and bias (bias empty when the Conv had none)
  std::string bias;
  std::string gamma, beta;  // trained
  std::string mean, var;    // running statistics (the tape's buffers)
  float epsilon = 1e-5f;
};

// Rewrites `q` (placed on prepare_for_quantization(fp32)) so that each Conv whose
// BatchNormalization the preparation folded computes (107)-(108) from the unfolded weights and
// batch norm of `fp32`. Gemm→BatchNormalization and a Conv whose weights or batch norm are shared
// stay folded. Returns the rewritten convs.
std::vector<SimulatedBn> simulate_batch_norm_folding(const Model& fp32, QatGraph& q);

// The parameters to train: `q.weights` without the folded weights and biases of `sims`, with
// their conv weights, biases, γ and β.
std::vector<std::string> trained_parameters(const QatGraph& q,
                                            const std::vector<SimulatedBn>& sims);

// (109) The folded weight and bias of each simulated conv from the trained `parameters` and the
// running statistics in `buffers`, written into `values` under the folded names.
void fold_simulated(const std::vector<SimulatedBn>& sims,
                    const std::map<std::string, Tensor>& parameters,
                    const std::map<std::string, Tensor>& buffers,
                    std::map<std::string, Tensor>& values);

}  // namespace quench::qat
