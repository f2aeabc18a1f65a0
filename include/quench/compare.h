// Comparing two models on the same data: how far B (a quantized model, say) strays from A (its
// float original), tensor by tensor and at the outputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quench/data.h"
#include "quench/session.h"

namespace quench {

// Counts of A's values in `counts.size()` equal bins over [lo, hi); values outside are counted in
// below / above.
struct ValueHistogram {
  double lo = 0, hi = 0;
  std::vector<int64_t> counts;
  int64_t below = 0, above = 0;
};

// Error of B's values against A's over every element seen (docs/quantization.md eqs. (91)-(94)).
struct TensorComparison {
  std::string name;    // A's tensor
  std::string b_name;  // the B value matched to it (a DequantizeLinear output, say)
  int64_t elements = 0;
  double sqnr_db = 0;  // 10 log10(sum a^2 / sum (a - b)^2); +infinity when B equals A
  double cosine = 0;   // sum ab / sqrt(sum a^2 sum b^2); 1 when both are all zeros
  double mse = 0;      // mean (a - b)^2
  double max_abs = 0;  // max |a - b|
  // The float range B's 8-bit form of the tensor represents (its calibrated range), when B holds
  // it quantized with constant per-tensor parameters.
  bool has_range = false;
  double range_lo = 0, range_hi = 0;
  // With CompareOptions::histogram_bins: A's values, over B's range widened by half its width
  // (or over the first batch's range widened by a tenth).
  ValueHistogram histogram;
};

struct OutputComparison : TensorComparison {
  // For outputs of float scores [batch, classes]: the fraction of samples whose arg-max agrees;
  // -1 for other outputs.
  double top1_agreement = -1;
};

struct CompareOptions {
  int64_t batch = 64;
  SessionOptions session;  // for both models
  bool progress = true;    // progress line on stderr
  int histogram_bins = 0;  // > 0: a histogram of each shared tensor's values in A
};

struct CompareResult {
  int64_t n = 0;                          // samples compared
  std::vector<TensorComparison> tensors;  // every shared tensor, worst (lowest SQNR) first
  std::vector<OutputComparison> outputs;  // in the order of the models' outputs
  bool has_labels = false;                // when set, the accuracies below are defined
  double accuracy_a = 0, accuracy_b = 0;  // top-1 of the first output against the labels
  double seconds = 0;                     // wall time
};

// Runs A and B on every sample of `data` and compares what they compute. B's values are matched
// to A's float tensors through quantization: a DequantizeLinear output to the tensor its
// QuantizeLinear quantized, an integer tensor of a QOperator model ("X_quantized", with the
// scale of the op that produced it) dequantized and matched to X, and otherwise values of the
// same name and element type. Statistics are accumulated batch by batch (one batch of A's tensors
// is held at a time). kInvalidArgument when the models' inputs differ (names, types, shapes) or
// their output counts do; no shared tensor leaves `tensors` empty (outputs are still compared).
// Interruptible (kInterrupted). The models run with a tensor callback, so B's QDQ graph runs in
// float node by node; its constant DequantizeLinear nodes (the weights) are folded first so that
// its float kernels see constant weights, as A's do.
CompareResult compare_models(const Model& a, const Model& b, const Dataset& data,
                             const CompareOptions& options = {});

}  // namespace quench
