// MixedPrecisionTrials and analyze_sensitivity (include/quench/sensitivity.h).
#include "quench/sensitivity.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "core/check.h"
#include "core/progress.h"
#include "quant/lowbit/rounded_layers.h"
#include "quant/lowbit/rounded_source.h"
#include "quant/quant_plan.h"
#include "quench/evaluate.h"
#include "quench/interrupt.h"

namespace quench {
namespace {

bool is_data_movement(const std::string& op) {
  static const std::set<std::string> ops = {"MaxPool", "Reshape",   "Flatten",  "Transpose",
                                            "Squeeze", "Unsqueeze", "Identity", "Slice"};
  return ops.count(op) > 0;
}

// The units of the plan: each quantized node that is neither fused into its producer nor a
// data-movement node, with the activation fused into it. With low-bit weights, only the nodes
// that hold weights (the others have nothing to keep at 8 bits).
std::vector<QuantUnit> find_units(const Graph& g, const quant::QuantPlan& plan, bool low_bit) {
  std::set<size_t> with_weights;
  for (const quant::NodeQuant& nq : plan.nodes) {
    if (!nq.weights.empty()) with_weights.insert(nq.node);
  }
  std::vector<QuantUnit> units;
  std::map<size_t, size_t> unit_of;  // node -> unit
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!plan.quantized[i]) continue;
    const Node& node = g.nodes[i];
    const int joins = plan.joins[i];
    if (joins >= 0 && unit_of.count(static_cast<size_t>(joins))) {
      // The unit it is fused into (an activation's, a bias Add's, a GELU's).
      unit_of[i] = unit_of[static_cast<size_t>(joins)];
      units[unit_of[i]].nodes.push_back(node.name);
      continue;
    }
    if (is_data_movement(node.op_type)) continue;
    if (low_bit && !with_weights.count(i)) continue;
    unit_of[i] = units.size();
    units.push_back({node.name, {node.name}});
  }
  return units;
}

