// Batch-norm folding simulated during quantization-aware training (qat/bn_simulation.h,
// docs/quantization.md (107)-(109)): the gradients of w, b, γ, β and the LSQ weight scale
// against finite differences, the training forward and running statistics against a plain
// Conv+BatchNormalization, the frozen form against the folded graph, and the exported QDQ model
// against the training graph.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "qat/bn_simulation.h"
#include "qat/placement.h"
#include "qat/qat_source.h"
#include "quench/error.h"
#include "quench/evaluate.h"
#include "quench/model_io.h"
#include "quench/passes.h"
#include "quench/qat.h"
#include "quench/session.h"
#include "train/qat/fake_quantize.h"
#include "train_gradcheck.h"

namespace quench {
namespace {

using train::testing::kFdAbsTol;
using train::testing::kFdRelTol;
using train::testing::random_tensor;
using train::testing::weighted_sum;

constexpr int64_t kChannels = 4;
constexpr float kGradScale = 0.25f;  // the FakeQuantize's LSQ gradient scale g of (100)
// Float32 paths that compute the same function in a different order (w·f then ÷f).
constexpr double kSameFunctionTol = 1e-4;  // relative to the largest magnitude
// The finite-difference step of the surrogate's parameters.
constexpr float kStep = 1e-2f;

void add_initializer(Graph& g, const std::string& name, Tensor t) {
  g.values[name] = ValueInfo{DType::kFloat32, symbolic(t.shape()), ""};
  g.initializers[name] = std::move(t);
}

// x [2, 3, 6, 6] → Conv(W [4, 3, 3, 3], b, pads 1) → BatchNormalization → y.
Model conv_bn(std::mt19937& rng, float momentum, bool with_bias) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  g.values["x"] = ValueInfo{DType::kFloat32, symbolic({2, 3, 6, 6}), ""};
  add_initializer(g, "W", random_tensor({kChannels, 3, 3, 3}, rng, -0.5f, 0.5f));
  Node conv;
  conv.name = "conv";
  conv.op_type = "Conv";
  conv.inputs = {"x", "W"};
  if (with_bias) {
    add_initializer(g, "b", random_tensor({kChannels}, rng, -0.3f, 0.3f));
    conv.inputs.push_back("b");
  }
  conv.outputs = {"c"};
  conv.set_attr("pads", std::vector<int64_t>{1, 1, 1, 1});
  add_initializer(g, "gamma", random_tensor({kChannels}, rng, 0.5f, 1.5f));
  add_initializer(g, "beta", random_tensor({kChannels}, rng, -0.5f, 0.5f));
  add_initializer(g, "mean", random_tensor({kChannels}, rng, -0.2f, 0.2f));
  add_initializer(g, "var", random_tensor({kChannels}, rng, 0.5f, 2.0f));
  Node bn;
  bn.name = "bn";
  bn.op_type = "BatchNormalization";
  bn.inputs = {"c", "gamma", "beta", "mean", "var"};
  bn.outputs = {"y"};
  bn.set_attr("momentum", momentum);
  g.nodes = {conv, bn};
  g.outputs = {"y"};
  g.values["y"] = ValueInfo{DType::kFloat32, std::nullopt, ""};
  return m;
}

// The folded graph of `fp32` with a per-channel 4-bit FakeQuantize on the folded weight (scale
// 1.05 · max|w_c| / qmax: nothing clips), or none.
qat::QatGraph placed(const Model& fp32, bool fake_quantize) {
  const Model prepared = prepare_for_quantization(fp32);
  qat::QatGraph q;
  q.graph = prepared.graph;
  Graph& g = q.graph;
  q.weights = train::default_parameters(g);
  if (!fake_quantize) return q;
  Node& conv = g.nodes.at(0);
  const std::string w = conv.inputs.at(1);
  const Tensor& wt = g.initializers.at(w);
  qat::WeightParams wp;
  wp.spec = train::qat::fake_quant_range(4, true);
  wp.spec.axis = 0;
  wp.spec.grad_scale = kGradScale;
  std::vector<float> scales(kChannels);
  const int64_t per = wt.numel() / kChannels;
  for (int64_t c = 0; c < kChannels; ++c) {
    float mx = 0;
    for (int64_t k = 0; k < per; ++k) mx = std::max(mx, std::fabs(wt.data<float>()[c * per + k]));
    scales[c] = 1.05f * mx / static_cast<float>(wp.spec.qmax);
  }
  wp.scale = "w_scale";
  g.initializers[wp.scale] = Tensor::from_vector<float>({kChannels}, scales);
  q.quant_params.push_back(wp.scale);
  conv.inputs[1] = "w_fq";  // before the node is added (`conv` is a reference into the nodes)
  g.values["w_fq"] = ValueInfo{DType::kFloat32, symbolic(wt.shape()), ""};
  g.nodes.push_back(
      train::qat::make_fake_quantize_node("w_fq_node", w, wp.scale, "", "w_fq", wp.spec));
  q.weight_params[w] = wp;
  topological_sort(g);
  return q;
}

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

double peak(const Tensor& t) {
  double p = 0;
  for (float v : t.values<float>()) p = std::max(p, static_cast<double>(std::fabs(v)));
  return p;
}

void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const double limit = tol * std::max(1.0, peak(b));
  int bad = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    if (std::fabs(a.data<float>()[i] - b.data<float>()[i]) > limit && ++bad <= 3) {
      ADD_FAILURE() << what << "[" << i << "]: " << a.data<float>()[i] << " vs "
                    << b.data<float>()[i];
    }
  }
}

