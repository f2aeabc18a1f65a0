// Data-free bias correction: the clipped-normal mean (eq. (140)), the expected activations a
// BatchNormalization implies (eq. (141)), and the correction (eq. (142)) removing the mean output
// shift of 4-bit weights on a layer whose input is exactly the Gaussian it assumes.
#include <cmath>
#include <limits>
#include <numbers>
#include <random>

#include "quant/lowbit/batch_norm_means.h"
#include "quench/lowbit.h"
#include "quench/model_io.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench::quant::lowbit {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// E[clip(X, low, high)] by the midpoint rule over mu ± 12 sigma (the reference for eq. (140)).
double integrated_mean(double mu, double sigma, double low, double high) {
  const int n = 200000;
  const double from = mu - 12 * sigma, step = 24 * sigma / n;
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    const double x = from + (i + 0.5) * step;
    const double density = std::exp(-0.5 * std::pow((x - mu) / sigma, 2)) /
                           (sigma * std::sqrt(2.0 * std::numbers::pi));
    sum += std::clamp(x, low, high) * density * step;
  }
  return sum;
}

TEST(LowBitAnalyticBias, ClippedNormalMeanMatchesIntegration) {
  struct Case {
    double mu, sigma, low, high;
  } cases[] = {{0.0, 1.0, 0.0, kInf},   {1.5, 0.5, 0.0, kInf},  {-2.0, 1.0, 0.0, kInf},
               {4.0, 2.0, 0.0, 6.0},    {-1.0, 3.0, -2.0, 0.5}, {0.3, 2.0, -kInf, 1.0},
               {0.3, 2.0, -kInf, kInf}, {10.0, 1.0, 0.0, 6.0}};
  for (const Case& c : cases) {
    EXPECT_NEAR(clipped_normal_mean(c.mu, c.sigma, c.low, c.high),
                integrated_mean(c.mu, c.sigma, c.low, c.high), 1e-6)
        << c.mu << " " << c.sigma << " [" << c.low << ", " << c.high << "]";
  }
  EXPECT_NEAR(clipped_normal_mean(0.0, 1.0, 0.0, kInf), 1.0 / std::sqrt(2.0 * std::numbers::pi),
              1e-12);
  EXPECT_EQ(clipped_normal_mean(-3.0, 0.0, 0.0, 6.0), 0.0);  // no spread: the clipped value
  EXPECT_EQ(clipped_normal_mean(7.0, 0.0, 0.0, 6.0), 6.0);
}

using testing::make_node;

