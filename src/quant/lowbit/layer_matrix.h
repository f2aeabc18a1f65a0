// A Conv, Gemm or MatMul as the weight-rounding algorithms (GPTQ, AdaRound, bias correction) see
// it: per group, Y = X · Wᵀ, with W one row per output channel and X one row per output position
// (a row of the input's im2col for a Conv, a row of A for a matrix product).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/conv_params.h"
#include "quant/quant_plan.h"
#include "quench/graph.h"

namespace quench::quant::lowbit {

struct LayerShape {
  int64_t rows = 0;    // output channels
  int64_t cols = 0;    // inputs of one output (Conv: C_in / group · kernel taps; MatMul: K)
  int64_t groups = 1;  // group g: rows [g·R, (g+1)·R) read columns [g·cols, (g+1)·cols) of X
  int64_t group_rows() const { return rows / groups; }
  int64_t x_cols() const { return cols * groups; }
};

struct LayerView {
  LayerShape shape;
  bool conv = false;
  WindowParams window;  // Conv only (2-D)
  int64_t in_channels = 0;
  std::vector<int64_t> in_size, out_size;  // Conv: input and output spatial sizes
  std::string unsupported;  // non-empty: why the algorithms leave this layer to plain rounding
};

// The layer `node` of `g` computes with weight `w` (an input the plan stores as int8).
LayerView describe_layer(const Graph& g, const Node& node, const WeightInput& w);

// The weight as W, rows × cols, row-major, and int8 values in that order back as a tensor of
// the weight's shape.
std::vector<float> weight_matrix(const Tensor& weight, const WeightInput& input);
Tensor weight_from_matrix(const std::vector<int8_t>& q, const Tensor& weight,
                          const WeightInput& input);

// Rows of X one batch of the layer's input gives, and row `position` of them (x_cols values).
int64_t row_count(const LayerView& v, const Tensor& input);
void extract_row(const LayerView& v, const Tensor& input, int64_t position, float* row);
// sum[c] += Σ over every position p of row p's value c (x_cols values): the sum behind the mean
// rows of bias correction, for a Conv without forming the rows (each input row summed once per
// kernel column, those sums once per kernel row).
void add_row_sums(const LayerView& v, const Tensor& input, std::vector<double>& sum);

}  // namespace quench::quant::lowbit