// The gradients of the whole construct, with the weight quantized, against central differences
// of its surrogate: the FakeQuantize replaced by w_fold + s ⊙ r with r = (FQ(w_fold) − w_fold)/s
// held at the base point, whose derivatives are the straight-through (98) and LSQ (99)
// gradients inside the range. The batch norm's momentum is 1 so that its running statistics
// (which (107) reads) stay fixed across the difference quotients.
TEST(QatBnSimulation, GradientsMatchFiniteDifferences) {
  for (bool frozen : {false, true}) {
    for (bool with_bias : {true, false}) {
      std::mt19937 rng(11 + with_bias);
      const Model fp32 = conv_bn(rng, 1.f, with_bias);
      qat::QatGraph q = placed(fp32, true);
      const auto sims = qat::simulate_batch_norm_folding(fp32, q);
      ASSERT_EQ(sims.size(), 1u);
      const std::vector<std::string> params = plus(qat::trained_parameters(q, sims), {"w_scale"});
      EXPECT_EQ(params.size(), with_bias ? 5u : 4u);
      const Tensor x = random_tensor({2, 3, 6, 6}, rng);
      train::Tape tape(q.graph, params);
      tape.set_batch_norm_frozen(frozen);
      tape.forward({{"x", x}});
      const Tensor r = random_tensor(tape.value("y").shape(), rng);
      const auto grads = tape.backward("y", r);

      // The surrogate graph.
      const Node& fq = *std::find_if(q.graph.nodes.begin(), q.graph.nodes.end(),
                                     [](const Node& n) { return n.op_type == "FakeQuantize"; });
      const Tensor& w_fold = tape.value(fq.inputs[0]);
      const Tensor& w_fq = tape.value(fq.outputs[0]);
      const Tensor& s = tape.parameters().at("w_scale");
      Tensor residual = Tensor::empty(DType::kFloat32, w_fold.shape());
      const int64_t per = w_fold.numel() / kChannels;
      for (int64_t i = 0; i < w_fold.numel(); ++i) {
        residual.data<float>()[i] =
            (w_fq.data<float>()[i] - w_fold.data<float>()[i]) / s.data<float>()[i / per];
      }
      Graph g = q.graph;
      g.nodes.erase(std::find_if(g.nodes.begin(), g.nodes.end(),
                                 [](const Node& n) { return n.op_type == "FakeQuantize"; }));
      g.initializers["residual"] = residual;
      g.initializers["s_shape"] = Tensor::from_vector<int64_t>({4}, {kChannels, 1, 1, 1});
      Node reshape, mul, add;
      reshape.name = "s_r";
      reshape.op_type = "Reshape";
      reshape.inputs = {"w_scale", "s_shape"};
      reshape.outputs = {"s_r"};
      mul.name = "s_mul";
      mul.op_type = "Mul";
      mul.inputs = {"s_r", "residual"};
      mul.outputs = {"s_mul"};
      add.name = "surrogate";
      add.op_type = "Add";
      add.inputs = {fq.inputs[0], "s_mul"};
      add.outputs = {fq.outputs[0]};
      g.nodes.insert(g.nodes.end(), {reshape, mul, add});
      topological_sort(g);
      train::Tape surrogate(g, params);
      surrogate.set_batch_norm_frozen(frozen);
      surrogate.forward({{"x", x}});
      expect_close(surrogate.value("y"), tape.value("y"), kSameFunctionTol, "surrogate forward");

      int mismatches = 0;
      for (const std::string& name : params) {
        Tensor& p = surrogate.parameters().at(name);
        const Tensor& analytic = grads.at(name);
        // (100) the tape's scale gradient carries g; the surrogate's does not.
        const double gscale = name == "w_scale" ? kGradScale : 1.0;
        for (int64_t i = 0; i < p.numel(); ++i) {
          float* v = p.data<float>() + i;
          const float saved = *v;
          const float step = name == "w_scale" ? kStep * saved : kStep;
          *v = saved + step;
          const float up = *v;
          surrogate.forward({{"x", x}});
          const double hi = weighted_sum(surrogate.value("y"), r);
          *v = saved - step;
          const float down = *v;
          surrogate.forward({{"x", x}});
          const double lo = weighted_sum(surrogate.value("y"), r);
          *v = saved;
          const double numeric = (hi - lo) / (double{up} - down) * gscale;
          const double a = analytic.data<float>()[i];
          if (std::fabs(numeric - a) > kFdAbsTol + kFdRelTol * std::fabs(numeric) &&
              ++mismatches <= 5) {
            ADD_FAILURE() << (frozen ? "frozen " : "training ") << name << "[" << i
                          << "]: analytic " << a << ", numeric " << numeric;
          }
        }
      }
      EXPECT_EQ(mismatches, 0);
    }
  }
}

