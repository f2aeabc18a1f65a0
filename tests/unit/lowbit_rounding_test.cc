// Low-bit weights: the b-bit grid, GPTQ, AdaRound and bias correction on small random layers,
// and the weight-rounding driver on the cnn fixture.
#include <cmath>
#include <cstring>
#include <map>
#include <random>

#include "quant/lowbit/adaround.h"
#include "quant/lowbit/bias_correction.h"
#include "quant/lowbit/cholesky.h"
#include "quant/lowbit/dense.h"
#include "quant/lowbit/float_target.h"
#include "quant/lowbit/gptq.h"
#include "quant/nbits_writer.h"
#include "quant/qparams.h"
#include "quench/lowbit.h"
#include "quench/model_io.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench::quant::lowbit {
namespace {

struct RandomLayer {
  LayerShape shape;
  std::vector<float> w, bias, x;  // x: m × x_cols, columns correlated (as real activations are)
  int64_t m = 0;
};

RandomLayer random_layer(int64_t rows, int64_t cols, int64_t groups, int64_t m, uint64_t seed) {
  RandomLayer l;
  l.shape = LayerShape{rows, cols, groups};
  l.m = m;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  l.w.resize(rows * cols);
  for (auto& v : l.w) v = 0.1f * normal(rng);
  l.bias.resize(rows);
  for (auto& v : l.bias) v = 0.1f * normal(rng);
  const int64_t k = l.shape.x_cols();
  l.x.resize(m * k);
  for (int64_t i = 0; i < m; ++i) {
    const float common = normal(rng);
    for (int64_t c = 0; c < k; ++c) {
      // Positive, correlated and of unequal size per column, like post-ReLU features.
      l.x[i * k + c] = std::max(0.f, common * 0.7f + normal(rng) + 0.3f) * (1.f + c % 5);
    }
  }
  return l;
}

std::vector<float> row_scales(const RandomLayer& l, int32_t qmax) {
  std::vector<float> s(l.shape.rows);
  for (int64_t r = 0; r < l.shape.rows; ++r) {
    float a = 0.f;
    for (int64_t c = 0; c < l.shape.cols; ++c) a = std::max(a, std::abs(l.w[r * l.shape.cols + c]));
    s[r] = a / static_cast<float>(qmax);
  }
  return s;
}

std::vector<int8_t> nearest(const RandomLayer& l, const std::vector<float>& s, int32_t qmax) {
  std::vector<int8_t> q(l.w.size());
  for (size_t i = 0; i < q.size(); ++i) {
    const float v = std::nearbyint(l.w[i] / s[i / l.shape.cols]);
    q[i] = static_cast<int8_t>(std::clamp(v, -1.f * qmax, 1.f * qmax));
  }
  return q;
}

TEST(LowBitGrid, FourBitWeightsStayInRangeWithinHalfAStep) {
  Tensor w = Tensor::empty(DType::kFloat32, {2, 3});
  const std::vector<float> values = {0.7f, -0.35f, 0.1f, -2.f, 1.f, 0.05f};
  std::copy(values.begin(), values.end(), w.data<float>());
  const WeightQuant q = quantize_weights(w, 0, true, 4);  // eq. (25), qmax = 7
  EXPECT_FLOAT_EQ(q.scales[0], 0.1f);
  EXPECT_FLOAT_EQ(q.scales[1], 2.f / 7.f);
  for (int i = 0; i < 6; ++i) {
    const int v = q.quantized.data<int8_t>()[i];
    EXPECT_LE(std::abs(v), 7);
    EXPECT_LE(std::abs(v * q.scales[i / 3] - values[i]), q.scales[i / 3] / 2 + 1e-6f);
  }
  EXPECT_EQ(weight_qmax(2), 1);
  EXPECT_THROW(weight_qmax(1), Error);
}

TEST(LowBitCholesky, InverseFactorReproducesTheInverse) {
  const int64_t n = 5;
  std::vector<double> a(n * n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) a[i * n + j] = 1.0 / (1.0 + std::abs(i - j)) + (i == j ? n : 0);
  }
  std::vector<double> u;
  ASSERT_TRUE(inverse_cholesky_upper(a, n, u));
  // (UᵀU)·A = I
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < n; ++k) {
        double inv = 0.0;
        for (int64_t t = 0; t < n; ++t) inv += u[t * n + i] * u[t * n + k];
        s += inv * a[k * n + j];
      }
      EXPECT_NEAR(s, i == j ? 1.0 : 0.0, 1e-10);
    }
  }
  std::vector<double> indefinite = {1.0, 2.0, 2.0, 1.0};
  EXPECT_FALSE(inverse_cholesky_upper(indefinite, 2, u));
}

