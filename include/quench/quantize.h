// Post-training quantization. Static: prepare an FP32 model, calibrate activation ranges on
// representative data, and write a standard QDQ ONNX model (QuantizeLinear/DequantizeLinear
// around float ops, per-channel int8 weights, int32 bias). Dynamic: int8 weights written ahead of
// time, activations quantized at run time from each batch (no calibration data). Both outputs run
// in quench and ONNX Runtime.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "quench/calibration.h"
#include "quench/data.h"
#include "quench/graph.h"

namespace quench {

// What to quantize and how. The defaults need no thought: u8 asymmetric activations, s8
// symmetric per-channel weights, s32 bias, and every op type quench knows how to quantize.
struct QuantRecipe {
  DType activation_type = DType::kUInt8;  // kUInt8 (asymmetric) or kInt8 (symmetric)
  bool per_channel = true;                // weights: per output channel, else per tensor
  // Weight bit width, 2 to 8: symmetric [-(2^(b-1) - 1), 2^(b-1) - 1], stored as int8 values in
  // that range (docs/quantization.md eq. (25)).
  int weight_bits = 8;
  // Weights quantized, activations kept in float (no QuantizeLinear on activations, float bias).
  bool weight_only = false;
  // Op types whose nodes are quantized (default_quantized_ops() when empty).
  std::set<std::string> op_types;
  // Nodes kept in float: exact names, or patterns with '*' and '?' ("/classifier/*"); the words
  // "first" and "last" name the first and last quantizable node of the graph.
  std::vector<std::string> skip_nodes;
  std::set<std::string> skip_op_types;
  // Per-node overrides from a recipe file: node name -> "skip" or an activation type
  // ("uint8"/"int8") for that node's inputs and outputs.
  std::map<std::string, std::string> node_overrides;
  // Per-node weight bit widths (2 to 8) from a recipe file, in place of weight_bits (static mode),
  // e.g. the first and last layer at 8 bits in a 4-bit model.
  std::map<std::string, int> node_weight_bits;
  // The weight bit width of node `name`.
  int weight_bits_of(const std::string& name) const;