// Without quantization the construct is Conv+BatchNormalization in training mode (108): the same
// outputs and the same running statistics after a few steps.
TEST(QatBnSimulation, TrainingForwardAndRunningStatisticsAreBatchNorms) {
  std::mt19937 rng(5);
  const Model fp32 = conv_bn(rng, 0.9f, true);
  qat::QatGraph q = placed(fp32, false);
  const auto sims = qat::simulate_batch_norm_folding(fp32, q);
  ASSERT_EQ(sims.size(), 1u);
  train::Tape simulated(q.graph, qat::trained_parameters(q, sims));
  train::Tape plain(fp32.graph, {"W", "b", "gamma", "beta"});
  for (int step = 0; step < 3; ++step) {
    const Tensor x = random_tensor({2, 3, 6, 6}, rng, -1.f + step, 1.f + step);
    simulated.forward({{"x", x}});
    plain.forward({{"x", x}});
    expect_close(simulated.value("y"), plain.value("y"), kSameFunctionTol, "y");
  }
  for (const char* name : {"mean", "var"}) {
    expect_close(simulated.buffers().at(name), plain.buffers().at(name), kSameFunctionTol, name);
    // The statistics moved from their initial values.
    EXPECT_GT(std::fabs(simulated.buffers().at(name).data<float>()[0] -
                        fp32.graph.initializers.at(name).data<float>()[0]),
              1e-3);
  }
}

// Frozen, the construct is the deployed form (108)-(109): the folded graph with the folded
// weight and bias computed from the trained values computes the same, fake quantizer included.
TEST(QatBnSimulation, FrozenFormIsTheFoldedGraph) {
  std::mt19937 rng(9);
  const Model fp32 = conv_bn(rng, 0.9f, true);
  qat::QatGraph q = placed(fp32, true);
  const qat::QatGraph folded = q;
  const auto sims = qat::simulate_batch_norm_folding(fp32, q);
  train::Tape tape(q.graph, plus(qat::trained_parameters(q, sims), q.quant_params));
  const Tensor x = random_tensor({2, 3, 6, 6}, rng);
  tape.forward({{"x", x}});  // moves the running statistics
  for (auto& [name, p] : tape.parameters()) {
    if (name != "w_scale") p = random_tensor(p.shape(), rng, 0.5f, 1.5f);
  }
  tape.set_batch_norm_frozen(true);
  tape.forward({{"x", x}});
  std::map<std::string, Tensor> values;
  qat::fold_simulated(sims, tape.parameters(), tape.buffers(), values);
  Graph g = folded.graph;
  for (auto& [name, t] : values) g.initializers[name] = t;
  train::Tape reference(g, {});
  reference.forward({{"x", x}}, false);
  expect_close(tape.value("y"), reference.value("y"), kSameFunctionTol, "frozen vs folded");
}