TEST(LowBitCholesky, SolveReproducesTheRightHandSides) {
  const int64_t n = 6, cols = 3;
  std::vector<double> a(n * n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) a[i * n + j] = 1.0 / (1.0 + std::abs(i - j)) + (i == j ? 2 : 0);
  }
  std::vector<double> b(n * cols);
  for (size_t i = 0; i < b.size(); ++i) b[i] = std::sin(1.0 + static_cast<double>(i));
  std::vector<double> l = a, x = b;
  ASSERT_TRUE(cholesky_lower(l, n));
  cholesky_solve(l, n, x.data(), cols);
  for (int64_t i = 0; i < n; ++i) {  // A·X = B
    for (int64_t c = 0; c < cols; ++c) {
      double s = 0.0;
      for (int64_t k = 0; k < n; ++k) s += a[i * n + k] * x[k * cols + c];
      EXPECT_NEAR(s, b[i * cols + c], 1e-12);
    }
  }
}

TEST(LowBitGptq, ReconstructsBetterThanRoundingToNearest) {
  for (int64_t groups : {1, 4}) {
    const RandomLayer l = random_layer(16, 48, groups, 2048, 7 + groups);
    for (int32_t qmax : {7, 1}) {
      const auto s = row_scales(l, qmax);
      const auto plain = nearest(l, s, qmax);
      const auto q = gptq(l.shape, l.w, l.x.data(), l.m, s, qmax, GptqOptions{});
      for (int8_t v : q) ASSERT_LE(std::abs(v), qmax);
      const AdaRoundOptions linear;
      const WeightGrid grid = WeightGrid::per_row(l.shape, s, qmax);
      const double e_plain = layer_output_error(l.shape, l.w, l.bias, l.x.data(), l.x.data(), l.m,
                                                plain, grid, linear);
      const double e_gptq =
          layer_output_error(l.shape, l.w, l.bias, l.x.data(), l.x.data(), l.m, q, grid, linear);
      EXPECT_LT(e_gptq, 0.8 * e_plain) << "groups " << groups << " qmax " << qmax;
    }
  }
}

// The layer's input as an earlier quantized layer leaves it: each column off by a gain of up to ten
// per cent (that layer's weight error) and on an activation grid of step 0.25.
std::vector<float> shifted_input(const RandomLayer& l) {
  const int64_t k = l.shape.x_cols();
  std::vector<float> xq(l.x.size());
  for (int64_t i = 0; i < l.m; ++i) {
    for (int64_t c = 0; c < k; ++c) {
      const float gain = 1.f + 0.1f * static_cast<float>(c % 3 - 1);
      xq[i * k + c] = std::nearbyint(l.x[i * k + c] * gain / 0.25f) * 0.25f;
    }
  }
  return xq;
}

TEST(LowBitFloatTarget, SolvesTheLeastSquaresProblemOfTheFloatOutput) {
  // Eq. (159) without dampening: the residual X̃·W*ᵀ − X·Wᵀ is orthogonal to the columns of X̃.
  const RandomLayer l = random_layer(6, 20, 2, 3000, 11);
  const std::vector<float> xq = shifted_input(l);
  const int64_t k = l.shape.cols, r = l.shape.group_rows(), ld = l.shape.x_cols();
  std::vector<float> target = l.w;
  for (int64_t g = 0; g < l.shape.groups; ++g) {
    const std::vector<double> h = gram(xq.data(), l.m, ld, g * k, k);
    move_to_float_target(&target[g * r * k], r, k, h, xq.data(), l.x.data(), l.m, ld, g * k, 0.0);
  }
  // Σ over rows of ‖X̃ᵀ·(X̃·vᵀ − X·wᵀ)‖² for v = the weights given, w = the layer's.
  auto gradient = [&](const std::vector<float>& v) {
    double total = 0.0;
    for (int64_t row = 0; row < l.shape.rows; ++row) {
      const int64_t g = row / r;
      std::vector<double> grad(k, 0.0);
      for (int64_t i = 0; i < l.m; ++i) {
        double e = 0.0;
        for (int64_t c = 0; c < k; ++c) {
          e += static_cast<double>(xq[i * ld + g * k + c]) * v[row * k + c] -
               static_cast<double>(l.x[i * ld + g * k + c]) * l.w[row * k + c];
        }
        for (int64_t c = 0; c < k; ++c) grad[c] += e * xq[i * ld + g * k + c];
      }
      for (double v2 : grad) total += v2 * v2;
    }
    return total;
  };
  const double before = gradient(l.w), after = gradient(target);
  EXPECT_GT(before, 0.0);
  EXPECT_LT(after, 1e-8 * before) << "before " << before << " after " << after;
}

