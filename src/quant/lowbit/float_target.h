// GPTQ's float target: the weights whose products with the quantized model's inputs best
// reproduce the float layer on the float model's inputs (docs/quantization.md eqs. (159)-(160)).
// Rounding them with GPTQ's sweep minimizes the distance of the quantized layer's output to the
// float model's, so that each layer also undoes the shift the earlier quantized layers left in
// its input.
#pragma once

#include <cstdint>
#include <vector>

namespace quench::quant::lowbit {

// One group's weights w (r × k, row-major) moved in place to W* of eq. (159): x and x_fp are the
// same m rows of the layer's input in the quantized and in the float model (row stride ld, the
// group's columns from col0), h the group's H of eq. (70) from x, damp the λ of eq. (71).
void move_to_float_target(float* w, int64_t r, int64_t k, const std::vector<double>& h,
                          const float* x, const float* x_fp, int64_t m, int64_t ld, int64_t col0,
                          double damp);

}  // namespace quench::quant::lowbit
