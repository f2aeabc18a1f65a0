#include "kernels/ref/rnn.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "kernels/ref/ref_kernel.h"
#include "quench/error.h"

namespace quench::ref {
namespace {

// Element offsets of one time step, direction and batch row in either layout.
struct RnnStrides {
  int64_t x_time, x_batch;               // X
  int64_t y_time, y_direction, y_batch;  // Y
  int64_t state_direction, state_batch;  // initial_h, initial_c, Y_h, Y_c
};

RnnStrides strides_for(const RnnKernelParams& p) {
  const int64_t dirs = p.attrs.num_directions(), hidden = p.hidden_size;
  if (p.attrs.layout == 0) {
    // X [seq, batch, input], Y [seq, dir, batch, hidden], states [dir, batch, hidden]
    return {.x_time = p.batch * p.input_size,
            .x_batch = p.input_size,
            .y_time = dirs * p.batch * hidden,
            .y_direction = p.batch * hidden,
            .y_batch = hidden,
            .state_direction = p.batch * hidden,
            .state_batch = hidden};
  }
  // X [batch, seq, input], Y [batch, seq, dir, hidden], states [batch, dir, hidden]
  return {.x_time = p.input_size,
          .x_batch = p.seq_length * p.input_size,
          .y_time = dirs * hidden,
          .y_direction = hidden,
          .y_batch = p.seq_length * dirs * hidden,
          .state_direction = hidden,
          .state_batch = dirs * hidden};
}

float dot(const float* a, const float* b, int64_t n) {
  float sum = 0.f;
  for (int64_t k = 0; k < n; ++k) sum += a[k] * b[k];
  return sum;
}

// The kernel's state, captured once. Per direction the fused bias holds, for each gate row,
// the bias added to its pre-activation (Wb + Rb), followed for GRU by Rbh alone, which
// linear_before_reset applies inside the reset gate's product.
class RnnKernel {
 public:
  explicit RnnKernel(RnnKernelParams params)
      : p_(std::move(params)),
        s_(strides_for(p_)),
        gate_rows_(p_.attrs.gates() * p_.hidden_size),
        bias_stride_(gate_rows_ + (p_.attrs.cell == RnnCell::kGru ? p_.hidden_size : 0)),
        bias_at_run_time_(p_.has_bias && p_.constant_bias.empty()) {
    if (!bias_at_run_time_) {
      fused_bias_.resize(p_.attrs.num_directions() * bias_stride_);
      fuse_bias(p_.has_bias ? p_.constant_bias.data() : nullptr, fused_bias_.data());
    }
  }

  // Gates of one row, then its hidden and cell state, then the bias when B is only known at run
  // time.
  size_t scratch_floats() const {
    return gate_rows_ + 2 * p_.hidden_size +
           (bias_at_run_time_ ? p_.attrs.num_directions() * bias_stride_ : 0);
  }