TEST(LowBitGptq, FloatTargetMatchesTheFloatOutputBetter) {
  // Measured against the float layer on the float inputs (eq. (160)), GPTQ towards W* beats GPTQ
  // towards W on the shifted inputs and rounding to nearest (which GPTQ towards W, blind to the
  // shift, may not beat).
  for (int64_t groups : {1, 4}) {
    const RandomLayer l = random_layer(16, 48, groups, 2048, 21 + groups);
    const std::vector<float> xq = shifted_input(l);
    const int32_t qmax = 7;
    const auto s = row_scales(l, qmax);
    const WeightGrid grid = WeightGrid::per_row(l.shape, s, qmax);
    const AdaRoundOptions linear;
    auto error = [&](const std::vector<int8_t>& q) {
      return layer_output_error(l.shape, l.w, l.bias, xq.data(), l.x.data(), l.m, q, grid, linear);
    };
    const double e_plain = error(nearest(l, s, qmax));
    const double e_quantized = error(gptq(l.shape, l.w, xq.data(), l.m, s, qmax, GptqOptions{}));
    const double e_float =
        error(gptq(l.shape, l.w, xq.data(), l.m, s, qmax, GptqOptions{}, l.x.data()));
    EXPECT_LT(e_float, 0.8 * std::min(e_quantized, e_plain))
        << "groups " << groups << ": float target " << e_float << ", quantized target "
        << e_quantized << ", nearest " << e_plain;
  }
}

// Σ over rows of ‖X (w - ŵ)‖², the H-weighted error (w - ŵ)ᵀ H (w - ŵ) with H = XᵀX.
double blockwise_error(const RandomLayer& l, const BlockwiseWeights& b, int64_t block) {
  const int64_t rows = l.shape.rows, cols = l.shape.cols;
  double e = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> d(cols);
    for (int64_t c = 0; c < cols; ++c) {
      const int32_t q = b.q[r * cols + c];
      EXPECT_LE(q, 15);
      d[c] = l.w[r * cols + c] - b.grids[r * b.blocks + c / block].dequantize(q);
    }
    for (int64_t i = 0; i < l.m; ++i) {
      double y = 0.0;
      for (int64_t c = 0; c < cols; ++c) y += l.x[i * cols + c] * d[c];
      e += y * y;
    }
  }
  return e;
}

TEST(LowBitGptq, BlockwiseReconstructsBetterThanRoundingToNearest) {
  const RandomLayer l = random_layer(16, 100, 1, 2048, 11);  // 100: the last block is short
  for (int64_t block : {16, 32}) {
    const BlockwiseWeights plain = round_blockwise(16, 100, l.w, block, 15);
    const double e_plain = blockwise_error(l, plain, block);
    for (bool act_order : {false, true}) {
      GptqOptions o;
      o.act_order = act_order;
      o.block = 24;  // lazy batches that straddle the groups
      const BlockwiseWeights b = gptq_blockwise(16, 100, l.w, l.x.data(), l.m, block, 15, o);
      ASSERT_EQ(b.blocks, (100 + block - 1) / block);
      const double e = blockwise_error(l, b, block);
      // Skipping the error update would give rounding to nearest on the same grids (equal error).
      EXPECT_LT(e, 0.8 * e_plain) << "block " << block << " act_order " << act_order;
      if (act_order) {  // static groups: the grids are those of the original weights
        for (size_t i = 0; i < b.grids.size(); ++i) {
          EXPECT_EQ(b.grids[i].scale, plain.grids[i].scale);
          EXPECT_EQ(b.grids[i].zero_point, plain.grids[i].zero_point);
        }
      } else {  // grids chosen from the updated weights: some differ from the original ones
        int differ = 0;
        for (size_t i = 0; i < b.grids.size(); ++i)
          differ += b.grids[i].scale != plain.grids[i].scale;
        EXPECT_GT(differ, 0);
      }
    }
  }
}

