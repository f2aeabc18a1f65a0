// quench compare: the streaming statistics, the matching of B's tensors to A's (QDQ, QOperator,
// dynamic, by name), and the refusals.
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "eval/error_stats.h"
#include "quench/compare.h"
#include "quench/model_io.h"
#include "quench/quantize.h"
#include "test_util.h"

namespace quench {
namespace {

// Named tolerance: the statistics are double sums of float products.
constexpr double kStatsTol = 1e-9;

std::unique_ptr<Dataset> test_images(int64_t n) {
  DataOptions o;
  o.limit = n;
  return open_dataset("fmnist:test", o);
}

CompareOptions quiet() {
  CompareOptions o;
  o.progress = false;
  o.batch = 16;
  return o;
}

const Model& cnn() {
  static const Model m = load_model(testing::test_model("cnn.onnx"));
  return m;
}

TEST(ErrorStats, MatchesTheDefinitionsAndStreams) {
  const std::vector<float> a = {1, -2, 3, 0.5f, 4, -1};
  const std::vector<float> b = {1.1f, -2, 2.5f, 0.5f, 4.25f, -0.75f};
  double aa = 0, bb = 0, ab = 0, noise = 0, max_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = a[i], y = b[i];
    aa += x * x, bb += y * y, ab += x * y, noise += (x - y) * (x - y);
    max_abs = std::max(max_abs, std::abs(x - y));
  }
  ErrorStats whole, parts;
  whole.add(a.data(), b.data(), 6);
  parts.add(a.data(), b.data(), 2);  // the same elements in two batches
  parts.add(a.data() + 2, b.data() + 2, 4);
  TensorComparison w, p;
  whole.finish(w);
  parts.finish(p);
  EXPECT_NEAR(w.sqnr_db, 10 * std::log10(aa / noise), kStatsTol);
  EXPECT_NEAR(w.cosine, ab / std::sqrt(aa * bb), kStatsTol);
  EXPECT_NEAR(w.mse, noise / 6, kStatsTol);
  EXPECT_DOUBLE_EQ(w.max_abs, max_abs);
  EXPECT_EQ(w.elements, 6);
  EXPECT_NEAR(p.sqnr_db, w.sqnr_db, kStatsTol);
  EXPECT_NEAR(p.cosine, w.cosine, kStatsTol);
  EXPECT_NEAR(p.mse, w.mse, kStatsTol);
  EXPECT_DOUBLE_EQ(p.max_abs, w.max_abs);
}

// Long enough for the eight-lane loop and a tail: the same sums as the definitions, in any order.
TEST(ErrorStats, VectorLoopMatchesTheDefinitions) {
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.f, 3.f);
  for (const int64_t n : {int64_t{8}, int64_t{1003}, int64_t{4096}}) {
    std::vector<float> a(n), b(n);
    double aa = 0, bb = 0, ab = 0, noise = 0, max_abs = 0;
    for (int64_t i = 0; i < n; ++i) {
      a[i] = d(rng);
      b[i] = a[i] + 0.1f * d(rng);
      const double x = a[i], y = b[i];
      aa += x * x, bb += y * y, ab += x * y, noise += (x - y) * (x - y);
      max_abs = std::max(max_abs, std::abs(x - y));
    }
    ErrorStats s;
    s.add(a.data(), b.data(), n);
    TensorComparison c;
    s.finish(c);
    EXPECT_NEAR(c.sqnr_db, 10 * std::log10(aa / noise), kStatsTol) << n;
    EXPECT_NEAR(c.cosine, ab / std::sqrt(aa * bb), kStatsTol) << n;
    EXPECT_NEAR(c.mse, noise / static_cast<double>(n), kStatsTol) << n;
    EXPECT_DOUBLE_EQ(c.max_abs, max_abs) << n;
    EXPECT_EQ(c.elements, n);
  }
}

TEST(ErrorStats, EdgeCases) {
  const std::vector<float> x = {1, 2}, zeros = {0, 0};
  TensorComparison c;
  ErrorStats same;
  same.add(x.data(), x.data(), 2);
  same.finish(c);
  EXPECT_EQ(c.sqnr_db, std::numeric_limits<double>::infinity());
  EXPECT_DOUBLE_EQ(c.cosine, 1);
  ErrorStats both_zero;
  both_zero.add(zeros.data(), zeros.data(), 2);
  both_zero.finish(c);
  EXPECT_DOUBLE_EQ(c.cosine, 1);
  ErrorStats zero_signal;
  zero_signal.add(zeros.data(), x.data(), 2);
  zero_signal.finish(c);
  EXPECT_EQ(c.sqnr_db, -std::numeric_limits<double>::infinity());
  EXPECT_DOUBLE_EQ(c.cosine, 0);
}

TEST(Compare, AModelAgainstItselfIsExact) {
  const auto data = test_images(24);
  const CompareResult r = compare_models(cnn(), cnn(), *data, quiet());
  EXPECT_EQ(r.n, 24);
  ASSERT_FALSE(r.tensors.empty());
  for (const TensorComparison& t : r.tensors) {
    EXPECT_EQ(t.name, t.b_name);
    EXPECT_EQ(t.sqnr_db, std::numeric_limits<double>::infinity()) << t.name;
    EXPECT_EQ(t.mse, 0) << t.name;
  }
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.outputs[0].top1_agreement, 1);
  ASSERT_TRUE(r.has_labels);
  EXPECT_EQ(r.accuracy_a, r.accuracy_b);
}