  void operator()(const KernelArgs& a) const {
    const float* x = in<float>(a, kRnnX);
    const int32_t* lengths = p_.has_sequence_lens ? in<int32_t>(a, kRnnSequenceLens) : nullptr;
    if (lengths != nullptr) check_lengths(lengths);
    float* gates = static_cast<float*>(a.scratch);
    float* hidden = gates + gate_rows_;
    float* cell = hidden + p_.hidden_size;
    const float* bias = fused_bias_.data();
    if (bias_at_run_time_) {
      float* run_bias = cell + p_.hidden_size;
      fuse_bias(in<float>(a, kRnnB), run_bias);
      bias = run_bias;
    }
    const int64_t hidden_size = p_.hidden_size;
    for (int64_t direction = 0; direction < p_.attrs.num_directions(); ++direction) {
      const Weights w = weights(a, direction, bias);
      for (int64_t batch = 0; batch < p_.batch; ++batch) {
        const int64_t length = lengths ? lengths[batch] : p_.seq_length;
        const int64_t state_offset = direction * s_.state_direction + batch * s_.state_batch;
        load_state(a, kRnnInitialH, p_.has_initial_h, state_offset, hidden);
        load_state(a, kRnnInitialC, p_.has_initial_c, state_offset, cell);
        for (int64_t step = 0; step < length; ++step) {
          const int64_t time = p_.attrs.reversed(direction) ? length - 1 - step : step;
          const float* x_t = x + time * s_.x_time + batch * s_.x_batch;
          cell_step(w, direction, x_t, gates, hidden, cell);
          if (p_.has_y) {
            float* y = out<float>(a, kRnnY) + time * s_.y_time + direction * s_.y_direction +
                       batch * s_.y_batch;
            std::copy(hidden, hidden + hidden_size, y);
          }
        }
        // Steps past a sequence's end output zeros, as in ONNX Runtime.
        for (int64_t time = length; p_.has_y && time < p_.seq_length; ++time) {
          float* y = out<float>(a, kRnnY) + time * s_.y_time + direction * s_.y_direction +
                     batch * s_.y_batch;
          std::fill(y, y + hidden_size, 0.f);
        }
        // An empty sequence has zero final states (ONNX Runtime), not the initial ones.
        if (p_.has_y_h) store_state(a, kRnnYH, state_offset, length ? hidden : nullptr);
        if (p_.has_y_c) store_state(a, kRnnYC, state_offset, length ? cell : nullptr);
      }
    }
  }

 private:
  // One direction's weights, fused bias and peepholes.
  struct Weights {
    const float* input;      // W: [gates * hidden, input_size]
    const float* recurrent;  // R: [gates * hidden, hidden]
    const float* bias;       // bias_stride_ values
    const float* peephole;   // P: [3 * hidden] (i, o, f), or nullptr
  };

  Weights weights(const KernelArgs& a, int64_t direction, const float* bias) const {
    const float* peephole = p_.has_peepholes ? in<float>(a, kRnnP) : nullptr;
    return {in<float>(a, kRnnW) + direction * gate_rows_ * p_.input_size,
            in<float>(a, kRnnR) + direction * gate_rows_ * p_.hidden_size,
            bias + direction * bias_stride_,
            peephole ? peephole + direction * 3 * p_.hidden_size : nullptr};
  }

  void check_lengths(const int32_t* lengths) const {
    for (int64_t batch = 0; batch < p_.batch; ++batch) {
      QUENCH_CHECK(lengths[batch] >= 0 && lengths[batch] <= p_.seq_length,
                   ErrorKind::kInvalidArgument,
                   "{}: sequence_lens[{}] is {}, expected a value in [0, {}] (seq_length)", p_.node,
                   batch, lengths[batch], p_.seq_length);
    }
  }

  // `b` is B ([dirs, 2 * gate_rows]: Wb then Rb per direction) or nullptr when absent.
  void fuse_bias(const float* b, float* fused) const {
    const bool gru = p_.attrs.cell == RnnCell::kGru;
    const int64_t hidden_gate = 2 * p_.hidden_size;  // GRU's h rows start here
    for (int64_t direction = 0; direction < p_.attrs.num_directions(); ++direction) {
      float* out = fused + direction * bias_stride_;
      if (b == nullptr) {
        std::fill(out, out + bias_stride_, 0.f);
        continue;
      }
      const float* input_bias = b + direction * 2 * gate_rows_;
      const float* recurrent_bias = input_bias + gate_rows_;
      for (int64_t row = 0; row < gate_rows_; ++row) {
        const bool apart = gru && p_.attrs.linear_before_reset && row >= hidden_gate;
        out[row] = input_bias[row] + (apart ? 0.f : recurrent_bias[row]);
      }
      if (gru) {
        std::copy(recurrent_bias + hidden_gate, recurrent_bias + gate_rows_, out + gate_rows_);
      }
    }
  }

  void load_state(const KernelArgs& a, int input, bool present, int64_t offset,
                  float* state) const {
    if (present) {
      const float* from = in<float>(a, input) + offset;
      std::copy(from, from + p_.hidden_size, state);
    } else {
      std::fill(state, state + p_.hidden_size, 0.f);
    }
  }