TEST(LowBitGptq, WrittenBlocksDequantizeToWhatGptqChose) {
  const Model prepared = prepare_for_quantization(load_model(testing::test_model("vit.onnx")));
  QuantRecipe recipe;
  recipe.weight_bits = 4;
  recipe.weight_only = true;
  const int64_t block = 32;
  std::map<std::string, BlockwiseWeights> chosen;
  std::map<std::string, int64_t> ks;
  const NbitsChooser choose = [&](const Node& node, int64_t n, int64_t k,
                                  const std::vector<float>& w) {
    const RandomLayer l = random_layer(1, k, 1, 4 * k, static_cast<uint64_t>(k + n));
    std::optional<NbitsChoice> c =
        NbitsChoice{gptq_blockwise(n, k, w, l.x.data(), l.m, block, 15, GptqOptions{}), {}};
    chosen[node.outputs[0]] = c->blocks;
    ks[node.outputs[0]] = k;
    return c;
  };
  const Model q = write_matmul_nbits(prepared, recipe, block, nullptr, choose);
  int checked = 0;
  for (const Node& node : q.graph.nodes) {
    if (node.op_type != "MatMulNBits") continue;
    const std::string y = node.outputs[0];
    const std::string key = chosen.count(y) ? y : y.substr(0, y.rfind("_product"));
    ASSERT_TRUE(chosen.count(key)) << y;
    const BlockwiseWeights& b = chosen[key];
    const int64_t k = ks[key], n = static_cast<int64_t>(b.q.size()) / k;
    const uint8_t* packed = q.graph.initializer(node.input(1))->data<uint8_t>();
    const float* scales = q.graph.initializer(node.input(2))->data<float>();
    const uint8_t* zps = q.graph.initializer(node.input(3))->data<uint8_t>();
    const int64_t zp_bytes = (b.blocks + 1) / 2;
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t c = 0; c < k; ++c) {
        const int64_t j = c / block, i = c % block;
        const int v = (packed[(r * b.blocks + j) * (block / 2) + i / 2] >> (4 * (i % 2))) & 15;
        const int zp = (zps[r * zp_bytes + j / 2] >> (4 * (j % 2))) & 15;
        const float written = static_cast<float>(v - zp) * scales[r * b.blocks + j];
        ASSERT_EQ(written, b.grids[r * b.blocks + j].dequantize(b.q[r * k + c]))
            << y << " row " << r << " col " << c;
      }
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(chosen.size()));
  EXPECT_GT(checked, 0);
}

QuantRecipe weight_only_int4() {
  QuantRecipe recipe;
  recipe.weight_bits = 4;
  recipe.weight_only = true;
  return recipe;
}

// The MatMulNBits nodes of `q`, and how many of them hold other packed integers than the same
// node of `plain` (both written from one model).
std::pair<int, int> packed_differences(const Model& q, const Model& plain) {
  int nbits = 0, differ = 0;
  for (const Node& node : q.graph.nodes) {
    if (node.op_type != "MatMulNBits") continue;
    ++nbits;
    const Tensor& a = *q.graph.initializer(node.input(1));
    const Tensor& b = *plain.graph.initializer(node.input(1));
    EXPECT_EQ(a.nbytes(), b.nbytes());
    differ += a.nbytes() != b.nbytes() ||
              std::memcmp(a.data<uint8_t>(), b.data<uint8_t>(), a.nbytes()) != 0;
  }
  return {nbits, differ};
}

TEST(LowBitDriver, GptqBlockwiseVitRunsAndDiffersFromRounding) {
  const Model prepared = prepare_for_quantization(load_model(testing::test_model("vit.onnx")));
  const QuantRecipe recipe = weight_only_int4();
  const auto data = open_dataset("random:16:1x28x28");
  WeightRoundingOptions o;
  o.gptq = true;
  o.calib_size = 16;
  o.max_rows = 512;
  o.progress = false;
  WeightRoundingReport rr;
  const Model q = quantize_matmul_nbits_rounded(prepared, recipe, 32, *data, o, nullptr, &rr);
  const Model plain = quantize_matmul_nbits(prepared, recipe, 32);
  const auto [nbits, differ] = packed_differences(q, plain);
  EXPECT_EQ(rr.layers, nbits);
  EXPECT_EQ(differ, nbits);
  Session session(q);
  const auto out = session.run({data->batch(0, 4).inputs[0]});
  EXPECT_EQ(out[0].dim(0), 4);
}

TEST(LowBitAdaRound, ReconstructsBetterThanRoundingToNearest) {
  const RandomLayer l = random_layer(8, 36, 1, 1024, 3);
  const int32_t qmax = 7;
  const auto s = row_scales(l, qmax);
  AdaRoundOptions o;
  o.iters = 1000;
  o.act_lo = 0.f;  // a fused Relu
  const auto plain = nearest(l, s, qmax);
  const WeightGrid grid = WeightGrid::per_row(l.shape, s, qmax);
  const auto q = adaround(l.shape, l.w, l.bias, l.x.data(), l.x.data(), l.m, grid, o);
  int changed = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    ASSERT_LE(std::abs(q[i] - plain[i]), 1);  // up or down from W/s, never further
    changed += q[i] != plain[i];
  }
  EXPECT_GT(changed, 0);
  const double e_plain =
      layer_output_error(l.shape, l.w, l.bias, l.x.data(), l.x.data(), l.m, plain, grid, o);
  const double e_ada =
      layer_output_error(l.shape, l.w, l.bias, l.x.data(), l.x.data(), l.m, q, grid, o);
  EXPECT_LT(e_ada, 0.9 * e_plain);
}