double sqnr_db(double signal, double noise) {
  if (noise <= 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

}  // namespace

struct MixedPrecisionTrials::Impl {
  Model prepared;
  QuantRecipe recipe;
  CalibrationTable table;
  SensitivityOptions options;
  const Dataset* val = nullptr;
  std::vector<QuantUnit> units;
  std::set<std::string> float_in_plan;  // nodes the recipe's plan leaves in float
  std::vector<bool> fixed_float;        // per unit: kept in float by keep_in_float
  std::vector<Tensor> fp32_outputs;     // per batch, without labels
  double fp32 = 0;
  int64_t evaluations = 0;
  // Integers and biases chosen once for every unit at the requested precision (eq. (147)).
  std::optional<quant::lowbit::RoundedLayers> rounded;

  // The model of `recipe` with the rounded units that it keeps at the requested precision
  // (`low_nodes`) taking their chosen integers and biases, the others rounded to nearest with
  // their own biases.
  Model build_rounded(const QuantRecipe& recipe, const std::set<std::string>& low_nodes,
                      QuantizeReport& report) const {
    Model base = rounded->work;
    const quant::CalibratedSource calibrated(table, recipe);
    quant::lowbit::RoundedSource source(calibrated);
    for (const quant::lowbit::RoundedLayer& layer : rounded->layers) {
      if (low_nodes.count(layer.node) != 0) {
        source.set(layer.weight, rounded->weights.at(layer.weight));
      } else if (!layer.bias.empty()) {
        // Its own bias: the prepared model's, or zeros where bias correction added one.
        Tensor& b = base.graph.initializers.at(layer.bias);
        const Tensor* own = prepared.graph.initializer(layer.bias);
        b = own != nullptr ? *own : Tensor::zeros(b.dtype(), b.shape());
      }
    }
    Model m = quant::write_qdq(base, quant::plan_quantization(base.graph, recipe), source, recipe,
                               report);
    m.metadata.emplace_back(
        "quench.quantization",
        fmt::format("static mixed precision, {} weights, the units at {} bits chosen by {}",
                    quant::describe_weight_bits(recipe), options.weight_bits,
                    options.rounding.method()));
    return m;
  }

  double run(const Model& model, bool keep_outputs) {
    if (interrupted()) throw Error(ErrorKind::kInterrupted, "interrupted");
    const Session session(model, options.session);
    if (val->has_labels()) {
      EvalOptions eo;
      eo.batch = options.batch;
      eo.progress = false;
      return evaluate_accuracy(session, *val, eo).accuracy;
    }
    // eq. (110): SQNR of the first output over the whole validation set.
    const DataBinding binding(session, *val, "the validation data");
    double signal = 0, noise = 0;
    size_t index = 0;
    for (int64_t first = 0; first < val->size(); first += options.batch, ++index) {
      if (interrupted()) throw Error(ErrorKind::kInterrupted, "interrupted");
      const int64_t count = std::min(options.batch, val->size() - first);
      std::vector<Tensor> out = session.run(binding.feeds(val->batch(first, count)));
      Tensor& y = out.at(0);
      QUENCH_CHECK(y.dtype() == DType::kFloat32, ErrorKind::kInvalidArgument,
                   "sensitivity without labels compares the first output, which must be float32; "
                   "got {}",
                   dtype_name(y.dtype()));
      if (keep_outputs) {
        fp32_outputs.push_back(std::move(y));
        continue;
      }
      const Tensor& a = fp32_outputs.at(index);
      const float* pa = a.data<float>();
      const float* pb = y.data<float>();
      for (int64_t i = 0; i < a.numel(); ++i) {
        const double d = static_cast<double>(pa[i]) - pb[i];
        signal += static_cast<double>(pa[i]) * pa[i];
        noise += d * d;
      }
    }
    return keep_outputs ? std::numeric_limits<double>::infinity() : sqnr_db(signal, noise);
  }
};

MixedPrecisionTrials::MixedPrecisionTrials(const Model& fp32, const Dataset& calib,
                                           const Dataset& val, QuantRecipe recipe,
                                           const SensitivityOptions& options)
    : MixedPrecisionTrials(fp32, calib, std::move(recipe), options) {
  Impl& m = *impl_;
  m.val = &val;
  m.fp32 = m.run(fp32, true);
  ++m.evaluations;
}

MixedPrecisionTrials::MixedPrecisionTrials(const Model& fp32, const Dataset& calib,
                                           QuantRecipe recipe, const SensitivityOptions& options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  QUENCH_CHECK(options.weight_bits >= 2 && options.weight_bits <= 8, ErrorKind::kInvalidArgument,
               "weights are quantized to 2 to 8 bits, got {}", options.weight_bits);
  QUENCH_CHECK(options.batch > 0, ErrorKind::kInvalidArgument, "batch size must be positive");
  m.options = options;
  recipe.weight_bits = options.weight_bits;
  m.recipe = std::move(recipe);
  m.prepared = prepare_for_quantization(fp32);
  const quant::QuantPlan plan = quant::plan_quantization(m.prepared.graph, m.recipe);
  m.units = find_units(m.prepared.graph, plan, options.weight_bits < 8);
  for (size_t i = 0; i < m.prepared.graph.nodes.size(); ++i) {
    if (!plan.quantized[i]) m.float_in_plan.insert(m.prepared.graph.nodes[i].name);
  }
  QUENCH_CHECK(!m.units.empty(), ErrorKind::kInvalidArgument,
               "the recipe quantizes no unit of this model{}: nothing to analyse",
               options.weight_bits < 8 ? " with weights" : "");
  m.fixed_float.assign(m.units.size(), false);
  CalibrateOptions co = options.calib;
  co.progress = options.progress;
  m.table = calibrate(m.prepared, calib, m.recipe, co);
  const WeightRoundingOptions& wo = options.rounding;
  if (wo.gptq || wo.adaround || wo.bias_correction) {
    WeightRoundingOptions w = wo;
    w.calib_size = options.calib.calib_size;
    w.batch = options.calib.batch;
    w.threads = options.calib.threads;
    w.progress = options.progress;
    WeightRoundingReport report;
    m.rounded = quant::lowbit::choose_rounded(m.prepared, m.table, m.recipe, calib, w, report);
  }
}

MixedPrecisionTrials::~MixedPrecisionTrials() = default;

const std::vector<QuantUnit>& MixedPrecisionTrials::units() const { return impl_->units; }
const Model& MixedPrecisionTrials::prepared() const { return impl_->prepared; }
bool MixedPrecisionTrials::has_labels() const {
  return impl_->val != nullptr && impl_->val->has_labels();
}
const char* MixedPrecisionTrials::metric() const { return has_labels() ? "top1" : "sqnr_db"; }
double MixedPrecisionTrials::fp32_score() const { return impl_->fp32; }
int64_t MixedPrecisionTrials::evaluations() const { return impl_->evaluations; }

Model MixedPrecisionTrials::build(const std::vector<bool>& low, QuantizeReport* report) const {
  const Impl& m = *impl_;
  QUENCH_CHECK(low.size() == m.units.size(), ErrorKind::kInvalidArgument,
               "one flag per unit expected: {} units, got {}", m.units.size(), low.size());
  QuantRecipe r = m.recipe;
  std::set<std::string> in_units, kept_float;
  for (size_t u = 0; u < low.size(); ++u) {
    for (const auto& node : m.units[u].nodes) in_units.insert(node);
    if (low[u] && !m.fixed_float[u]) continue;
    for (const auto& node : m.units[u].nodes) {
      // eq. (112): w8a8 keeps the unit in float; low-bit models give it 8-bit weights.
      if (m.options.weight_bits == 8 || m.fixed_float[u]) {
        r.node_overrides[node] = "skip";
        kept_float.insert(node);
      } else {
        r.node_weight_bits[node] = 8;
      }
    }
  }
  if (!kept_float.empty()) {
    // Nodes outside the units (pooling, reshaping) bounded by units kept in float or by nodes the
    // plan leaves in float (Softmax, LayerNormalization) — every computed input from one of those
    // or from such a node, every consumer likewise (or the graph's output) — stay in float with
    // them: they would otherwise quantize a float value only to dequantize it. The largest such
    // set: start from every candidate and drop, until nothing changes, those with an input or a
    // consumer outside it, so that chains (Reshape -> Transpose -> Split) follow as a whole.
    std::map<std::string, std::string> producer;
    std::map<std::string, std::vector<std::string>> consumers;
    for (const Node& node : m.prepared.graph.nodes) {
      for (const auto& out : node.outputs) producer[out] = node.name;
      for (const auto& in : node.inputs) consumers[in].push_back(node.name);
    }
    std::set<std::string> is_float = kept_float;
    is_float.insert(m.float_in_plan.begin(), m.float_in_plan.end());
    std::set<std::string> candidates;
    for (const Node& node : m.prepared.graph.nodes) {
      if (in_units.count(node.name) != 0 || is_float.count(node.name) != 0) continue;
      bool any = false;
      for (const auto& in : node.inputs) any = any || producer.count(in) != 0;
      if (any) candidates.insert(node.name);
    }
    auto ok = [&](const std::string& name) {
      return is_float.count(name) != 0 || candidates.count(name) != 0;
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (const Node& node : m.prepared.graph.nodes) {
        if (candidates.count(node.name) == 0) continue;
        bool all_float = true;
        for (const auto& in : node.inputs) {
          auto it = producer.find(in);
          if (it != producer.end()) all_float = all_float && ok(it->second);
        }
        for (const auto& out : node.outputs) {
          for (const auto& c : consumers[out]) all_float = all_float && ok(c);
        }
        if (!all_float) {
          candidates.erase(node.name);
          changed = true;
        }
      }
    }
    for (const auto& name : candidates) r.node_overrides[name] = "skip";
  }
  if (!m.rounded) return quantize_static(m.prepared, m.table, r, report);
  std::set<std::string> low_nodes;
  for (size_t u = 0; u < low.size(); ++u) {
    if (low[u] && !m.fixed_float[u]) {
      low_nodes.insert(m.units[u].nodes.begin(), m.units[u].nodes.end());
    }
  }
  QuantizeReport local;
  return m.build_rounded(r, low_nodes, report ? *report : local);
}

void MixedPrecisionTrials::keep_in_float(const std::vector<bool>& units) {
  QUENCH_CHECK(units.size() == impl_->units.size(), ErrorKind::kInvalidArgument,
               "one flag per unit expected: {} units, got {}", impl_->units.size(), units.size());
  impl_->fixed_float = units;
}

const std::vector<bool>& MixedPrecisionTrials::in_float() const { return impl_->fixed_float; }

double MixedPrecisionTrials::score(const Model& model) {
  QUENCH_CHECK(impl_->val != nullptr, ErrorKind::kInvalidArgument,
               "these trials were built without validation data and cannot score a model");
  ++impl_->evaluations;
  return impl_->run(model, false);
}

SensitivityResult analyze_sensitivity(MixedPrecisionTrials& trials, bool all_but_this,
                                      bool progress, std::optional<double> all_quantized) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t first_eval = trials.evaluations();
  const size_t n = trials.units().size();
  const std::vector<bool>& fixed = trials.in_float();
  const auto free_units = static_cast<size_t>(std::count(fixed.begin(), fixed.end(), false));
  SensitivityResult r;
  r.metric = trials.metric();
  r.baseline_fp32 = trials.fp32_score();
  Progress bar("sensitivity", static_cast<int64_t>(2 + free_units * (all_but_this ? 2 : 1)),
               progress);
  int64_t done = 0;
  auto trial = [&](const std::vector<bool>& low) {
    const double s = trials.score(trials.build(low));
    bar.update(++done);
    return s;
  };
  r.higher_precision = trial(std::vector<bool>(n, false));
  r.all_quantized = all_quantized ? *all_quantized : trial(std::vector<bool>(n, true));
  for (size_t u = 0; u < n; ++u) {
    if (fixed[u]) continue;
    UnitSensitivity s;
    s.unit = trials.units()[u];
    std::vector<bool> low(n, false);
    low[u] = true;
    s.only_quantized = trial(low);
    s.all_but_this = std::numeric_limits<double>::quiet_NaN();
    if (all_but_this) {
      std::vector<bool> rest(n, true);
      rest[u] = false;
      s.all_but_this = trial(rest);
    }
    r.units.push_back(std::move(s));
  }
  bar.finish();
  // eq. (111): the lowest score with only the unit quantized first; ties broken by the highest
  // score with all but the unit quantized, then by graph order.
  std::stable_sort(r.units.begin(), r.units.end(),
                   [](const UnitSensitivity& a, const UnitSensitivity& b) {
                     if (a.only_quantized != b.only_quantized) {
                       return a.only_quantized < b.only_quantized;
                     }
                     const double x = std::isnan(a.all_but_this) ? 0 : a.all_but_this;
                     const double y = std::isnan(b.all_but_this) ? 0 : b.all_but_this;
                     return x > y;
                   });
  r.evaluations = trials.evaluations() - first_eval;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace quench