  void store_state(const KernelArgs& a, int output, int64_t offset, const float* state) const {
    float* to = out<float>(a, output) + offset;
    if (state) {
      std::copy(state, state + p_.hidden_size, to);
    } else {
      std::fill(to, to + p_.hidden_size, 0.f);
    }
  }

  float activate(int64_t direction, int index, float pre_activation) const {
    const float clipped = std::clamp(pre_activation, -p_.attrs.clip, p_.attrs.clip);
    return apply_activation(p_.attrs.activation(direction, index), clipped);
  }

  // gates[row] = bias[row] + x_t·W[row] + h·R[row] for rows [0, rows).
  void gate_products(const Weights& w, const float* x_t, const float* hidden, int64_t rows,
                     float* gates) const {
    for (int64_t row = 0; row < rows; ++row) {
      gates[row] = w.bias[row] + dot(x_t, w.input + row * p_.input_size, p_.input_size) +
                   dot(hidden, w.recurrent + row * p_.hidden_size, p_.hidden_size);
    }
  }

  // Advances `hidden` (and `cell` for LSTM) by one time step.
  void cell_step(const Weights& w, int64_t direction, const float* x_t, float* gates, float* hidden,
                 float* cell) const {
    switch (p_.attrs.cell) {
      case RnnCell::kRnn:
        return rnn_step(w, direction, x_t, gates, hidden);
      case RnnCell::kGru:
        return gru_step(w, direction, x_t, gates, hidden);
      case RnnCell::kLstm:
        return lstm_step(w, direction, x_t, gates, hidden, cell);
    }
  }

  // Ht = f(Xt·Wᵀ + Ht-1·Rᵀ + Wb + Rb)
  void rnn_step(const Weights& w, int64_t direction, const float* x_t, float* gates,
                float* hidden) const {
    gate_products(w, x_t, hidden, p_.hidden_size, gates);
    for (int64_t unit = 0; unit < p_.hidden_size; ++unit) {
      hidden[unit] = activate(direction, 0, gates[unit]);
    }
  }

  // zt, rt = f(Xt·W[zr]ᵀ + Ht-1·R[zr]ᵀ + Wb[zr] + Rb[zr])
  // ht = g(Xt·Whᵀ + (rt (.) Ht-1)·Rhᵀ + Rbh + Wbh)        linear_before_reset = 0
  // ht = g(Xt·Whᵀ + rt (.) (Ht-1·Rhᵀ + Rbh) + Wbh)        linear_before_reset = 1
  // Ht = (1 - zt) (.) ht + zt (.) Ht-1
  void gru_step(const Weights& w, int64_t direction, const float* x_t, float* gates,
                float* hidden) const {
    const int64_t hidden_size = p_.hidden_size;
    gate_products(w, x_t, hidden, 2 * hidden_size, gates);
    for (int64_t row = 0; row < 2 * hidden_size; ++row)
      gates[row] = activate(direction, 0, gates[row]);
    const float* update = gates;
    const float* reset = gates + hidden_size;
    float* candidate = gates + 2 * hidden_size;
    for (int64_t unit = 0; unit < hidden_size; ++unit) {
      const int64_t row = 2 * hidden_size + unit;
      const float* recurrent_row = w.recurrent + row * hidden_size;
      float recurrent = 0.f;
      if (p_.attrs.linear_before_reset) {
        const float recurrent_bias = w.bias[3 * hidden_size + unit];
        recurrent = reset[unit] * (dot(hidden, recurrent_row, hidden_size) + recurrent_bias);
      } else {
        for (int64_t k = 0; k < hidden_size; ++k)
          recurrent += reset[k] * hidden[k] * recurrent_row[k];
      }
      const float pre =
          w.bias[row] + dot(x_t, w.input + row * p_.input_size, p_.input_size) + recurrent;
      candidate[unit] = activate(direction, 1, pre);
    }
    for (int64_t unit = 0; unit < hidden_size; ++unit) {
      hidden[unit] = (1.f - update[unit]) * candidate[unit] + update[unit] * hidden[unit];
    }
  }