// Eq. (145): AdaRound on MatMulNBits blocks: every integer is ⌊W/s + z⌋ or one more, in [0, 15],
// and the output error falls below rounding to nearest on the same grids.
TEST(LowBitAdaRound, BlockwiseGridReconstructsBetterThanRoundingToNearest) {
  const RandomLayer l = random_layer(8, 40, 1, 1024, 5);  // 40: the last block of 16 is short
  const int64_t block = 16;
  const BlockwiseWeights plain = round_blockwise(8, 40, l.w, block, 15);
  const WeightGrid grid = WeightGrid::blockwise(plain, 8, 40, block, 15);
  AdaRoundOptions o;
  o.iters = 1000;
  const auto q = adaround(l.shape, l.w, {}, l.x.data(), l.x.data(), l.m, grid, o);
  const std::vector<int8_t> nearest_q(plain.q.begin(), plain.q.end());
  int changed = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    const float t = std::floor(l.w[i] / grid.scale[i] + grid.zero_point[i]);
    ASSERT_TRUE(q[i] == std::clamp(t, 0.f, 15.f) || q[i] == std::clamp(t + 1.f, 0.f, 15.f))
        << "weight " << i << ": " << int{q[i]} << " from " << t;
    changed += q[i] != nearest_q[i];
  }
  EXPECT_GT(changed, 0);
  const double e_plain =
      layer_output_error(l.shape, l.w, {}, l.x.data(), l.x.data(), l.m, nearest_q, grid, o);
  const double e_ada =
      layer_output_error(l.shape, l.w, {}, l.x.data(), l.x.data(), l.m, q, grid, o);
  EXPECT_LT(e_ada, 0.9 * e_plain);
}

// Eq. (146) in the written file: a bias shift joins Gemm's beta·C and the constant of the Add
// after a MatMul, and gets an Add of its own after a MatMul without one; every output moves by
// exactly its shift against the same blocks written without one.
TEST(LowBitNbitsWriter, BiasShiftJoinsTheBiasOrGetsAnAdd) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  std::mt19937 rng(9);
  auto init = [&](const std::string& name, Shape shape) {
    g.initializers[name] = testing::random_tensor(shape, rng);
    g.values[name] = ValueInfo{DType::kFloat32, symbolic(shape), ""};
  };
  init("w1", {24, 40});
  init("c1", {24});
  init("w2", {40, 32});
  init("c2", {32});
  init("w3", {40, 16});
  g.inputs = {"x"};
  for (const auto& [name, n] :
       {std::pair<std::string, int64_t>{"x", 40}, {"y1", 24}, {"t2", 32}, {"y2", 32}, {"y3", 16}}) {
    g.values[name] = ValueInfo{DType::kFloat32, symbolic(Shape{3, n}), ""};
  }
  auto node = [](std::string name, std::string op, std::vector<std::string> in,
                 std::vector<std::string> out) {
    Node n = testing::make_node(std::move(op), std::move(in), std::move(out));
    n.name = std::move(name);
    return n;
  };
  g.nodes = {node("gemm", "Gemm", {"x", "w1", "c1"}, {"y1"}),
             node("mm2", "MatMul", {"x", "w2"}, {"t2"}), node("add2", "Add", {"t2", "c2"}, {"y2"}),
             node("mm3", "MatMul", {"x", "w3"}, {"y3"})};
  g.nodes[0].set_attr("transB", int64_t{1});
  g.nodes[0].set_attr("beta", 2.f);
  g.outputs = {"y1", "y2", "y3"};
  QuantRecipe recipe;
  recipe.weight_bits = 4;
  recipe.weight_only = true;
  std::map<std::string, std::vector<float>> shifts;
  const NbitsChooser shifted = [&](const Node& n, int64_t rows, int64_t k,
                                   const std::vector<float>& w) -> std::optional<NbitsChoice> {
    NbitsChoice c{round_blockwise(rows, k, w, 32, 15), std::vector<float>(rows)};
    for (int64_t r = 0; r < rows; ++r) c.bias_shift[r] = 0.01f * static_cast<float>(r + 1);
    shifts[n.outputs[0] == "t2" ? "y2" : n.outputs[0]] = c.bias_shift;
    return c;
  };
  const Model plain = write_matmul_nbits(m, recipe, 32, nullptr, nullptr);
  const Model moved = write_matmul_nbits(m, recipe, 32, nullptr, shifted);
  auto count = [](const Model& model, const std::string& op) {
    int n = 0;
    for (const Node& node : model.graph.nodes) n += node.op_type == op;
    return n;
  };
  EXPECT_EQ(count(plain, "MatMulNBits"), 3);
  EXPECT_EQ(count(moved, "MatMulNBits"), 3);
  EXPECT_EQ(count(moved, "Add"), count(plain, "Add") + 1);  // only mm3 gets one
  int own = 0;
  for (const Node& node : moved.graph.nodes) own += node.name == "mm3/BiasCorrection";
  EXPECT_EQ(own, 1);
  const Tensor x = testing::random_tensor({3, 40}, 4);
  const auto want = Session(plain).run({x});
  const auto got = Session(moved).run({x});
  ASSERT_EQ(got.size(), 3u);
  for (size_t o = 0; o < got.size(); ++o) {
    const std::vector<float>& shift = shifts.at(g.outputs[o]);
    const int64_t n = got[o].dim(1);
    ASSERT_EQ(static_cast<size_t>(n), shift.size());
    for (int64_t i = 0; i < got[o].numel(); ++i) {
      EXPECT_NEAR(got[o].data<float>()[i] - want[o].data<float>()[i], shift[i % n], 1e-5)
          << g.outputs[o] << " element " << i;
    }
  }
}