// cnn with a batch norm after each Conv (near the identity, random), so that the preparation has
// something to fold.
Model cnn_with_batch_norms(std::mt19937& rng) {
  Model m = load_model(std::string(QUENCH_TEST_MODELS) + "/cnn.onnx");
  Graph& g = m.graph;
  std::vector<Node> added;
  for (Node& n : g.nodes) {
    if (n.op_type != "Conv") continue;
    const int64_t c = g.initializers.at(n.inputs[1]).dim(0);
    const std::string out = n.outputs[0];
    n.outputs[0] = out + "_prebn";
    Node bn;
    bn.name = n.name + "_bn";
    bn.op_type = "BatchNormalization";
    bn.inputs = {n.outputs[0]};
    const std::pair<float, float> ranges[] = {
        {0.8f, 1.2f}, {-0.1f, 0.1f}, {-0.1f, 0.1f}, {0.8f, 1.2f}};
    for (int i = 0; i < 4; ++i) {
      const std::string name = bn.name + "_p" + std::to_string(i);
      g.initializers[name] = random_tensor({c}, rng, ranges[i].first, ranges[i].second);
      bn.inputs.push_back(name);
    }
    bn.outputs = {out};
    added.push_back(bn);
  }
  g.nodes.insert(g.nodes.end(), added.begin(), added.end());
  topological_sort(g);
  return m;
}

// quench's Session on the exported QDQ model (BN folded, (109)) against the training graph in
// frozen mode, after the running statistics and the batch-norm parameters moved. The two differ
// where the runtime computes in integers what training computes in float, and by the int32 bias,
// as in QatCnn.TrainingGraphAndExportAgree (qat_test.cc), whose tolerance this takes.
constexpr double kLogitTol = 0.05;  // relative to the largest logit magnitude
TEST(QatBnSimulation, ExportAgreesWithFrozenTrainingGraph) {
  std::mt19937 rng(3);
  const Model fp32 = cnn_with_batch_norms(rng);
  const Model prepared = prepare_for_quantization(fp32);
  DataOptions d;
  d.limit = 64;
  auto data = open_dataset("fmnist:test", d);
  QuantRecipe recipe;
  recipe.weight_bits = 4;
  const quant::QuantPlan plan = quant::plan_quantization(prepared.graph, recipe);
  CalibrateOptions co;
  co.calib_size = 64;
  co.progress = false;
  const CalibrationTable table = calibrate(prepared, *data, recipe, co);
  const quant::CalibratedSource ptq(table, recipe);
  qat::QatGraph q = qat::place_fake_quantization(prepared.graph, plan, ptq, 8, {});
  const auto sims = qat::simulate_batch_norm_folding(fp32, q);
  ASSERT_EQ(sims.size(), 5u);
  for (const Node& n : q.graph.nodes) {
    if (n.op_type == "Conv") {
      EXPECT_EQ(n.inputs.size(), 2u) << n.name;  // the bias comes after the rescale
    }
  }
  train::Tape tape(q.graph, plus(qat::trained_parameters(q, sims), q.quant_params));
  const Batch batch = data->batch(0, 64);
  const std::string input = prepared.graph.inputs[0];
  tape.forward({{input, batch.images()}});  // training: the running statistics move
  for (const qat::SimulatedBn& s : sims) {
    for (const std::string& name : {s.gamma, s.beta}) {
      for (float& v : tape.parameters().at(name).values<float>()) {
        v *= std::uniform_real_distribution<float>(0.9f, 1.1f)(rng);
      }
    }
  }
  tape.set_batch_norm_frozen(true);
  tape.forward({{input, batch.images()}});
  const Tensor& trained = tape.value(prepared.graph.outputs[0]);

  std::map<std::string, Tensor> values;
  for (const std::string& name : q.quant_params) values[name] = q.graph.initializers.at(name);
  for (const auto& [name, p] : tape.parameters()) values[name] = p;
  qat::fold_simulated(sims, tape.parameters(), tape.buffers(), values);
  Model m = prepared;
  for (const std::string& name : q.weights) m.graph.initializers[name] = values.at(name);
  QuantizeReport report;
  Model out = quant::write_qdq(m, plan, qat::QatSource(ptq, q, values), recipe, report);
  topological_sort(out.graph);
  for (const Node& n : out.graph.nodes) EXPECT_NE(n.op_type, "BatchNormalization");
  Session session(out);
  const Tensor exported = session.run({batch.images()}).at(0);
  ASSERT_EQ(trained.shape(), exported.shape());
  float top = 0, worst = 0;
  int agree = 0;
  const int64_t classes = trained.dim(1);
  for (int64_t b = 0; b < trained.dim(0); ++b) {
    const float* t = trained.data<float>() + b * classes;
    const float* e = exported.data<float>() + b * classes;
    for (int64_t c = 0; c < classes; ++c) {
      top = std::max(top, std::fabs(t[c]));
      worst = std::max(worst, std::fabs(t[c] - e[c]));
    }
    agree += std::max_element(t, t + classes) - t == std::max_element(e, e + classes) - e;
  }
  EXPECT_LE(worst, kLogitTol * top) << "largest logit " << top;
  EXPECT_GE(agree, 62) << "of 64";
}