  // it = f(Xt·Wiᵀ + Ht-1·Riᵀ + Pi (.) Ct-1 + Wbi + Rbi)
  // ft = f(Xt·Wfᵀ + Ht-1·Rfᵀ + Pf (.) Ct-1 + Wbf + Rbf)     or 1 - it with input_forget
  // ct = g(Xt·Wcᵀ + Ht-1·Rcᵀ + Wbc + Rbc)
  // Ct = ft (.) Ct-1 + it (.) ct
  // ot = f(Xt·Woᵀ + Ht-1·Roᵀ + Po (.) Ct + Wbo + Rbo)
  // Ht = ot (.) h(Ct)
  void lstm_step(const Weights& w, int64_t direction, const float* x_t, float* gates, float* hidden,
                 float* cell) const {
    const int64_t hidden_size = p_.hidden_size;
    gate_products(w, x_t, hidden, 4 * hidden_size, gates);
    const float* input_gate = gates;  // ONNX gate order: i, o, f, c
    const float* output_gate = gates + hidden_size;
    const float* forget_gate = gates + 2 * hidden_size;
    const float* cell_gate = gates + 3 * hidden_size;
    for (int64_t unit = 0; unit < hidden_size; ++unit) {
      const float peephole_i = w.peephole ? w.peephole[unit] : 0.f;
      const float peephole_o = w.peephole ? w.peephole[hidden_size + unit] : 0.f;
      const float peephole_f = w.peephole ? w.peephole[2 * hidden_size + unit] : 0.f;
      const float previous = cell[unit];
      const float i = activate(direction, 0, input_gate[unit] + peephole_i * previous);
      const float f = p_.attrs.input_forget
                          ? 1.f - i
                          : activate(direction, 0, forget_gate[unit] + peephole_f * previous);
      const float c = activate(direction, 1, cell_gate[unit]);
      cell[unit] = f * previous + i * c;
      const float o = activate(direction, 0, output_gate[unit] + peephole_o * cell[unit]);
      hidden[unit] = o * apply_activation(p_.attrs.activation(direction, 2), cell[unit]);
    }
  }

  RnnKernelParams p_;
  RnnStrides s_;
  int64_t gate_rows_;
  int64_t bias_stride_;
  bool bias_at_run_time_;
  std::vector<float> fused_bias_;
};

}  // namespace

float apply_activation(const RnnActivation& activation, float x) {
  const float alpha = activation.alpha, beta = activation.beta;
  switch (activation.kind) {
    case RnnActivationKind::kRelu:
      return x > 0.f ? x : 0.f;
    case RnnActivationKind::kTanh:
      return std::tanh(x);
    case RnnActivationKind::kSigmoid:
      return 1.f / (1.f + std::exp(-x));
    case RnnActivationKind::kAffine:
      return alpha * x + beta;
    case RnnActivationKind::kLeakyRelu:
      return x >= 0.f ? x : alpha * x;
    case RnnActivationKind::kThresholdedRelu:
      return x >= alpha ? x : 0.f;
    case RnnActivationKind::kScaledTanh:
      return alpha * std::tanh(beta * x);
    case RnnActivationKind::kHardSigmoid:
      return std::clamp(alpha * x + beta, 0.f, 1.f);
    case RnnActivationKind::kElu:
      return x >= 0.f ? x : alpha * (std::exp(x) - 1.f);
    case RnnActivationKind::kSoftsign:
      return x / (1.f + std::abs(x));
    case RnnActivationKind::kSoftplus:
      // log(1 + e^x) without overflow for large x.
      return x > 0.f ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  }
  return x;
}

std::unique_ptr<Kernel> make_rnn_kernel(RnnKernelParams params) {
  RnnKernel kernel(std::move(params));
  const size_t scratch = kernel.scratch_floats() * sizeof(float);
  return make_kernel(std::move(kernel), scratch);
}

}  // namespace quench::ref