// Every row of a quantized model: finite, ordered worst first, and matched to A's tensor.
void expect_quantized_rows(const CompareResult& r, size_t at_least) {
  EXPECT_GE(r.tensors.size(), at_least);
  for (size_t i = 0; i < r.tensors.size(); ++i) {
    const TensorComparison& t = r.tensors[i];
    if (i > 0) {
      EXPECT_LE(r.tensors[i - 1].sqnr_db, t.sqnr_db);
    }
    EXPECT_GT(t.cosine, 0.99) << t.name << " as " << t.b_name;
    EXPECT_GT(t.sqnr_db, 20) << t.name << " as " << t.b_name;
    EXPECT_GT(t.elements, 0);
  }
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_GT(r.outputs[0].top1_agreement, 0.9);
  EXPECT_LT(r.outputs[0].sqnr_db, std::numeric_limits<double>::infinity());
}

TEST(Compare, QuenchQdqModel) {
  const auto data = test_images(48);
  const Model prepared = prepare_for_quantization(cnn());
  CalibrateOptions co;
  co.calib_size = 32;
  co.progress = false;
  const QuantRecipe recipe;
  const Model q = quantize_static(prepared, calibrate(prepared, *data, recipe, co), recipe);
  CompareOptions options = quiet();
  options.histogram_bins = 32;
  const CompareResult r = compare_models(cnn(), q, *data, options);
  expect_quantized_rows(r, 10);
  // Each histogram counts every element once; B's calibrated range holds zero.
  int with_range = 0;
  for (const TensorComparison& t : r.tensors) {
    ASSERT_EQ(t.histogram.counts.size(), 32u) << t.name;
    const int64_t total =
        std::accumulate(t.histogram.counts.begin(), t.histogram.counts.end(), int64_t{0});
    EXPECT_EQ(total + t.histogram.below + t.histogram.above, t.elements) << t.name;
    if (t.has_range) {
      ++with_range;
      EXPECT_LE(t.range_lo, 0) << t.name;
      EXPECT_GT(t.range_hi, 0) << t.name;
    }
  }
  EXPECT_GE(with_range, 8);
  // The quantized activations are seen through their DequantizeLinear.
  int dequantized = 0;
  for (const TensorComparison& t : r.tensors) dequantized += t.b_name != t.name;
  EXPECT_GE(dequantized, 8);
}

TEST(Compare, OnnxRuntimeQOperatorMatchesItsQdqForm) {
  // The same quantization in two forms: QOperator tensors (8-bit, fused Relu) must be matched
  // to the same float tensors, with the same error, as the QDQ form's DequantizeLinear outputs.
  const auto data = test_images(32);
  const CompareResult qdq = compare_models(
      cnn(), load_model(testing::test_model("ort/cnn.ort_qdq.onnx")), *data, quiet());
  const CompareResult qop = compare_models(
      cnn(), load_model(testing::test_model("ort/cnn.ort_qoperator.onnx")), *data, quiet());
  expect_quantized_rows(qop, 10);
  std::map<std::string, double> qdq_db;
  for (const TensorComparison& t : qdq.tensors) qdq_db[t.name] = t.sqnr_db;
  for (const TensorComparison& t : qop.tensors) {
    ASSERT_TRUE(qdq_db.count(t.name)) << t.name;
    if (std::isinf(t.sqnr_db)) {  // the float ops before the first QuantizeLinear
      EXPECT_EQ(t.sqnr_db, qdq_db[t.name]) << t.name;
    } else {
      // The integer kernels round where the float QDQ graph does not: within 1 dB.
      EXPECT_NEAR(t.sqnr_db, qdq_db[t.name], 1.0) << t.name;
    }
  }
}

TEST(Compare, DynamicModelByName) {
  const auto data = test_images(32);
  const CompareResult r = compare_models(
      cnn(), load_model(testing::test_model("ort/cnn.ort_dynamic.onnx")), *data, quiet());
  expect_quantized_rows(r, 10);
}

TEST(Compare, UnrelatedModelsShareOnlyOutputs) {
  const auto data = test_images(16);
  const CompareResult r =
      compare_models(cnn(), load_model(testing::test_model("resnet20.onnx")), *data, quiet());
  EXPECT_TRUE(r.tensors.empty());
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_GE(r.outputs[0].top1_agreement, 0);
}

TEST(Compare, DifferentInputsAreRefused) {
  Model other;
  other.graph.opsets[""] = 17;
  other.graph.inputs = {"x"};
  other.graph.outputs = {"y"};
  other.graph.values["x"] = {DType::kFloat32, SymbolicShape{Dim("N"), Dim(10)}, ""};
  other.graph.values["y"] = {DType::kFloat32, SymbolicShape{Dim("N"), Dim(10)}, ""};
  other.graph.nodes.push_back(testing::make_node("Relu", {"x"}, {"y"}));
  const auto data = test_images(4);
  try {
    compare_models(cnn(), other, *data, quiet());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("inputs differ"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[N,10]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quench