// quantization_aware_training end to end in both modes on the cnn with batch norms, frozen
// half way: the batch norms are folded in the output, which is the model validated, and the two
// modes train different models from the same start.
TEST(QatBnSimulation, ShortRunInBothModesWritesFoldedModels) {
  std::mt19937 rng(4);
  const Model fp32 = cnn_with_batch_norms(rng);
  DataOptions d;
  d.limit = 128;
  auto train = open_dataset("fmnist:train", d);
  auto val = open_dataset("fmnist:test", d);
  std::map<std::string, Tensor> weights[2];
  for (int mode = 0; mode < 2; ++mode) {
    QatOptions o;
    o.weight_bits = 4;
    o.bn_fold = mode == 0 ? "simulate" : "fold";
    o.train.steps = 4;
    o.train.batch = 16;
    o.train.lr = 1e-3f;
    o.train.optimizer = "adamw";
    o.train.weight_decay = 0;
    o.train.freeze_bn_after = 2;
    o.train.progress = false;
    o.calib.calib_size = 64;
    o.calib.progress = false;
    const QatResult r = quantization_aware_training(fp32, *train, *train, val.get(), {}, o);
    for (const Node& n : r.model.graph.nodes) EXPECT_NE(n.op_type, "BatchNormalization");
    Session session(r.model);
    EvalOptions eo;
    eo.progress = false;
    EXPECT_DOUBLE_EQ(evaluate_accuracy(session, *val, eo).accuracy, r.epochs.at(0).val_accuracy)
        << o.bn_fold;
    EXPECT_GE(r.ptq_accuracy, 0.5) << o.bn_fold;
    for (const auto& [name, t] : r.model.graph.initializers) {
      if (t.dtype() == DType::kInt8 && t.rank() == 4) weights[mode][name] = t;
    }
  }
  ASSERT_EQ(weights[0].size(), 5u);
  int differ = 0;
  for (const auto& [name, t] : weights[0]) {
    const Tensor& other = weights[1].at(name);
    differ += !std::equal(t.data<int8_t>(), t.data<int8_t>() + t.numel(), other.data<int8_t>());
  }
  EXPECT_GT(differ, 0);
}

TEST(QatBnSimulation, BadModeIsRefused) {
  std::mt19937 rng(1);
  const Model fp32 = conv_bn(rng, 0.9f, true);
  QatOptions o;
  o.bn_fold = "fuse";
  DataOptions d;
  d.limit = 8;
  auto data = open_dataset("fmnist:test", d);
  try {
    quantization_aware_training(fp32, *data, *data, nullptr, {}, o);
    ADD_FAILURE() << "--bn-fold fuse accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--bn-fold"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quench
