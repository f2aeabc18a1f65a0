// Reference kernel of the recurrent ops (RNN, GRU, LSTM) on float32.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/kernel.h"
#include "kernels/ref/rnn_attributes.h"

namespace quench::ref {

// What the kernel needs to know of one node, fixed when the kernel is built. Inputs and outputs
// are indexed by RnnInput / RnnOutput.
struct RnnKernelParams {
  RnnAttributes attrs;
  int64_t seq_length = 0;
  int64_t batch = 0;
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  bool has_bias = false;
  std::vector<float> constant_bias;  // B's values when known at build time (else empty)
  bool has_sequence_lens = false;
  bool has_initial_h = false;
  bool has_initial_c = false;
  bool has_peepholes = false;
  bool has_y = false;
  bool has_y_h = false;
  bool has_y_c = false;
  std::string node;  // "LSTM 'lstm1'", for errors found while running (bad sequence_lens)
};

std::unique_ptr<Kernel> make_rnn_kernel(RnnKernelParams params);

// f(x) for one of the activations the recurrent ops allow.
float apply_activation(const RnnActivation& activation, float x);

}  // namespace quench::ref