// Eq. (146) through a chain of linear layers: each layer's correction sees the earlier layers'
// corrected outputs, so the written model's mean output on the calibration data is the float
// model's (without the earlier shifts in E[x_q] the second layer's mean would be off).
TEST(LowBitDriver, BlockwiseBiasCorrectionKeepsTheMeanOutputOfALinearChain) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  std::mt19937 rng(12);
  for (const auto& [name, shape] :
       {std::pair<std::string, Shape>{"w1", {40, 48}}, {"w2", {48, 24}}}) {
    g.initializers[name] = testing::random_tensor(shape, rng);
    g.values[name] = ValueInfo{DType::kFloat32, symbolic(shape), ""};
  }
  g.inputs = {"x"};
  g.values["x"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("N"), 40}, ""};
  g.values["h"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("N"), 48}, ""};
  g.values["y"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("N"), 24}, ""};
  g.nodes = {testing::make_node("MatMul", {"x", "w1"}, {"h"}),
             testing::make_node("MatMul", {"h", "w2"}, {"y"})};
  g.nodes[0].name = "mm1";
  g.nodes[1].name = "mm2";
  g.outputs = {"y"};
  QuantRecipe recipe;
  recipe.weight_bits = 4;
  recipe.weight_only = true;
  const auto data = open_dataset("random:64:40");
  WeightRoundingOptions o;
  o.bias_correction = true;
  o.calib_size = 64;
  o.progress = false;
  const Model q = quantize_matmul_nbits_rounded(m, recipe, 16, *data, o);
  const Model plain = quantize_matmul_nbits(m, recipe, 16);
  auto mean_output = [&](const Model& model) {
    const Tensor y = Session(model).run({data->batch(0, 64).inputs[0]})[0];
    std::vector<double> mean(24, 0.0);
    for (int64_t i = 0; i < y.numel(); ++i) mean[i % 24] += y.data<float>()[i] / 64.0;
    return mean;
  };
  const std::vector<double> want = mean_output(m), got = mean_output(q), off = mean_output(plain);
  double largest = 0, error = 0, plain_error = 0;
  for (int c = 0; c < 24; ++c) {
    largest = std::max(largest, std::abs(want[c]));
    error = std::max(error, std::abs(got[c] - want[c]));
    plain_error = std::max(plain_error, std::abs(off[c] - want[c]));
  }
  EXPECT_LT(error, 1e-4 * largest) << "rounding to nearest is off by " << plain_error;
  EXPECT_GT(plain_error, 100 * error);  // the case has a shift to remove
}