// x → Conv 1×1 (identity) → BatchNormalization (mean 0, variance 1: output N(β, γ²)) → `act`
// (Relu, Clip(0, 6) or nothing) → Conv 3×3, padding 1, with bias → y.
Model gaussian_layer_model(const std::string& act) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  const int64_t c = 4, out = 6;
  g.inputs = {"x"};
  g.values["x"] = ValueInfo{DType::kFloat32, symbolic({-1, c, 8, 8}), ""};
  g.outputs = {"y"};
  std::vector<float> eye(c * c, 0.f);
  for (int64_t i = 0; i < c; ++i) eye[i * c + i] = 1.f;
  g.initializers["w1"] = Tensor::from_vector<float>({c, c, 1, 1}, eye);
  g.initializers["gamma"] = Tensor::from_vector<float>({c}, {1.f, 2.f, 0.5f, -1.5f});
  g.initializers["beta"] = Tensor::from_vector<float>({c}, {0.5f, 4.f, -0.5f, 1.f});
  g.initializers["mean"] = Tensor::from_vector<float>({c}, std::vector<float>(c, 0.f));
  g.initializers["var"] = Tensor::from_vector<float>({c}, std::vector<float>(c, 1.f));
  g.initializers["w2"] = testing::random_tensor({out, c, 3, 3}, 7u, -0.5f, 0.5f);
  g.initializers["b2"] = testing::random_tensor({out}, 8u, -0.1f, 0.1f);
  g.initializers["lo"] = Tensor::from_vector<float>({}, {0.f});
  g.initializers["hi"] = Tensor::from_vector<float>({}, {6.f});
  g.nodes.push_back(make_node("Conv", {"x", "w1"}, {"c1"}));
  g.nodes.push_back(make_node("BatchNormalization", {"c1", "gamma", "beta", "mean", "var"}, {"z"},
                              {{"epsilon", 0.f}}));
  std::string input = "z";
  if (act == "Relu") g.nodes.push_back(make_node("Relu", {"z"}, {input = "a"}));
  if (act == "Clip") g.nodes.push_back(make_node("Clip", {"z", "lo", "hi"}, {input = "a"}));
  // Padded: border taps read zeros (eq. (143)).
  g.nodes.push_back(
      make_node("Conv", {input, "w2", "b2"}, {"y"}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  for (size_t i = 0; i < g.nodes.size(); ++i) g.nodes[i].name = "n" + std::to_string(i);
  return m;
}

// Per output channel, the mean of (quantized − float) over images and positions.
std::vector<double> mean_shift(const Model& quantized, const Model& fp32, const Tensor& x) {
  const Tensor yq = Session(quantized).run({x})[0];
  const Tensor yf = Session(fp32).run({x})[0];
  const int64_t n = yf.dim(0), c = yf.dim(1), hw = yf.numel() / (n * c);
  std::vector<double> shift(c, 0.0);
  for (int64_t i = 0; i < yf.numel(); ++i) {
    shift[i / hw % c] += yq.data<float>()[i] - yf.data<float>()[i];
  }
  for (double& s : shift) s /= static_cast<double>(n * hw);
  return shift;
}

double largest(const std::vector<double>& v) {
  double m = 0.0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

TEST(LowBitAnalyticBias, ExpectedInputsOfNormalizationsAndTheirActivations) {
  const Model m = gaussian_layer_model("Clip");
  const ChannelMeans means = batch_norm_channel_means(m.graph);
  ASSERT_EQ(means.size(), 2u);
  EXPECT_EQ(means.at("z"), (std::vector<double>{0.5, 4.0, -0.5, 1.0}));
  const std::vector<double>& a = means.at("a");
  EXPECT_NEAR(a[1], clipped_normal_mean(4.0, 2.0, 0.0, 6.0), 1e-12);
  EXPECT_NEAR(a[3], clipped_normal_mean(1.0, 1.5, 0.0, 6.0), 1e-12);  // σ = |γ|
  // A bound given at run time: the clipped mean is unknown.
  Model dynamic = m;
  dynamic.graph.initializers.erase("hi");
  dynamic.graph.inputs.push_back("hi");
  dynamic.graph.values["hi"] = ValueInfo{DType::kFloat32, symbolic({}), ""};
  EXPECT_EQ(batch_norm_channel_means(dynamic.graph).count("a"), 0u);
}

class AnalyticBias : public ::testing::TestWithParam<std::string> {};

TEST_P(AnalyticBias, RemovesTheMeanShiftOfFourBitWeights) {
  const Model fp32 = gaussian_layer_model(GetParam());
  const Model prepared = prepare_for_quantization(fp32);
  QuantRecipe recipe;
  recipe.weight_only = true;
  recipe.weight_bits = 4;
  WeightRoundingReport r;
  const Model corrected =
      quantize_bias_corrected_analytic(fp32, prepared, CalibrationTable{}, recipe, nullptr, &r);
  EXPECT_EQ(r.layers, 1);  // the second Conv; the first reads the graph input (a note)
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("does not come from a BatchNormalization"), std::string::npos);
  const Model plain = quantize_static(prepared, CalibrationTable{}, recipe);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  Tensor x = Tensor::empty(DType::kFloat32, {256, 4, 8, 8});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = normal(rng);
  const double before = largest(mean_shift(plain, fp32, x));
  const double after = largest(mean_shift(corrected, fp32, x));
  // The input is exactly the Gaussian eq. (141) assumes, so what remains is sampling noise
  // (about 1% of the shift at this sample count).
  EXPECT_GT(before, 0.02) << "4-bit rounding should shift the mean";
  EXPECT_LT(after, 0.1 * before) << "before " << before << ", after " << after;
}

INSTANTIATE_TEST_SUITE_P(Activations, AnalyticBias, ::testing::Values("Relu", "Clip", "None"));

TEST(LowBitAnalyticBias, AModelWithoutBatchNormalizationIsRefused) {
  const Model fp32 = load_model(testing::test_model("cnn.onnx"));
  QuantRecipe recipe;
  recipe.weight_only = true;
  recipe.weight_bits = 4;
  try {
    quantize_bias_corrected_analytic(fp32, prepare_for_quantization(fp32), CalibrationTable{},
                                     recipe);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("--calib DATA"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quench::quant::lowbit