  // Reads a JSON recipe (format documented in docs/cli.md); kInvalidArgument naming the file
  // and field on any problem.
  static QuantRecipe load(const std::filesystem::path& path);
  // The recipe of `file` (the defaults when empty) with the command-line options on top, as
  // `quench quantize` and the Python package apply them: skip patterns and op types added, `act`
  // ("u8"/"uint8" or "s8"/"int8"; empty keeps the recipe's) and per-tensor weights.
  static QuantRecipe with_options(const std::string& file, const std::vector<std::string>& skip,
                                  const std::vector<std::string>& skip_ops, const std::string& act,
                                  bool per_tensor);
};

// Op types quantized by default (static mode).
const std::set<std::string>& default_quantized_ops();
// Op types quantized by default in dynamic mode: MatMul, Gemm, Conv, LSTM, GRU.
const std::set<std::string>& default_dynamic_ops();

// The FP32 graph both calibration and quantization work on: shapes inferred, constants folded,
// batch norms folded into Conv/Gemm, dead nodes removed. Deterministic, so that a calibration
// table made from it names the same tensors the quantizer sees. kInvalidArgument when the model
// is already quantized (it holds QuantizeLinear/DequantizeLinear or integer ops).
Model prepare_for_quantization(const Model& fp32);

struct CalibrateOptions {
  ObserverConfig observer;
  int64_t calib_size = 512;  // samples used (from the start of the data set)
  int64_t batch = 32;
  int threads = 0;
  bool progress = true;
};

// Runs the prepared model on `data` and observes every tensor the recipe will quantize.
// kInvalidArgument when the data does not fit the model or `recipe` names unknown nodes.
CalibrationTable calibrate(const Model& prepared, const Dataset& data, const QuantRecipe& recipe,
                           const CalibrateOptions& options);

// One line of the quantization summary.
struct NodeDecision {
  std::string node;
  std::string op_type;
  bool quantized = false;
  std::string reason;  // why skipped, or how quantized
};

struct QuantizeReport {
  std::vector<NodeDecision> nodes;
  int64_t quantized_nodes = 0;
  int64_t skipped_nodes = 0;
  int64_t activation_tensors = 0;  // tensors given QuantizeLinear/DequantizeLinear
  int64_t weight_tensors = 0;      // weights stored as int8
  uint64_t weight_bytes_before = 0;
  uint64_t weight_bytes_after = 0;
  std::vector<std::string> notes;  // remarks for the user, e.g. a check that could not run
};

// Writes the QDQ model from a prepared model and a table that covers the tensors the recipe
// quantizes (kInvalidArgument naming a missing tensor). The result passes the ONNX checker.
Model quantize_static(const Model& prepared, const CalibrationTable& table,
                      const QuantRecipe& recipe, QuantizeReport* report = nullptr);

// Weight-only blockwise 4-bit: every MatMul (and Gemm without transA) the recipe selects whose
// weight is a constant 2-D float becomes com.microsoft MatMulNBits with asymmetric blocks of
// `block_size` (a power of two >= 16) along K (docs/quantization.md eqs. (88)-(90)); the rest
// stays float. Runs in ONNX Runtime; kInvalidArgument when nothing qualifies.
Model quantize_matmul_nbits(const Model& prepared, QuantRecipe recipe, int64_t block_size,
                            QuantizeReport* report = nullptr);

// Dynamic quantization: how activations get their run-time parameters.
enum class ActGranularity {
  kTensor,  // u8 asymmetric, one scale and zero point per batch (DynamicQuantizeLinear)
  kToken,   // s8 symmetric, one scale per row of a MatMul/Gemm input (per token); Conv and the
            // recurrent ops stay per tensor
};
const char* act_granularity_name(ActGranularity g);

struct DynamicQuantOptions {
  ActGranularity act_granularity = ActGranularity::kTensor;
};

// Writes the dynamically quantized model from a prepared model (docs/quantization.md, "Dynamic
// quantization"): MatMul/Gemm -> DynamicQuantizeLinear + MatMulInteger + scaling, Conv -> the same
// with ConvInteger, LSTM -> com.microsoft DynamicQuantizeLSTM, GRU -> int8 weights behind
// DequantizeLinear feeding the float GRU (weight only). The recipe selects nodes as in static mode;
// its activation types do not apply. kInvalidArgument when no node can be quantized (the message
// says why each candidate was kept in float). The result passes the ONNX checker.
Model quantize_dynamic(const Model& prepared, const QuantRecipe& recipe,
                       const DynamicQuantOptions& options, QuantizeReport* report = nullptr);

// Half precision (--mode fp16 / bf16): float32 weights stored as float16 or bfloat16, and by
// default the activations between the ops that run in that type (half_precision_ops()); other
// ops run in float32 with Casts around them (docs/quantization.md, "Half precision").
struct HalfPrecisionOptions {
  DType type = DType::kFloat16;  // kFloat16 or kBFloat16
  bool keep_io_types = true;     // graph inputs and outputs stay float32 (Casts at the edges)
};

// The ops a half-precision model runs in the half type; every other op is kept in float32.
// float16: convolutions, matrix products, element-wise arithmetic and activations, pooling and
// data movement (the normalisations, Softmax, reductions, Pow/Sqrt/Exp/Log and the recurrent ops
// stay float32 for precision). bfloat16: data movement only, since ONNX Runtime's CPU provider has
// no bfloat16 arithmetic kernels (the values between ops are still stored and rounded as
// bfloat16).
const std::set<std::string>& half_precision_ops(DType type);

// Converts a prepared FP32 model. The recipe's skip and skip_op_types keep nodes in float32
// ("first"/"last" and activation types do not apply). kInvalidArgument when the model already
// holds float16/bfloat16 tensors or nothing would change. The result passes the ONNX checker.
Model convert_to_half_precision(const Model& prepared, const QuantRecipe& recipe,
                                const HalfPrecisionOptions& options,
                                QuantizeReport* report = nullptr);

}  // namespace quench
