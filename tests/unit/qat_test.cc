// Quantization-aware training (quench/qat.h): the distillation gradient against finite
// differences, the trained graph against its exported QDQ model, the exported weights' ranges,
// and refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "qat/placement.h"
#include "qat/qat_source.h"
#include "quench/error.h"
#include "quench/evaluate.h"
#include "quench/model_io.h"
#include "quench/passes.h"
#include "quench/qat.h"
#include "quench/session.h"
#include "train/loss.h"
#include "train/tape.h"
#include "train_gradcheck.h"

namespace quench {
namespace {

using train::testing::random_tensor;

constexpr double kLossFdStep = 1e-3;
constexpr double kLossFdTol = 1e-4;

TEST(Distillation, GradientMatchesFiniteDifferences) {
  std::mt19937 rng(7);
  Tensor s = random_tensor({3, 5}, rng, -3.f, 3.f);
  const Tensor t = random_tensor({3, 5}, rng, -3.f, 3.f);
  const std::vector<int64_t> labels = {0, 4, 2};
  for (float alpha : {0.f, 0.3f, 1.f}) {
    const auto r = train::distillation_loss(s, t, labels, 2.5f, alpha);
    for (int64_t i = 0; i < s.numel(); ++i) {
      float& v = s.data<float>()[i];
      const float saved = v;
      v = static_cast<float>(saved + kLossFdStep);
      const double plus = train::distillation_loss(s, t, labels, 2.5f, alpha).loss;
      const float up = v;
      v = static_cast<float>(saved - kLossFdStep);
      const double minus = train::distillation_loss(s, t, labels, 2.5f, alpha).loss;
      const float down = v;
      v = saved;
      const double fd = (plus - minus) / (double{up} - down);
      EXPECT_NEAR(r.grad.data<float>()[i], fd, kLossFdTol) << "alpha " << alpha << ", " << i;
    }
  }
}

TEST(Distillation, SoftTermVanishesWhenTheStudentIsTheTeacher) {
  std::mt19937 rng(8);
  const Tensor z = random_tensor({4, 6}, rng, -2.f, 2.f);
  const std::vector<int64_t> labels = {1, 2, 3, 4};
  const auto kd = train::distillation_loss(z, z, labels, 3.f, 1.f);
  EXPECT_NEAR(kd.loss, 0.0, 1e-9);
  for (float g : kd.grad.values<float>()) EXPECT_NEAR(g, 0.f, 1e-7f);
  const auto ce = train::softmax_cross_entropy(z, labels);
  EXPECT_NEAR(train::distillation_loss(z, z, labels, 3.f, 0.f).loss, ce.loss, 1e-12);
  EXPECT_THROW(train::distillation_loss(z, z, labels, 0.f, 0.5f), Error);
}

TEST(Qat, BitsAreParsed) {
  EXPECT_EQ(parse_qat_bits("w4a8"), std::make_pair(4, 8));
  EXPECT_EQ(parse_qat_bits("w2a8"), std::make_pair(2, 8));
  EXPECT_THROW(parse_qat_bits("w1a8"), Error);
  EXPECT_THROW(parse_qat_bits("w4a9"), Error);
  EXPECT_THROW(parse_qat_bits("w4a8x"), Error);
  EXPECT_THROW(parse_qat_bits("4/8"), Error);
}

class QatCnn : public ::testing::Test {
 protected:
  static std::unique_ptr<Dataset> fmnist(const char* split, int64_t limit) {
    DataOptions d;
    d.limit = limit;
    return open_dataset(split, d);
  }
  // The cnn prepared for 4-bit weights, its plan and ranges from 64 test images.
  struct Calibrated {
    Model prepared;
    QuantRecipe recipe;
    quant::QuantPlan plan;
    CalibrationTable table;
  };
  static Calibrated calibrated_cnn(CalibrationMethod method = CalibrationMethod::kMinMax,
                                   const char* model = "cnn.onnx") {
    Calibrated c;
    c.prepared =
        prepare_for_quantization(load_model(std::string(QUENCH_TEST_MODELS) + "/" + model));
    c.recipe.weight_bits = 4;
    c.plan = quant::plan_quantization(c.prepared.graph, c.recipe);
    CalibrateOptions co;
    co.calib_size = 64;
    co.progress = false;
    co.observer.method = method;
    c.table = calibrate(c.prepared, *fmnist("fmnist:test", 64), c.recipe, co);
    return c;
  }
  // The placed training graph, its exported QDQ model and their logits on 64 test images, at 8-
  // and 4-bit activations (below).
  static void expect_training_graph_and_export_agree(const Calibrated& c, bool matmul_biases);
  static QatOptions short_run(int w, int a) {
    QatOptions o;
    o.weight_bits = w;
    o.activation_bits = a;
    o.train.steps = 6;
    o.train.batch = 16;
    o.train.lr = 1e-4f;
    o.train.optimizer = "adamw";
    o.train.weight_decay = 0;
    o.train.progress = false;
    o.calib.calib_size = 64;
    o.calib.progress = false;
    return o;
  }
};

// A short run end to end: the PTQ start and the epoch validated through the exported model, which
// is the model returned; weights below 8 bits stored in range.
TEST_F(QatCnn, ShortRunExportsALowBitQdqModel) {
  const Model fp32 = load_model(std::string(QUENCH_TEST_MODELS) + "/cnn.onnx");
  auto train = fmnist("fmnist:train", 256);
  auto val = fmnist("fmnist:test", 256);
  for (auto [w, a] : {std::pair{4, 8}, std::pair{4, 4}}) {
    QatOptions o = short_run(w, a);
    const QatResult r = quantization_aware_training(fp32, *train, *train, val.get(), {}, o);
    ASSERT_EQ(r.epochs.size(), 1u);
    EXPECT_GE(r.ptq_accuracy, 0.5) << "w" << w << "a" << a;
    // The epoch's validation ran on the exported model; the returned model is that model.
    Session session(r.model);
    EvalOptions eo;
    eo.progress = false;
    const double acc = evaluate_accuracy(session, *val, eo).accuracy;
    EXPECT_DOUBLE_EQ(acc, r.epochs[0].val_accuracy);
    EXPECT_GT(r.report.quantized_nodes, 0);
    // Weights below 8 bits: int8 values inside [-(2^(w-1)-1), 2^(w-1)-1] except the 8-bit ends.
    int low = 0;
    for (const auto& [name, t] : r.model.graph.initializers) {
      if (t.dtype() != DType::kInt8 || t.rank() < 2) continue;
      const auto [mn, mx] = std::minmax_element(t.data<int8_t>(), t.data<int8_t>() + t.numel());
      if (*mx <= 7 && *mn >= -7) ++low;
    }
    EXPECT_GE(low, 1) << "no weight at 4 bits";
    int clips = 0;
    for (const Node& n : r.model.graph.nodes) clips += n.op_type == "Clip";
    if (a < 8) {
      EXPECT_GT(clips, 0);
    }
  }
}

// The exported QDQ model computes what the fake-quantized training graph computes: same
// placement, same rounding. The two differ only where the runtime computes in integers what
// training computes in float on the same dequantized values, and by the int32 bias.
constexpr double kLogitTol = 0.01;  // relative to the largest logit magnitude
// The vit lowers more units to integer kernels (softmax, layer norm, GELU tables, the attention
// products of two activations), each a rounding step away from training's float.
constexpr double kVitLogitTol = 0.02;
// The exported QDQ model run by the reference interpreter (the same float operations on the same
// dequantized values as training, in the order ONNX Runtime computes a QDQ file) against training.
constexpr double kReferenceLogitTol = 1e-5;

// Largest |a − b| over the largest |a| of two [batch, classes] logit tensors, and how many rows
// have the same top-1.
std::pair<double, int> logit_gap(const Tensor& a, const Tensor& b) {
  double peak = 1e-12, worst = 0;
  int agree = 0;
  const int64_t classes = a.dim(1);
  for (int64_t r = 0; r < a.dim(0); ++r) {
    const float* t = a.data<float>() + r * classes;
    const float* e = b.data<float>() + r * classes;
    for (int64_t c = 0; c < classes; ++c) {
      peak = std::max(peak, static_cast<double>(std::fabs(t[c])));
      worst = std::max(worst, static_cast<double>(std::fabs(t[c] - e[c])));
    }
    agree += std::max_element(t, t + classes) - t == std::max_element(e, e + classes) - e;
  }
  return {worst / peak, agree};
}
// The same for the vit, whose linear layers are MatMul + Add units: the Add's bias is
// fake-quantized in training and exported as an int32 at the accumulator's scales (without,
// the runtime rounded the float bias the exported file kept and differed from training and
// from ONNX Runtime at 4-bit activations), and whose positional embedding is a constant
// operand, exported on training's 16-level grid (it was exported at 8 bits).
TEST_F(QatCnn, TrainingGraphAndExportAgree) {
  expect_training_graph_and_export_agree(calibrated_cnn(), false);
}

TEST_F(QatCnn, TrainingGraphAndExportAgreeWithMatMulBiases) {
  expect_training_graph_and_export_agree(calibrated_cnn(CalibrationMethod::kMinMax, "vit.onnx"),
                                         true);
}

void QatCnn::expect_training_graph_and_export_agree(const Calibrated& c, bool matmul_biases) {
  const Model& prepared = c.prepared;
  const QuantRecipe& recipe = c.recipe;
  const quant::QuantPlan& plan = c.plan;
  auto data = fmnist("fmnist:test", 64);
  const quant::CalibratedSource ptq(c.table, recipe);
  // 4-bit activations export as a Clip before the 8-bit QuantizeLinear.
  for (int abits : {8, 4}) {
    const qat::QatGraph q = qat::place_fake_quantization(prepared.graph, plan, ptq, abits, {});
    int fq = 0, biases = 0, with_bias = 0;
    for (const Node& n : q.graph.nodes) {
      fq += n.op_type == "FakeQuantize";
      biases += n.op_type == "FakeQuantize" && n.attr_int("scale_gradient", 1) == 0;
    }
    int on_adds = 0;
    for (const quant::NodeQuant& nq : plan.nodes) {
      with_bias += nq.bias_input >= 0 || nq.bias_node >= 0;
      on_adds += nq.bias_node >= 0;
    }
    // One per quantized activation, weight and int32 bias (every layer has a bias).
    EXPECT_EQ(biases, with_bias);
    EXPECT_GT(biases, 0);
    EXPECT_EQ(on_adds > 0, matmul_biases);
    EXPECT_EQ(fq, static_cast<int>(plan.activations.size() + q.weight_params.size()) + biases);
    train::Tape tape(q.graph, q.quant_params);
    std::map<std::string, Tensor> values;
    for (const std::string& name : q.quant_params) values[name] = q.graph.initializers.at(name);
    QuantizeReport report;
    Model out = quant::write_qdq(prepared, plan, qat::QatSource(ptq, q, values), recipe, report);
    qat::clip_narrow_activations(out, q, values, plan);
    topological_sort(out.graph);
    // Every bias an int32 behind a DequantizeLinear, none left in float.
    int int32_biases = 0;
    for (const Node& n : out.graph.nodes) {
      const Tensor* t =
          n.op_type == "DequantizeLinear" ? out.graph.initializer(n.input(0)) : nullptr;
      int32_biases += t != nullptr && t->dtype() == DType::kInt32;
    }
    EXPECT_EQ(int32_biases, with_bias);
    Session session(out);
    const Batch batch = data->batch(0, 64);
    tape.forward({{prepared.graph.inputs[0], batch.images()}}, false);
    const Tensor& trained = tape.value(prepared.graph.outputs[0]);
    // The file's own semantics first: the same function as training.
    train::Tape reference(out.graph, {});
    reference.forward({{prepared.graph.inputs[0], batch.images()}}, false);
    const auto [reference_gap, reference_agree] =
        logit_gap(trained, reference.value(prepared.graph.outputs[0]));
    EXPECT_LE(reference_gap, kReferenceLogitTol) << abits << "-bit activations";
    EXPECT_EQ(reference_agree, 64) << abits << "-bit activations";
    // Then quench's integer kernels on it.
    const Tensor exported = session.run({batch.images()}).at(0);
    ASSERT_EQ(trained.shape(), exported.shape());
    const auto [gap, agree] = logit_gap(trained, exported);
    EXPECT_LE(gap, matmul_biases ? kVitLogitTol : kLogitTol) << abits << "-bit activations";
    EXPECT_GE(agree, 63) << "of 64, " << abits << "-bit activations";
  }
}

// Activations below 8 bits start from the narrow source (ranges selected for their grid), the
// 8-bit ones from the table's: placing with both equals placing each width from its own source.
TEST_F(QatCnn, NarrowActivationsStartFromRangesForTheirGrid) {
  const Calibrated c = calibrated_cnn(CalibrationMethod::kMse);
  const Model& prepared = c.prepared;
  const quant::QuantPlan& plan = c.plan;
  const quant::CalibratedSource ptq(c.table, c.recipe), narrow(c.table, c.recipe, 16);
  std::string first;  // the first calibrated activation, kept at 8 bits below
  for (const auto& [value, a] : plan.activations) {
    if (!a.constant) {
      first = a.params_from;
      break;
    }
  }
  const std::set<std::string> eight = {first};
  const qat::QatGraph both =
      qat::place_fake_quantization(prepared.graph, plan, ptq, 4, eight, &narrow);
  const qat::QatGraph wide = qat::place_fake_quantization(prepared.graph, plan, ptq, 4, eight);
  const qat::QatGraph only_narrow =
      qat::place_fake_quantization(prepared.graph, plan, narrow, 4, eight);
  auto scale = [](const qat::QatGraph& q, const std::string& key) {
    return q.graph.initializers.at(q.activations.at(key).scale).data<float>()[0];
  };
  int differ = 0;
  for (const auto& [key, params] : both.activations) {
    if (params.spec.qmax == 255 || params.spec.qmax == 127) {
      EXPECT_EQ(scale(both, key), scale(wide, key)) << key;
    } else {
      EXPECT_EQ(scale(both, key), scale(only_narrow, key)) << key;
      differ += scale(both, key) != scale(wide, key);
    }
  }
  EXPECT_EQ(both.activations.at(first).spec.qmax, 255);
  EXPECT_GT(differ, 0) << "no 4-bit activation's range changed with its grid";
}

TEST_F(QatCnn, RefusesBadOptionsBeforeTraining) {
  const Model fp32 = load_model(std::string(QUENCH_TEST_MODELS) + "/cnn.onnx");
  auto train = fmnist("fmnist:train", 64);
  QatOptions o = short_run(9, 8);
  EXPECT_THROW(quantization_aware_training(fp32, *train, *train, nullptr, {}, o), Error);
  o = short_run(4, 8);
  QuantRecipe weight_only;
  weight_only.weight_only = true;
  EXPECT_THROW(quantization_aware_training(fp32, *train, *train, nullptr, weight_only, o), Error);
  o.temperature = 0;
  EXPECT_THROW(quantization_aware_training(fp32, *train, *train, nullptr, {}, o), Error);
}

}  // namespace
}  // namespace quench
