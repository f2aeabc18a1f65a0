// `--int4-storage`: the quantized weights whose integer values fit 4 bits are stored as ONNX INT4
// (or UINT4) initializers, packed two per byte, behind their DequantizeLinear; the model then
// imports default-domain opset 21, where DequantizeLinear takes 4-bit inputs (upgrade_opset), and
// IR version 10 (docs/quantization.md, "INT4 storage").
#pragma once

#include <cstdint>

#include "quench/graph.h"

namespace quench::quant {

struct Int4StorageResult {
  int tensors = 0;           // weight initializers stored as INT4 / UINT4
  int64_t bytes_before = 0;  // their 8-bit storage
  int64_t bytes_after = 0;   // packed
};

// For every initializer read only as the input X of DequantizeLinear nodes, int8 with values in
// [−8, 7] (or uint8 in [0, 15]) and, where a zero point is given, a constant one that fits the same
// 4-bit type: X and its zero points become INT4 / UINT4 (a zero point shared with another reader
// is copied). With at least one converted, the opset is raised to 21 (kUnsupported from
// upgrade_opset when the model cannot be) and the IR version to 10 or above.
Int4StorageResult store_weights_as_int4(Model& model);

}  // namespace quench::quant