// Two convolutions reading one value through different windows (a residual block's 3x3 and 1x1
// shortcut): each is corrected with its own mean input row (eq. (81)), so the mean of each output
// over the calibration data is the float model's.
TEST(LowBitDriver, BiasCorrectionOfLayersSharingAnInputKeepsEachMeanOutput) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  std::mt19937 rng(21);
  for (const auto& [name, shape] : {std::pair<std::string, Shape>{"w3", {6, 4, 3, 3}},
                                    {"b3", {6}},
                                    {"w1", {5, 4, 1, 1}},
                                    {"b1", {5}}}) {
    g.initializers[name] = testing::random_tensor(shape, rng);
    g.values[name] = ValueInfo{DType::kFloat32, symbolic(shape), ""};
  }
  g.inputs = {"x"};
  g.values["x"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("N"), 4, 8, 8}, ""};
  g.values["y3"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("N"), 6, 8, 8}, ""};
  g.values["y1"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("N"), 5, 8, 8}, ""};
  g.nodes = {testing::make_node("Conv", {"x", "w3", "b3"}, {"y3"},
                                {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}),
             testing::make_node("Conv", {"x", "w1", "b1"}, {"y1"})};
  g.nodes[0].name = "conv3x3";
  g.nodes[1].name = "conv1x1";
  g.outputs = {"y3", "y1"};
  QuantRecipe recipe;
  recipe.weight_bits = 3;  // a large shift to remove
  const auto data = open_dataset("random:32:4x8x8");
  CalibrateOptions co;
  co.calib_size = 32;
  co.progress = false;
  const CalibrationTable table = calibrate(m, *data, recipe, co);
  WeightRoundingOptions o;
  o.bias_correction = true;
  o.calib_size = 32;
  o.progress = false;
  const Model q = quantize_rounded(m, table, recipe, *data, o);
  const Model plain = quantize_static(m, table, recipe);
  auto mean_outputs = [&](const Model& model) {
    const std::vector<Tensor> ys = Session(model).run({data->batch(0, 32).inputs[0]});
    std::vector<std::vector<double>> means;
    for (const Tensor& y : ys) {
      const int64_t c = y.dim(1), hw = y.dim(2) * y.dim(3);
      std::vector<double> mean(c, 0.0);
      for (int64_t i = 0; i < y.numel(); ++i) mean[i / hw % c] += y.data<float>()[i];
      for (double& v : mean) v /= static_cast<double>(y.numel() / c);
      means.push_back(mean);
    }
    return means;
  };
  const auto want = mean_outputs(m), got = mean_outputs(q), off = mean_outputs(plain);
  for (size_t k = 0; k < want.size(); ++k) {
    double error = 0, plain_error = 0;
    for (size_t c = 0; c < want[k].size(); ++c) {
      error = std::max(error, std::abs(got[k][c] - want[k][c]));
      plain_error = std::max(plain_error, std::abs(off[k][c] - want[k][c]));
    }
    // What is left is the output's own quantization (its QuantizeLinear), not the weights' shift.
    EXPECT_LT(error, 0.2 * plain_error) << g.outputs[k];
  }
}

void expect_bias_corrected_blockwise_vit(bool gptq);

// The driver on vit's MatMulNBits: AdaRound (or GPTQ) chooses other integers than rounding to
// nearest, bias correction writes its shifts, and the file runs.
TEST(LowBitDriver, AdaRoundBiasCorrectedBlockwiseVitRuns) {
  for (bool gptq : {false, true}) {
    SCOPED_TRACE(gptq ? "GPTQ" : "AdaRound");
    expect_bias_corrected_blockwise_vit(gptq);
  }
}

void expect_bias_corrected_blockwise_vit(bool gptq) {
  const Model prepared = prepare_for_quantization(load_model(testing::test_model("vit.onnx")));
  const QuantRecipe recipe = weight_only_int4();
  const auto data = open_dataset("random:16:1x28x28");
  WeightRoundingOptions o;
  o.adaround = !gptq;
  o.gptq = gptq;
  o.bias_correction = true;
  o.adaround_iters = 20;
  o.calib_size = 16;
  o.max_rows = 256;
  o.progress = false;
  WeightRoundingReport rr;
  const Model q = quantize_matmul_nbits_rounded(prepared, recipe, 32, *data, o, nullptr, &rr);
  const Model plain = quantize_matmul_nbits(prepared, recipe, 32);
  const auto [nbits, differ] = packed_differences(q, plain);
  EXPECT_EQ(rr.layers, nbits);
  EXPECT_GT(differ, 0);
  // Every layer's shift went somewhere: a bias constant differs or an Add of its own was written.
  int shifted = 0;
  for (const Node& node : q.graph.nodes) {
    if (node.op_type != "Add") continue;
    if (node.name.find("/BiasCorrection") != std::string::npos) {
      ++shifted;
      continue;
    }
    for (const std::string& in : node.inputs) {
      const Tensor* a = q.graph.initializer(in);
      const Tensor* b = plain.graph.initializer(in);
      if (a != nullptr && b != nullptr && !a->equals(*b)) ++shifted;
    }
  }
  EXPECT_EQ(shifted, nbits);
  Session session(q);
  const auto out = session.run({data->batch(0, 4).inputs[0]});
  EXPECT_EQ(out[0].dim(0), 4);
}

