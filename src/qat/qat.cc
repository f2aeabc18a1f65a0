// quantization_aware_training(): PTQ start, fake quantization in the training tape, the shared
// training loop with distillation, and export through the QDQ writer.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/check.h"
#include "qat/bn_simulation.h"
#include "qat/placement.h"
#include "qat/qat_source.h"
#include "quant/int4_storage.h"
#include "quench/evaluate.h"
#include "quench/passes.h"
#include "quench/qat.h"
#include "quench/session.h"
#include "train/loop.h"

namespace quench {

std::pair<int, int> parse_qat_bits(const std::string& text) {
  int w = 0, a = 0;
  char tail = 0;
  const bool ok = std::sscanf(text.c_str(), "w%da%d%c", &w, &a, &tail) == 2;
  QUENCH_CHECK(ok && w >= 2 && w <= 8 && a >= 2 && a <= 8, ErrorKind::kInvalidArgument,
               "--bits expects wNaM with N and M from 2 to 8 (w8a8, w4a8, w4a4, w2a8), got '{}'",
               text);
  return {w, a};
}

namespace {

// The first and last quantized nodes keep 8-bit weights (unless the recipe sets theirs) and
// 8-bit input and output activations.
std::set<std::string> keep_ends(const Model& prepared, QuantRecipe& recipe) {
  const quant::QuantPlan plan = quant::plan_quantization(prepared.graph, recipe);
  std::vector<size_t> quantized;
  for (size_t i = 0; i < plan.quantized.size(); ++i) {
    if (plan.quantized[i]) quantized.push_back(i);
  }
  std::set<std::string> eight;
  if (quantized.empty()) return eight;
  const Node& first = prepared.graph.nodes[quantized.front()];
  const Node& last = prepared.graph.nodes[quantized.back()];
  for (const Node* n : {&first, &last}) {
    if (!recipe.node_weight_bits.count(n->name)) recipe.node_weight_bits[n->name] = 8;
  }
  for (const std::string& in : first.inputs) eight.insert(in);
  for (const std::string& out : last.outputs) eight.insert(out);
  return eight;
}

}  // namespace

QatResult quantization_aware_training(const Model& model, const Dataset& train_data,
                                      const Dataset& calib_data, const Dataset* val,
                                      const QuantRecipe& recipe_in, const QatOptions& o) {
  check_train_options(o.train);
  QUENCH_CHECK(
      o.weight_bits >= 2 && o.weight_bits <= 8 && o.activation_bits >= 2 && o.activation_bits <= 8,
      ErrorKind::kInvalidArgument,
      "quantization-aware training takes 2 to 8 bits, got weights {} and activations {}",
      o.weight_bits, o.activation_bits);
  QUENCH_CHECK(!recipe_in.weight_only, ErrorKind::kUnsupported,
               "quantization-aware training writes static QDQ models; a weight-only recipe is not "
               "supported");
  QUENCH_CHECK(!o.distill || (o.temperature > 0 && o.distill_weight >= 0 && o.distill_weight <= 1),
               ErrorKind::kInvalidArgument,
               "distillation needs a temperature > 0 and a weight in [0, 1], got {} and {}",
               o.temperature, o.distill_weight);
  QUENCH_CHECK(o.bn_fold == "simulate" || o.bn_fold == "fold", ErrorKind::kInvalidArgument,
               "--bn-fold expects simulate or fold, got '{}'", o.bn_fold);
  QUENCH_CHECK(!o.int4_storage || o.weight_bits <= 4, ErrorKind::kInvalidArgument,
               "--int4-storage stores 4-bit weights as ONNX INT4; it needs weights of 4 bits or "
               "fewer, got {}",
               o.weight_bits);
  if (o.int4_storage) {
    Graph probe = model.graph;
    upgrade_opset(probe, 21);  // a model that cannot reach opset 21 is refused before training
  }
  QUENCH_CHECK(!model.graph.outputs.empty(), ErrorKind::kInvalidModel,
               "the model has no output to train");
  QuantRecipe recipe = recipe_in;
  recipe.weight_bits = o.weight_bits;
  const Model prepared = prepare_for_quantization(model);
  std::set<std::string> eight;
  if (o.keep_ends_8bit) eight = keep_ends(prepared, recipe);
  const quant::QuantPlan plan = quant::plan_quantization(prepared.graph, recipe);
  QUENCH_CHECK(!plan.activations.empty() || !plan.nodes.empty(), ErrorKind::kInvalidArgument,
               "the recipe quantizes nothing in this model");

  const CalibrationTable table = calibrate(prepared, calib_data, recipe, o.calib);
  const quant::CalibratedSource ptq(table, recipe);
  // Activations below 8 bits start from the entropy or MSE range selected for their own grid of
  // 2^bits levels; the 8-bit ones (the first and last layers') from the table's.
  const quant::CalibratedSource narrow(table, recipe, 1 << o.activation_bits);
  qat::QatGraph q =
      qat::place_fake_quantization(prepared.graph, plan, ptq, o.activation_bits, eight, &narrow);
  // (107)-(108) Conv→BatchNormalization trained unfolded, the weights quantized in folded form.
  std::vector<qat::SimulatedBn> simulated;
  if (o.bn_fold == "simulate") simulated = qat::simulate_batch_norm_folding(model, q);
  std::vector<std::string> params = qat::trained_parameters(q, simulated);
  if (!o.fixed_scales) params.insert(params.end(), q.quant_params.begin(), q.quant_params.end());
  train::Tape tape(q.graph, params);  // refuses ops without a gradient before any work

  QatResult result;
  const auto export_model = [&](const train::Tape& t) {
    std::map<std::string, Tensor> values;
    for (const std::string& name : q.quant_params) values[name] = q.graph.initializers.at(name);
    for (const auto& [name, p] : t.parameters()) values[name] = p;
    qat::fold_simulated(simulated, t.parameters(), t.buffers(), values);  // (109)
    Model m = prepared;
    for (const std::string& name : q.weights) m.graph.initializers[name] = values.at(name).clone();
    qat::QatSource source(ptq, q, values);
    Model out = quant::write_qdq(m, plan, source, recipe, result.report);
    qat::clip_narrow_activations(out, q, values, plan);
    topological_sort(out.graph);
    if (o.int4_storage) quant::store_weights_as_int4(out);
    out.metadata.emplace_back(
        "quench.quantization",
        fmt::format("quantization-aware training, {} activations ({}-bit), {} weights, {} scales",
                    dtype_name(recipe.activation_type), o.activation_bits,
                    quant::describe_weight_bits(recipe), o.fixed_scales ? "fixed" : "learned"));
    return out;
  };
  const auto accuracy = [&](const Model& m) {
    Session session(m);
    EvalOptions eo;
    eo.batch = 256;
    eo.progress = o.train.progress;
    return evaluate_accuracy(session, *val, eo).accuracy;
  };
  if (val != nullptr) {
    result.ptq_accuracy = accuracy(export_model(tape));
    if (o.on_start) o.on_start(result.ptq_accuracy);
  }

  train::LoopHooks hooks;
  hooks.snapshot = export_model;
  // (107) reads the running statistics in training: every process must quantize the same weight.
  hooks.average_buffers_every_step = o.bn_fold == "simulate";
  hooks.checkpoint_settings = {
      {"run", "qat"},
      {"bits", fmt::format("w{}a{}", o.weight_bits, o.activation_bits)},
      {"8-bit ends", o.keep_ends_8bit ? "yes" : "no"},
      {"scales", o.fixed_scales ? "fixed" : "learned"},
      {"bn-fold", o.bn_fold},
      {"distillation",
       o.distill ? fmt::format("weight {} temperature {}", o.distill_weight, o.temperature)
                 : "off"}};
  std::unique_ptr<Session> teacher;
  if (o.distill) {
    teacher = std::make_unique<Session>(prepared);
    hooks.loss = [&](const Tensor& logits, const Batch& batch) {
      const Tensor t = teacher->run({batch.images()}).at(0);
      return train::distillation_loss(logits, t, batch.labels, o.temperature, o.distill_weight);
    };
  }
  if (!o.fixed_scales) {
    // AdamW steps by about the learning rate in the parameter's units: a scale moves by a
    // fraction of its own size, an offset in integer steps. SGD follows LSQ's gradient scale (100).
    const bool adam = o.train.optimizer == "adamw";
    const auto mean = [&](const std::string& name) {
      const Tensor& t = q.graph.initializers.at(name);
      double sum = 0;
      for (float v : t.values<float>()) sum += v;
      return adam ? static_cast<float>(sum / static_cast<double>(t.numel())) : 1.f;
    };
    for (const std::string& name : q.quant_params) hooks.own_rate[name] = 1.f;  // offsets
    for (const auto& [_, ap] : q.activations) {
      if (hooks.own_rate.count(ap.scale)) hooks.own_rate[ap.scale] = mean(ap.scale);
    }
    for (const auto& [_, wp] : q.weight_params) hooks.own_rate[wp.scale] = mean(wp.scale);
    // (102) Scales stay positive, offsets inside the integer range.
    std::map<std::string, std::pair<float, float>> bounds;
    for (const auto& [_, ap] : q.activations) {
      bounds[ap.scale] = {1e-8f, INFINITY};
      if (!ap.zero_point.empty()) {
        bounds[ap.zero_point] = {static_cast<float>(ap.spec.qmin),
                                 static_cast<float>(ap.spec.qmax)};
      }
    }
    for (const auto& [_, wp] : q.weight_params) bounds[wp.scale] = {1e-8f, INFINITY};
    hooks.after_update = [bounds](std::map<std::string, Tensor>& p) {
      for (const auto& [name, b] : bounds) {
        auto it = p.find(name);
        if (it == p.end()) continue;
        for (float& v : it->second.values<float>()) v = std::clamp(v, b.first, b.second);
      }
    };
  }
  TrainResult tr = train::run_training(tape, prepared, train_data, val, o.train, hooks);
  result.model = std::move(tr.model);
  result.epochs = std::move(tr.epochs);
  result.steps = tr.steps;
  result.first_loss = tr.first_loss;
  result.last_loss = tr.last_loss;
  result.seconds = tr.seconds;
  return result;
}

}  // namespace quench
