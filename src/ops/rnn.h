// Attributes and input checks of the ONNX recurrent ops (RNN, GRU, LSTM), parsed once and shared
// by shape inference, the reference kernel, faster kernels and dynamic quantization.
#pragma once

#include <vector>

#include "kernels/ref/rnn_attributes.h"
#include "quench/graph.h"

namespace quench {

// Parses the attributes of an RNN, GRU or LSTM node of the default domain at `opset` (>= 7).
// kInvalidModel naming the node on unknown values or inconsistent lists.
RnnAttributes parse_rnn_attributes(const Node& node, int64_t opset);

// Sizes of one recurrent node; unknown dims stay unknown.
struct RnnDims {
  Dim seq_length, batch, input_size, hidden_size;
};

// Checks the shapes of the node's inputs (indexed by RnnInput; nullptr when absent or of unknown
// rank) against each other and the attributes, and returns the sizes they imply. kInvalidModel
// naming the node and the input on the first inconsistency.
RnnDims check_rnn_shapes(const Node& node, const RnnAttributes& attrs,
                         const std::vector<const SymbolicShape*>& inputs);

}  // namespace quench
