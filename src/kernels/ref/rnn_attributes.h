// What a recurrent kernel computes (RNN, GRU, LSTM): the cell, direction, activations and options
// of the ONNX recurrent ops in kernel terms. ops/rnn.h parses a node into them; the reference
// kernel (kernels/ref/rnn.h) and the fast ones run them.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace quench {

enum class RnnCell { kRnn, kGru, kLstm };
enum class RnnDirection { kForward, kReverse, kBidirectional };

// The activation functions the ONNX recurrent ops allow.
enum class RnnActivationKind {
  kRelu,
  kTanh,
  kSigmoid,
  kAffine,           // alpha * x + beta
  kLeakyRelu,        // x >= 0 ? x : alpha * x
  kThresholdedRelu,  // x >= alpha ? x : 0
  kScaledTanh,       // alpha * tanh(beta * x)
  kHardSigmoid,      // min(max(alpha * x + beta, 0), 1)
  kElu,              // x >= 0 ? x : alpha * (e^x - 1)
  kSoftsign,         // x / (1 + |x|)
  kSoftplus,         // log(1 + e^x)
};

// Input and output positions shared by the three ops (initial_c, P and Y_c are LSTM only).
enum RnnInput { kRnnX, kRnnW, kRnnR, kRnnB, kRnnSequenceLens, kRnnInitialH, kRnnInitialC, kRnnP };
enum RnnOutput { kRnnY, kRnnYH, kRnnYC };

struct RnnActivation {
  RnnActivationKind kind = RnnActivationKind::kTanh;
  float alpha = 0.f;  // only for the kinds that use it
  float beta = 0.f;
};

struct RnnAttributes {
  RnnCell cell = RnnCell::kLstm;
  RnnDirection direction = RnnDirection::kForward;
  int64_t hidden_size = -1;  // -1 when the attribute is absent: taken from R's shape
  // activations_per_direction() entries per direction, forward first:
  //   RNN: f (the cell); GRU: f (z, r gates), g (hidden gate); LSTM: f (i, o, f gates),
  //   g (cell gate), h (cell output).
  std::vector<RnnActivation> activations;
  // Bound applied to every gate's pre-activation ([-clip, clip]); infinity when absent. As in
  // ONNX Runtime, the LSTM cell state is not clipped before h().
  float clip = std::numeric_limits<float>::infinity();
  bool input_forget = false;         // LSTM: f = 1 - i
  bool linear_before_reset = false;  // GRU: r (.) (H·Rhᵀ + Rbh) instead of (r (.) H)·Rhᵀ + Rbh
  // 0: X [seq, batch, input], Y [seq, dir, batch, hidden], states [dir, batch, hidden].
  // 1: X [batch, seq, input], Y [batch, seq, dir, hidden], states [batch, dir, hidden].
  int64_t layout = 0;

  int64_t num_directions() const { return direction == RnnDirection::kBidirectional ? 2 : 1; }
  // Weight blocks per direction in W and R: 1 (RNN), 3 (GRU: z, r, h), 4 (LSTM: i, o, f, c).
  int64_t gates() const { return cell == RnnCell::kRnn ? 1 : cell == RnnCell::kGru ? 3 : 4; }
  int64_t activations_per_direction() const {
    return cell == RnnCell::kRnn ? 1 : cell == RnnCell::kGru ? 2 : 3;
  }
  // Whether direction index `d` (0 or 1) walks the sequence backwards.
  bool reversed(int64_t d) const {
    return direction == RnnDirection::kReverse || (direction == RnnDirection::kBidirectional && d);
  }
  const RnnActivation& activation(int64_t d, int64_t index) const {
    return activations[d * activations_per_direction() + index];
  }
};

}  // namespace quench
