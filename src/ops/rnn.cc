// Recurrent ops: RNN, GRU and LSTM (opsets 7 and 14; 14 adds the layout attribute).
#include "ops/rnn.h"
#include "core/check.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "kernels/ref/rnn.h"
#include "ops/op_registry.h"
#include "ops/register.h"

namespace quench {
namespace {

// Indexed by RnnInput.
constexpr std::string_view kInputNames[] = {"X",         "W",         "R", "B", "sequence_lens",
                                            "initial_h", "initial_c", "P"};

// One activation the spec allows, with the defaults of the ONNX op of the same name.
struct ActivationSpec {
  std::string_view name;
  RnnActivationKind kind;
  bool uses_alpha;
  bool uses_beta;
  float default_alpha;
  float default_beta;
};

constexpr ActivationSpec kActivationSpecs[] = {
    {"Relu", RnnActivationKind::kRelu, false, false, 0.f, 0.f},
    {"Tanh", RnnActivationKind::kTanh, false, false, 0.f, 0.f},
    {"Sigmoid", RnnActivationKind::kSigmoid, false, false, 0.f, 0.f},
    {"Affine", RnnActivationKind::kAffine, true, true, 1.f, 0.f},
    {"LeakyRelu", RnnActivationKind::kLeakyRelu, true, false, 0.01f, 0.f},
    {"ThresholdedRelu", RnnActivationKind::kThresholdedRelu, true, false, 1.f, 0.f},
    {"ScaledTanh", RnnActivationKind::kScaledTanh, true, true, 1.f, 1.f},
    {"HardSigmoid", RnnActivationKind::kHardSigmoid, true, true, 0.2f, 0.5f},
    {"Elu", RnnActivationKind::kElu, true, false, 1.f, 0.f},
    {"Softsign", RnnActivationKind::kSoftsign, false, false, 0.f, 0.f},
    {"Softplus", RnnActivationKind::kSoftplus, false, false, 0.f, 0.f},
};

// Exporters disagree on the case of activation names ("Tanh", "tanh"); ONNX Runtime ignores it.
bool same_name(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

std::vector<std::string> default_activations(RnnCell cell) {
  switch (cell) {
    case RnnCell::kRnn:
      return {"Tanh"};
    case RnnCell::kGru:
      return {"Sigmoid", "Tanh"};
    case RnnCell::kLstm:
      break;
  }
  return {"Sigmoid", "Tanh", "Tanh"};
}

// The activation names for every direction, forward first.
std::vector<std::string> activation_names(const Node& node, const RnnAttributes& a) {
  const size_t per_direction = static_cast<size_t>(a.activations_per_direction());
  const size_t want = per_direction * static_cast<size_t>(a.num_directions());
  if (!node.has_attr("activations")) {
    std::vector<std::string> names;
    for (int64_t d = 0; d < a.num_directions(); ++d) {
      for (auto& name : default_activations(a.cell)) names.push_back(name);
    }
    return names;
  }
  std::vector<std::string> names = node.attr_strings("activations");
  // RNN's schema default is {"Tanh", "Tanh"} whatever the direction.
  if (a.cell == RnnCell::kRnn && a.num_directions() == 1 && names.size() == 2) names.resize(1);
  QUENCH_CHECK(names.size() == want, ErrorKind::kInvalidModel,
               "{}: attribute 'activations' has {} names, expected {} ({} per direction)",
               node.describe(), names.size(), want, per_direction);
  return names;
}

void parse_activations(const Node& node, RnnAttributes& a) {
  const std::vector<float> alphas = node.attr_floats("activation_alpha");
  const std::vector<float> betas = node.attr_floats("activation_beta");
  // alpha and beta values are consumed in order, only by the activations that take them.
  size_t next_alpha = 0, next_beta = 0;
  for (const std::string& name : activation_names(node, a)) {
    const ActivationSpec* spec = nullptr;
    for (const ActivationSpec& s : kActivationSpecs) {
      if (same_name(s.name, name)) spec = &s;
    }
    QUENCH_CHECK(spec != nullptr, ErrorKind::kInvalidModel,
                 "{}: unknown activation '{}' (expected Relu, Tanh, Sigmoid, Affine, LeakyRelu, "
                 "ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign or Softplus)",
                 node.describe(), name);
    RnnActivation act{spec->kind, spec->default_alpha, spec->default_beta};
    if (spec->uses_alpha && next_alpha < alphas.size()) act.alpha = alphas[next_alpha++];
    if (spec->uses_beta && next_beta < betas.size()) act.beta = betas[next_beta++];
    a.activations.push_back(act);
  }
}

Dim times(int64_t factor, const Dim& d) { return d.known() ? Dim(factor * d.value) : Dim(); }

// Fails unless dim `axis` of input `input` is `want` (when both are known).
void expect_dim(const Node& node, int input, const SymbolicShape& shape, size_t axis,
                const Dim& want, std::string_view meaning) {
  if (!want.known() || !shape[axis].known() || shape[axis].value == want.value) return;
  fail(ErrorKind::kInvalidModel, "{}: input {} has shape {}; dim {} must be {} = {}, got {}",
       node.describe(), kInputNames[input], shape_str(shape), axis, meaning, want.value,
       shape[axis].value);
}

// Takes `size` from the input's dim when it is not known yet, else checks the dim against it.
void unify_dim(const Node& node, int input, const SymbolicShape& shape, size_t axis, Dim& size,
               std::string_view meaning) {
  if (size.known()) {
    expect_dim(node, input, shape, axis, size, meaning);
  } else if (shape[axis].known()) {
    size = shape[axis];
  }
}

template <RnnCell kCell>
constexpr int max_inputs() {
  return kCell == RnnCell::kLstm ? 8 : 6;
}
template <RnnCell kCell>
constexpr int max_outputs() {
  return kCell == RnnCell::kLstm ? 3 : 2;
}

template <RnnCell kCell>
void check_arity(const Node& node) {
  QUENCH_CHECK(
      node.inputs.size() >= 3 && node.inputs.size() <= static_cast<size_t>(max_inputs<kCell>()),
      ErrorKind::kInvalidModel, "{}: has {} inputs, expected 3 to {}", node.describe(),
      node.inputs.size(), max_inputs<kCell>());
  QUENCH_CHECK(node.outputs.size() <= static_cast<size_t>(max_outputs<kCell>()),
               ErrorKind::kInvalidModel, "{}: has {} outputs, expected at most {}", node.describe(),
               node.outputs.size(), max_outputs<kCell>());
}

template <RnnCell kCell>
void infer_rnn(InferContext& ctx) {
  const Node& node = ctx.node();
  check_arity<kCell>(node);
  const RnnAttributes attrs = parse_rnn_attributes(node, ctx.opset());
  const DType dtype = ctx.input_type(kRnnX);
  std::vector<const SymbolicShape*> shapes(max_inputs<kCell>(), nullptr);
  for (int i = 0; i < max_inputs<kCell>(); ++i) {
    if (!ctx.has_input(i)) continue;
    shapes[i] = ctx.input_shape(i);
    const DType got = ctx.input_type(i);
    const DType want = i == kRnnSequenceLens ? DType::kInt32 : dtype;
    if (got != DType::kUndefined && want != DType::kUndefined && got != want) {
      ctx.fail("input {} is {}, expected {}", kInputNames[i], dtype_name(got), dtype_name(want));
    }
  }
  const RnnDims dims = check_rnn_shapes(node, attrs, shapes);
  const Dim dirs(attrs.num_directions());
  const bool batch_first = attrs.layout == 1;
  ctx.set_output(kRnnY, dtype,
                 batch_first ? SymbolicShape{dims.batch, dims.seq_length, dirs, dims.hidden_size}
                             : SymbolicShape{dims.seq_length, dirs, dims.batch, dims.hidden_size});
  const SymbolicShape state = batch_first ? SymbolicShape{dims.batch, dirs, dims.hidden_size}
                                          : SymbolicShape{dirs, dims.batch, dims.hidden_size};
  ctx.set_output(kRnnYH, dtype, state);
  if (kCell == RnnCell::kLstm) ctx.set_output(kRnnYC, dtype, state);
}

template <RnnCell kCell>
std::unique_ptr<Kernel> ref_rnn(KernelContext& ctx) {
  const Node& node = ctx.node;
  check_arity<kCell>(node);
  ref::RnnKernelParams p;
  p.attrs = parse_rnn_attributes(node, ctx.opset);
  std::vector<SymbolicShape> symbolic_shapes(max_inputs<kCell>());
  std::vector<const SymbolicShape*> shapes(max_inputs<kCell>(), nullptr);
  for (int i = 0; i < max_inputs<kCell>(); ++i) {
    if (!ctx.has_input(i)) continue;
    const DType got = ctx.inputs[i].dtype;
    if (i == kRnnSequenceLens) {
      if (got != DType::kInt32) {
        ctx.fail(ErrorKind::kInvalidModel, "input sequence_lens is {}, expected int32",
                 dtype_name(got));
      }
    } else if (got != DType::kFloat32) {
      ctx.fail(ErrorKind::kUnsupported, "input {} is {}; only float32 is supported", kInputNames[i],
               dtype_name(got));
    }
    symbolic_shapes[i] = symbolic(ctx.inputs[i].shape);
    shapes[i] = &symbolic_shapes[i];
  }
  const RnnDims dims = check_rnn_shapes(node, p.attrs, shapes);
  p.seq_length = dims.seq_length.value;
  p.batch = dims.batch.value;
  p.input_size = dims.input_size.value;
  p.hidden_size = dims.hidden_size.value;
  p.has_bias = ctx.has_input(kRnnB);
  if (p.has_bias && ctx.inputs[kRnnB].constant != nullptr) {
    const auto values = ctx.inputs[kRnnB].constant->values<float>();
    p.constant_bias.assign(values.begin(), values.end());
  }
  p.has_sequence_lens = ctx.has_input(kRnnSequenceLens);
  p.has_initial_h = ctx.has_input(kRnnInitialH);
  p.has_initial_c = ctx.has_input(kRnnInitialC);
  p.has_peepholes = ctx.has_input(kRnnP);
  auto has_output = [&](size_t i) { return i < ctx.outputs.size() && ctx.outputs[i].present(); };
  p.has_y = has_output(kRnnY);
  p.has_y_h = has_output(kRnnYH);
  p.has_y_c = has_output(kRnnYC);
  p.node = node.describe();
  return ref::make_rnn_kernel(std::move(p));
}

}  // namespace

RnnAttributes parse_rnn_attributes(const Node& node, int64_t opset) {
  RnnAttributes a;
  if (node.op_type == "RNN") {
    a.cell = RnnCell::kRnn;
  } else if (node.op_type == "GRU") {
    a.cell = RnnCell::kGru;
  } else {
    QUENCH_CHECK(node.op_type == "LSTM", ErrorKind::kInternal,
                 "{}: not a recurrent op (RNN, GRU or LSTM)", node.describe());
    a.cell = RnnCell::kLstm;
  }
  const std::string direction = node.attr_string("direction", "forward");
  if (direction == "forward") {
    a.direction = RnnDirection::kForward;
  } else if (direction == "reverse") {
    a.direction = RnnDirection::kReverse;
  } else if (direction == "bidirectional") {
    a.direction = RnnDirection::kBidirectional;
  } else {
    fail(ErrorKind::kInvalidModel,
         "{}: attribute 'direction' is '{}', expected forward, reverse or bidirectional",
         node.describe(), direction);
  }
  if (node.has_attr("hidden_size")) {
    a.hidden_size = node.attr_int("hidden_size", -1);
    QUENCH_CHECK(a.hidden_size > 0, ErrorKind::kInvalidModel,
                 "{}: attribute 'hidden_size' must be positive, got {}", node.describe(),
                 a.hidden_size);
  }
  if (node.has_attr("clip")) {
    a.clip = node.attr_float("clip", 0.f);
    QUENCH_CHECK(a.clip >= 0.f, ErrorKind::kInvalidModel,
                 "{}: attribute 'clip' must not be negative, got {}", node.describe(), a.clip);
  }
  if (a.cell == RnnCell::kLstm) a.input_forget = node.attr_int("input_forget", 0) != 0;
  if (a.cell == RnnCell::kGru) a.linear_before_reset = node.attr_int("linear_before_reset", 0) != 0;
  a.layout = node.attr_int("layout", 0);
  QUENCH_CHECK(a.layout == 0 || a.layout == 1, ErrorKind::kInvalidModel,
               "{}: attribute 'layout' must be 0 or 1, got {}", node.describe(), a.layout);
  QUENCH_CHECK(a.layout == 0 || opset >= 14, ErrorKind::kInvalidModel,
               "{}: attribute 'layout' exists from opset 14; the model imports opset {}",
               node.describe(), opset);
  parse_activations(node, a);
  return a;
}

RnnDims check_rnn_shapes(const Node& node, const RnnAttributes& attrs,
                         const std::vector<const SymbolicShape*>& inputs) {
  constexpr size_t kRanks[] = {3, 3, 3, 2, 1, 3, 3, 2};
  auto shape = [&](int i) { return static_cast<size_t>(i) < inputs.size() ? inputs[i] : nullptr; };
  for (int i = 0; i < static_cast<int>(inputs.size()) && i <= kRnnP; ++i) {
    if (shape(i) == nullptr) continue;
    QUENCH_CHECK(shape(i)->size() == kRanks[i], ErrorKind::kInvalidModel,
                 "{}: input {} has shape {}, expected rank {}", node.describe(), kInputNames[i],
                 shape_str(*shape(i)), kRanks[i]);
  }
  const int64_t gates = attrs.gates();
  const bool batch_first = attrs.layout == 1;
  RnnDims d;
  if (attrs.hidden_size > 0) d.hidden_size = attrs.hidden_size;
  if (const SymbolicShape* x = shape(kRnnX)) {
    d.seq_length = (*x)[batch_first ? 1 : 0];
    d.batch = (*x)[batch_first ? 0 : 1];
    d.input_size = (*x)[2];
  }
  if (const SymbolicShape* r = shape(kRnnR))
    unify_dim(node, kRnnR, *r, 2, d.hidden_size, "hidden_size");
  if (const SymbolicShape* w = shape(kRnnW); w && !d.hidden_size.known() && (*w)[1].known()) {
    QUENCH_CHECK((*w)[1].value % gates == 0, ErrorKind::kInvalidModel,
                 "{}: input W has shape {}; dim 1 must be a multiple of {} ({}*hidden_size)",
                 node.describe(), shape_str(*w), gates, gates);
    d.hidden_size = (*w)[1].value / gates;
  }

  const Dim dirs(attrs.num_directions());
  const Dim gate_rows = times(gates, d.hidden_size);
  const std::string gate_rows_name = fmt::format("{}*hidden_size", gates);
  if (const SymbolicShape* w = shape(kRnnW)) {
    expect_dim(node, kRnnW, *w, 0, dirs, "num_directions");
    expect_dim(node, kRnnW, *w, 1, gate_rows, gate_rows_name);
    unify_dim(node, kRnnW, *w, 2, d.input_size, "input_size");
  }
  if (const SymbolicShape* r = shape(kRnnR)) {
    expect_dim(node, kRnnR, *r, 0, dirs, "num_directions");
    expect_dim(node, kRnnR, *r, 1, gate_rows, gate_rows_name);
  }
  if (const SymbolicShape* b = shape(kRnnB)) {
    expect_dim(node, kRnnB, *b, 0, dirs, "num_directions");
    expect_dim(node, kRnnB, *b, 1, times(2 * gates, d.hidden_size),
               fmt::format("{}*hidden_size", 2 * gates));
  }
  if (const SymbolicShape* lens = shape(kRnnSequenceLens)) {
    unify_dim(node, kRnnSequenceLens, *lens, 0, d.batch, "batch_size");
  }
  for (int i : {kRnnInitialH, kRnnInitialC}) {
    const SymbolicShape* s = shape(i);
    if (s == nullptr) continue;
    expect_dim(node, i, *s, batch_first ? 1 : 0, dirs, "num_directions");
    unify_dim(node, i, *s, batch_first ? 0 : 1, d.batch, "batch_size");
    expect_dim(node, i, *s, 2, d.hidden_size, "hidden_size");
  }
  if (const SymbolicShape* p = shape(kRnnP)) {
    expect_dim(node, kRnnP, *p, 0, dirs, "num_directions");
    expect_dim(node, kRnnP, *p, 1, times(3, d.hidden_size), "3*hidden_size");
  }
  return d;
}

void register_rnn_ops(OpRegistry& r) {
  r.add({"", "RNN", 7, infer_rnn<RnnCell::kRnn>, ref_rnn<RnnCell::kRnn>, {}});
  r.add({"", "GRU", 7, infer_rnn<RnnCell::kGru>, ref_rnn<RnnCell::kGru>, {}});
  r.add({"", "LSTM", 7, infer_rnn<RnnCell::kLstm>, ref_rnn<RnnCell::kLstm>, {}});
}

}  // namespace quench
