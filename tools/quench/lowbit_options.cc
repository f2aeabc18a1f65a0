#include "quench/lowbit_options.h"

namespace quench::cli {

void add_lowbit_options(CLI::App& cmd, LowBitOptions& o) {
  cmd.add_option("--weights", o.weights, "Weight bits: int8 (default), int4, int2 (any int2..int8)")
      ->capture_default_str();
  cmd.add_option("--group-size", o.group_size,
                 "4-bit weight block size along K (with --weight-only --weights int4): MatMul/Gemm "
                 "written as com.microsoft MatMulNBits");
  cmd.add_option("--accuracy-level", o.accuracy_level,
                 "With --group-size: the MatMulNBits accuracy_level attribute; 4 lets runtimes "
                 "quantize activations to int8 per block (faster products, other numerics)")
      ->capture_default_str();
  cmd.add_flag("--weight-only", o.weight_only,
               "Quantize weights only (Conv/Gemm/MatMul); activations stay float");
  cmd.add_flag("--int4-storage", o.int4_storage,
               "Store weights of 4 bits or fewer as ONNX INT4/UINT4 initializers (opset 21)");
  cmd.add_flag("--gptq", o.gptq, "Choose integer weights with GPTQ (needs --calib)");
  cmd.add_option("--gptq-target", o.gptq_target,
                 "GPTQ's target: float (the float model's layer output) or quantized (the float "
                 "weights on the quantized model's inputs, GPTQ as published)")
      ->capture_default_str();
  cmd.add_flag("--adaround", o.adaround, "Choose integer weights with AdaRound (needs --calib)");
  cmd.add_option("--adaround-iters", o.adaround_iters, "AdaRound steps per layer")
      ->capture_default_str();
  cmd.add_flag("--cle", o.cle,
               "Cross-layer equalization with high-bias absorption (absorption needs --calib)");
  cmd.add_option("--smoothquant", o.smoothquant,
                 "SmoothQuant with this migration strength (0..1, e.g. 0.5; needs --calib)");
  cmd.add_flag("--bias-correction", o.bias_correction,
               "Correct biases for the quantization's mean output shift (needs --calib)");
}

}  // namespace quench::cli