TEST(LowBitBiasCorrection, RemovesTheMeanOutputShift) {
  const RandomLayer l = random_layer(6, 20, 2, 512, 11);
  const int32_t qmax = 1;  // 2-bit: a large shift to remove
  const auto s = row_scales(l, qmax);
  const auto q = nearest(l, s, qmax);
  const int64_t k = l.shape.x_cols();
  std::vector<double> mean(k, 0.0);
  for (int64_t i = 0; i < l.m; ++i) {
    for (int64_t c = 0; c < k; ++c) mean[c] += l.x[i * k + c] / static_cast<double>(l.m);
  }
  std::vector<float> bias = l.bias;
  correct_bias(l.shape, l.w, q, s, mean, mean, bias);
  const int64_t r = l.shape.group_rows();
  for (int64_t row = 0; row < l.shape.rows; ++row) {
    double before = 0.0, after = 0.0;
    for (int64_t i = 0; i < l.m; ++i) {
      double y = l.bias[row], yq = 0.0;
      for (int64_t c = 0; c < l.shape.cols; ++c) {
        const double x = l.x[i * k + (row / r) * l.shape.cols + c];
        y += l.w[row * l.shape.cols + c] * x;
        yq += s[row] * q[row * l.shape.cols + c] * x;
      }
      before += (yq + l.bias[row] - y) / static_cast<double>(l.m);
      after += (yq + bias[row] - y) / static_cast<double>(l.m);
    }
    EXPECT_NEAR(after, 0.0, 1e-4 + 1e-3 * std::abs(before)) << "row " << row;
  }
}

TEST(LowBitDriver, GptqFourBitCnnRunsAndKeepsWeightsInRange) {
  const Model prepared = prepare_for_quantization(load_model(testing::test_model("cnn.onnx")));
  QuantRecipe recipe;
  recipe.weight_bits = 4;
  recipe.skip_op_types = {"Gemm"};  // K = 3136: seconds of Cholesky, too slow for a unit test
  CalibrateOptions co;
  co.calib_size = 32;
  co.progress = false;
  const auto data = open_dataset("random:32:1x28x28");
  const CalibrationTable table = calibrate(prepared, *data, recipe, co);
  WeightRoundingOptions o;
  o.gptq = true;
  o.bias_correction = true;
  o.calib_size = 32;
  o.max_rows = 512;
  o.progress = false;
  WeightRoundingReport rr;
  const Model q = quantize_rounded(prepared, table, recipe, *data, o, nullptr, &rr);
  EXPECT_EQ(rr.layers, 5);  // the 5 Conv
  int dq_weights = 0;
  for (const Node& n : q.graph.nodes) {
    if (n.op_type != "DequantizeLinear") continue;
    const Tensor* t = q.graph.initializer(n.input(0));
    if (t == nullptr || t->dtype() != DType::kInt8 || t->rank() < 2) continue;
    ++dq_weights;
    for (int8_t v : t->values<int8_t>()) ASSERT_LE(std::abs(v), 7);
  }
  EXPECT_EQ(dq_weights, 5);
  Session session(q);
  const auto out = session.run({data->batch(0, 4).inputs[0]});
  EXPECT_EQ(out[0].dim(0), 4);
  o.adaround = true;
  EXPECT_THROW(quantize_rounded(prepared, table, recipe, *data, o), Error);
}

TEST(LowBitPlan, WeightOnlyWritesNoActivationQuantization) {
  const Model prepared = prepare_for_quantization(load_model(testing::test_model("cnn.onnx")));
  QuantRecipe recipe;
  recipe.weight_only = true;
  recipe.weight_bits = 4;
  const Model q = quantize_static(prepared, CalibrationTable{}, recipe);
  int quantize = 0, dequantize = 0;
  for (const Node& n : q.graph.nodes) {
    quantize += n.op_type == "QuantizeLinear";
    dequantize += n.op_type == "DequantizeLinear";
  }
  EXPECT_EQ(quantize, 0);
  EXPECT_EQ(dequantize, 7);
  recipe.op_types = {"Conv", "Add"};
  EXPECT_THROW(quantize_static(prepared, CalibrationTable{}, recipe), Error);
}

}  // namespace
}  // namespace quench::quant::lowbit
