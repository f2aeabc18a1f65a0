// RNN, GRU and LSTM: hand-checked single-unit cases (hidden_size 1, input_size 1). Most cases use
// Affine(alpha 1, beta 0) as an identity activation and zero-weight sigmoid gates (exactly 0.5)
// so that the expected values are exact decimals; the default activations get their own cases.
#include <cmath>
#include <string>

#include "kernels/ref/rnn.h"
#include "ops/op_registry.h"
#include "ops/rnn.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;
using testing::run_node;
using testing::tensors_near;
using Strings = std::vector<std::string>;
using Floats = std::vector<float>;

// Sums and products of a few exact decimals.
constexpr double kArithmeticTolerance = 1e-6;
// Expectations through exp/tanh, computed in double while the kernel computes in float.
constexpr double kTranscendentalTolerance = 1e-5;

Tensor f32(Shape shape, Floats values) {
  return Tensor::from_vector<float>(std::move(shape), values);
}
Tensor i32(Shape shape, std::vector<int32_t> values) {
  return Tensor::from_vector<int32_t>(std::move(shape), values);
}
const Tensor kAbsent;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

::testing::AssertionResult values_are(const Tensor& got, Shape shape, Floats want,
                                      double atol = kArithmeticTolerance) {
  return tensors_near(got, f32(std::move(shape), std::move(want)), atol, 0.0);
}

template <class Fn>
void expect_error(Fn fn, ErrorKind kind, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "expected an error mentioning '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

// ---- RNN: Ht = f(0.5 Xt + 1 Ht-1 + 0.1 + 0.2), f = identity, X = [1, 2] -----------------------

Node rnn_node(std::string direction = "forward", float clip = 0.f, int64_t layout = 0) {
  const size_t dirs = direction == "bidirectional" ? 2 : 1;
  Node n = make_node("RNN", {"X", "W", "R", "B", "sequence_lens", "initial_h"}, {"Y", "Y_h"},
                     {{"hidden_size", int64_t{1}},
                      {"direction", direction},
                      {"activations", Strings(dirs, "Affine")},
                      {"activation_alpha", Floats(dirs, 1.f)},
                      {"activation_beta", Floats(dirs, 0.f)}});
  if (clip > 0.f) n.set_attr("clip", clip);
  if (layout != 0) n.set_attr("layout", layout);
  return n;
}

std::vector<Tensor> rnn_inputs(Tensor x = f32({2, 1, 1}, {1.f, 2.f})) {
  return {x, f32({1, 1, 1}, {0.5f}), f32({1, 1, 1}, {1.f}), f32({1, 2}, {0.1f, 0.2f})};
}

TEST(Rnn, ForwardIdentity) {
  auto out = run_node(rnn_node(), rnn_inputs());
  // H1 = 0.5 + 0.3 = 0.8; H2 = 1 + 0.8 + 0.3 = 2.1
  EXPECT_TRUE(values_are(out[0], {2, 1, 1, 1}, {0.8f, 2.1f}));
  EXPECT_TRUE(values_are(out[1], {1, 1, 1}, {2.1f}));
}

TEST(Rnn, ReverseWritesEachStepAtItsTime) {
  auto out = run_node(rnn_node("reverse"), rnn_inputs());
  // t=1 first: 1 + 0.3 = 1.3; then t=0: 0.5 + 1.3 + 0.3 = 2.1 (the final state)
  EXPECT_TRUE(values_are(out[0], {2, 1, 1, 1}, {2.1f, 1.3f}));
  EXPECT_TRUE(values_are(out[1], {1, 1, 1}, {2.1f}));
}

TEST(Rnn, BidirectionalUsesEachDirectionsWeights) {
  // Reverse direction: W 1, R 0.25, no bias: t=1: 2; t=0: 1 + 0.25 * 2 = 1.5
  std::vector<Tensor> in = {f32({2, 1, 1}, {1.f, 2.f}), f32({2, 1, 1}, {0.5f, 1.f}),
                            f32({2, 1, 1}, {1.f, 0.25f}), f32({2, 2}, {0.1f, 0.2f, 0.f, 0.f})};
  auto out = run_node(rnn_node("bidirectional"), in);
  EXPECT_TRUE(values_are(out[0], {2, 2, 1, 1}, {0.8f, 1.5f, 2.1f, 2.f}));
  EXPECT_TRUE(values_are(out[1], {2, 1, 1}, {2.1f, 1.5f}));
}

TEST(Rnn, DefaultActivationIsTanh) {
  Node n = make_node("RNN", {"X", "W", "R", "B"}, {"Y", "Y_h"}, {{"hidden_size", int64_t{1}}});
  auto out = run_node(n, rnn_inputs());
  const double h1 = std::tanh(0.8), h2 = std::tanh(1.0 + h1 + 0.3);
  EXPECT_TRUE(values_are(out[0], {2, 1, 1, 1}, {float(h1), float(h2)}, kTranscendentalTolerance));
}

TEST(Rnn, HiddenSizeComesFromRWhenAbsent) {
  Node n = rnn_node();
  n.attributes.erase("hidden_size");
  auto out = run_node(n, rnn_inputs());
  EXPECT_TRUE(values_are(out[1], {1, 1, 1}, {2.1f}));
}

TEST(Rnn, ClipBoundsThePreActivation) {
  auto out = run_node(rnn_node("forward", 1.f), rnn_inputs());
  EXPECT_TRUE(values_are(out[0], {2, 1, 1, 1}, {0.8f, 1.f}));  // 2.1 clipped to 1
}

// X [seq 2, batch 2, 1]: row 0 is [1, 2], row 1 is [3, 4].
Tensor two_rows() { return f32({2, 2, 1}, {1.f, 3.f, 2.f, 4.f}); }

TEST(Rnn, ShorterSequencesOutputZerosPastTheirEnd) {
  auto in = rnn_inputs(two_rows());
  in.push_back(i32({2}, {2, 1}));
  auto out = run_node(rnn_node(), in);
  // Row 1 stops after t=0: 1.5 + 0.3 = 1.8.
  EXPECT_TRUE(values_are(out[0], {2, 1, 2, 1}, {0.8f, 1.8f, 2.1f, 0.f}));
  EXPECT_TRUE(values_are(out[1], {1, 2, 1}, {2.1f, 1.8f}));
}

TEST(Rnn, ReverseStartsAtTheEndOfEachSequence) {
  auto in = rnn_inputs(two_rows());
  in.push_back(i32({2}, {2, 1}));
  auto out = run_node(rnn_node("reverse"), in);
  EXPECT_TRUE(values_are(out[0], {2, 1, 2, 1}, {2.1f, 1.8f, 1.3f, 0.f}));
  EXPECT_TRUE(values_are(out[1], {1, 2, 1}, {2.1f, 1.8f}));
}

TEST(Rnn, InitialStateAndEmptySequence) {
  auto in = rnn_inputs(two_rows());
  in.push_back(i32({2}, {2, 0}));
  in.push_back(f32({1, 2, 1}, {1.f, 5.f}));
  auto out = run_node(rnn_node(), in);
  // Row 0 from H0 = 1: 0.5 + 1 + 0.3 = 1.8, then 1 + 1.8 + 0.3 = 3.1. Row 1 is empty: its final
  // state is zero (as in ONNX Runtime), not its initial state.
  EXPECT_TRUE(values_are(out[0], {2, 1, 2, 1}, {1.8f, 0.f, 3.1f, 0.f}));
  EXPECT_TRUE(values_are(out[1], {1, 2, 1}, {3.1f, 0.f}));
}

TEST(Rnn, SequenceLengthOutOfRangeFailsAtRunTime) {
  auto in = rnn_inputs(two_rows());
  in.push_back(i32({2}, {3, 1}));
  expect_error([&] { run_node(rnn_node(), in); }, ErrorKind::kInvalidArgument, "sequence_lens[0]");
}

TEST(Rnn, BatchFirstLayout) {
  // X [batch 2, seq 2, 1]: row 0 is [1, 2], row 1 is [3, 4] with H0 = 1.
  auto in = rnn_inputs(f32({2, 2, 1}, {1.f, 2.f, 3.f, 4.f}));
  in.push_back(kAbsent);
  in.push_back(f32({2, 1, 1}, {0.f, 1.f}));
  auto out = run_node(rnn_node("forward", 0.f, 1), in);
  // Row 1: 1.5 + 1 + 0.3 = 2.8, then 2 + 2.8 + 0.3 = 5.1.
  EXPECT_TRUE(values_are(out[0], {2, 2, 1, 1}, {0.8f, 2.1f, 2.8f, 5.1f}));
  EXPECT_TRUE(values_are(out[1], {2, 1, 1}, {2.1f, 5.1f}));
  expect_error([&] { run_node(rnn_node("forward", 0.f, 1), in, 13); }, ErrorKind::kInvalidModel,
               "opset 14");
}

// ---- GRU: z = r = sigmoid(0) = 0.5, g = identity, Wh = Rh = 1, Rbh = 1, X = [1, 2] ------------

Node gru_node(int64_t linear_before_reset, std::string direction = "forward") {
  return make_node("GRU", {"X", "W", "R", "B", "", "initial_h"}, {"Y", "Y_h"},
                   {{"hidden_size", int64_t{1}},
                    {"direction", direction},
                    {"linear_before_reset", linear_before_reset},
                    {"activations", Strings{"Sigmoid", "Affine"}},
                    {"activation_alpha", Floats{1.f}},
                    {"activation_beta", Floats{0.f}}});
}

std::vector<Tensor> gru_inputs(Floats bias = {0, 0, 0, 0, 0, 1.f}) {
  return {f32({2, 1, 1}, {1.f, 2.f}), f32({1, 3, 1}, {0.f, 0.f, 1.f}),
          f32({1, 3, 1}, {0.f, 0.f, 1.f}), f32({1, 6}, bias)};
}

TEST(Gru, ResetGateBeforeTheLinearTransform) {
  auto out = run_node(gru_node(0), gru_inputs());
  // h1 = 1 + (0.5 * 0) + 1 = 2, H1 = 0.5 * 2 + 0.5 * 0 = 1
  // h2 = 2 + (0.5 * 1) + 1 = 3.5, H2 = 0.5 * 3.5 + 0.5 * 1 = 2.25
  EXPECT_TRUE(values_are(out[0], {2, 1, 1, 1}, {1.f, 2.25f}));
  EXPECT_TRUE(values_are(out[1], {1, 1, 1}, {2.25f}));
}

TEST(Gru, LinearBeforeResetScalesTheRecurrentBias) {
  auto out = run_node(gru_node(1), gru_inputs());
  // h1 = 1 + 0.5 * (0 + 1) = 1.5, H1 = 0.75
  // h2 = 2 + 0.5 * (0.75 + 1) = 2.875, H2 = 0.5 * 2.875 + 0.5 * 0.75 = 1.8125
  EXPECT_TRUE(values_are(out[0], {2, 1, 1, 1}, {0.75f, 1.8125f}));
}

TEST(Gru, Reverse) {
  auto out = run_node(gru_node(0, "reverse"), gru_inputs());
  // t=1: h = 2 + 0 + 1 = 3, H = 1.5; t=0: h = 1 + 0.75 + 1 = 2.75, H = 1.375 + 0.75 = 2.125
  EXPECT_TRUE(values_are(out[0], {2, 1, 1, 1}, {2.125f, 1.5f}));
  EXPECT_TRUE(values_are(out[1], {1, 1, 1}, {2.125f}));
}

TEST(Gru, SaturatedUpdateGateKeepsTheInitialState) {
  auto in = gru_inputs({100.f, 0, 0, 0, 0, 1.f});  // Wbz = 100: z = 1
  in.push_back(kAbsent);
  in.push_back(f32({1, 1, 1}, {0.7f}));
  auto out = run_node(gru_node(0), in);
  EXPECT_TRUE(values_are(out[0], {2, 1, 1, 1}, {0.7f, 0.7f}));
}

TEST(Gru, DefaultActivations) {
  // W = 1 for z, r and h, no recurrence from H0 = 0: one step of x = 1.
  Node n = make_node("GRU", {"X", "W", "R"}, {"", "Y_h"}, {{"hidden_size", int64_t{1}}});
  auto out = run_node(
      n, {f32({1, 1, 1}, {1.f}), f32({1, 3, 1}, {1.f, 1.f, 1.f}), f32({1, 3, 1}, {0.f, 0.f, 0.f})});
  EXPECT_FALSE(out[0].defined());
  const double z = sigmoid(1.0), h = std::tanh(1.0);
  EXPECT_TRUE(values_are(out[1], {1, 1, 1}, {float((1 - z) * h)}, kTranscendentalTolerance));
}

// ---- LSTM: i = o = f = sigmoid(0) = 0.5, g = h = identity, Wc = 1: Ct = 0.5 Ct-1 + 0.5 ct ------

Node lstm_node(std::string direction = "forward") {
  const int dirs = direction == "bidirectional" ? 2 : 1;
  Strings activations;
  for (int d = 0; d < dirs; ++d)
    activations.insert(activations.end(), {"Sigmoid", "Affine", "Affine"});
  return make_node("LSTM", {"X", "W", "R", "B", "", "initial_h", "initial_c", "P"},
                   {"Y", "Y_h", "Y_c"},
                   {{"hidden_size", int64_t{1}},
                    {"direction", direction},
                    {"activations", activations},
                    {"activation_alpha", Floats(2 * dirs, 1.f)},
                    {"activation_beta", Floats(2 * dirs, 0.f)}});
}

// Gate order i, o, f, c. B holds Wb then Rb.
std::vector<Tensor> lstm_inputs(Floats x = {1.f, 2.f}, Floats recurrent = {0, 0, 0, 0},
                                Floats bias = Floats(8, 0.f)) {
  const int64_t seq = static_cast<int64_t>(x.size());
  return {f32({seq, 1, 1}, x), f32({1, 4, 1}, {0.f, 0.f, 0.f, 1.f}), f32({1, 4, 1}, recurrent),
          f32({1, 8}, bias)};
}

TEST(Lstm, ForwardIdentity) {
  auto out = run_node(lstm_node(), lstm_inputs());
  // C1 = 0.5, H1 = 0.25; C2 = 0.25 + 1 = 1.25, H2 = 0.625
  EXPECT_TRUE(values_are(out[0], {2, 1, 1, 1}, {0.25f, 0.625f}));
  EXPECT_TRUE(values_are(out[1], {1, 1, 1}, {0.625f}));
  EXPECT_TRUE(values_are(out[2], {1, 1, 1}, {1.25f}));
}

TEST(Lstm, InitialStates) {
  // Rc = 1, so ct = xt + Ht-1; H0 = 2, C0 = 1.
  auto in = lstm_inputs({1.f, 2.f}, {0, 0, 0, 1.f});
  in.push_back(kAbsent);
  in.push_back(f32({1, 1, 1}, {2.f}));
  in.push_back(f32({1, 1, 1}, {1.f}));
  auto out = run_node(lstm_node(), in);
  // c1 = 3, C1 = 0.5 + 1.5 = 2, H1 = 1; c2 = 3, C2 = 1 + 1.5 = 2.5, H2 = 1.25
  EXPECT_TRUE(values_are(out[0], {2, 1, 1, 1}, {1.f, 1.25f}));
  EXPECT_TRUE(values_are(out[2], {1, 1, 1}, {2.5f}));
}

TEST(Lstm, GateOrderIsInputOutputForgetCell) {
  // A bias of 100 saturates one gate to 1.
  Floats open_forget(8, 0.f), open_output(8, 0.f);
  open_forget[2] = 100.f;
  open_output[1] = 100.f;
  auto forget = run_node(lstm_node(), lstm_inputs({1.f, 2.f}, {0, 0, 0, 0}, open_forget));
  // C1 = 0 + 0.5, H1 = 0.25; C2 = 0.5 + 1 = 1.5, H2 = 0.75
  EXPECT_TRUE(values_are(forget[0], {2, 1, 1, 1}, {0.25f, 0.75f}));
  auto output = run_node(lstm_node(), lstm_inputs({1.f, 2.f}, {0, 0, 0, 0}, open_output));
  // Ht = Ct: 0.5, 1.25
  EXPECT_TRUE(values_are(output[0], {2, 1, 1, 1}, {0.5f, 1.25f}));
}

TEST(Lstm, InputForgetCouplesTheForgetGate) {
  Floats open_forget(8, 0.f);
  open_forget[2] = 100.f;  // ignored: f = 1 - i = 0.5
  Node n = lstm_node();
  n.set_attr("input_forget", int64_t{1});
  auto out = run_node(n, lstm_inputs({1.f, 2.f}, {0, 0, 0, 0}, open_forget));
  EXPECT_TRUE(values_are(out[0], {2, 1, 1, 1}, {0.25f, 0.625f}));
}

TEST(Lstm, Peepholes) {
  // One step of x = 1 from C0 = 1 with P = (i 1, o 2, f 0.5).
  auto in = lstm_inputs({1.f});
  in.push_back(kAbsent);
  in.push_back(kAbsent);
  in.push_back(f32({1, 1, 1}, {1.f}));
  in.push_back(f32({1, 3}, {1.f, 2.f, 0.5f}));
  auto out = run_node(lstm_node(), in);
  const double i = sigmoid(1.0), f = sigmoid(0.5);
  const double c1 = f * 1.0 + i * 1.0;
  const double o = sigmoid(2.0 * c1);  // the output gate looks at the new cell state
  EXPECT_TRUE(values_are(out[2], {1, 1, 1}, {float(c1)}, kTranscendentalTolerance));
  EXPECT_TRUE(values_are(out[1], {1, 1, 1}, {float(o * c1)}, kTranscendentalTolerance));
}

TEST(Lstm, ClipBoundsGatesButNotTheCellState) {
  auto in = lstm_inputs({1.f});
  in.push_back(kAbsent);
  in.push_back(kAbsent);
  in.push_back(f32({1, 1, 1}, {5.f}));
  Node n = lstm_node();
  n.set_attr("clip", 0.6f);
  auto out = run_node(n, in);
  // c = clip(1) = 0.6; C1 = 2.5 + 0.3 = 2.8; H1 = 0.5 * h(2.8), h unclipped (ONNX Runtime)
  EXPECT_TRUE(values_are(out[2], {1, 1, 1}, {2.8f}));
  EXPECT_TRUE(values_are(out[1], {1, 1, 1}, {1.4f}));
}

TEST(Lstm, BidirectionalBatchFirst) {
  // X [batch 2, seq 2, 1]: row 0 is [1, 3], row 1 is [2, 0]. The reverse direction has Wc = 2.
  Node n = lstm_node("bidirectional");
  n.set_attr("layout", int64_t{1});
  std::vector<Tensor> in = {f32({2, 2, 1}, {1.f, 3.f, 2.f, 0.f}),
                            f32({2, 4, 1}, {0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 2.f}),
                            f32({2, 4, 1}, Floats(8, 0.f))};
  auto out = run_node(n, in);
  // Row 0 forward: C 0.5, 1.75; H 0.25, 0.875. Reverse: t=1: C 3, H 1.5; t=0: C 2.5, H 1.25.
  // Row 1 forward: C 1, 0.5; H 0.5, 0.25. Reverse: t=1: C 0, H 0; t=0: C 2, H 1.
  EXPECT_TRUE(
      values_are(out[0], {2, 2, 2, 1}, {0.25f, 1.25f, 0.875f, 1.5f, 0.5f, 1.f, 0.25f, 0.f}));
  EXPECT_TRUE(values_are(out[1], {2, 2, 1}, {0.875f, 1.25f, 0.25f, 1.f}));
  EXPECT_TRUE(values_are(out[2], {2, 2, 1}, {1.75f, 2.5f, 0.5f, 2.f}));
}

TEST(Lstm, DefaultActivations) {
  // All four gates see x = 1 once, from zero states.
  Node n = make_node("LSTM", {"X", "W", "R"}, {"", "Y_h", "Y_c"}, {{"hidden_size", int64_t{1}}});
  auto out = run_node(n, {f32({1, 1, 1}, {1.f}), f32({1, 4, 1}, {1.f, 1.f, 1.f, 1.f}),
                          f32({1, 4, 1}, {0.f, 0.f, 0.f, 0.f})});
  const double c1 = sigmoid(1.0) * std::tanh(1.0);
  EXPECT_TRUE(values_are(out[2], {1, 1, 1}, {float(c1)}, kTranscendentalTolerance));
  EXPECT_TRUE(values_are(out[1], {1, 1, 1}, {float(sigmoid(1.0) * std::tanh(c1))},
                         kTranscendentalTolerance));
}

// B is computed while running (a graph input, not an initializer): the kernel fuses it per run.
TEST(Lstm, BiasKnownOnlyAtRunTime) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 14;
  g.inputs = {"X", "B"};
  g.outputs = {"Y"};
  g.values["X"] = ValueInfo{DType::kFloat32, SymbolicShape{2, 1, 1}, ""};
  g.values["B"] = ValueInfo{DType::kFloat32, SymbolicShape{1, 8}, ""};
  const auto in = lstm_inputs();
  g.initializers["W"] = in[1];
  g.initializers["R"] = in[2];
  Node n = lstm_node();
  n.inputs = {"X", "W", "R", "B"};
  n.outputs = {"Y"};
  g.nodes = {n};
  Session session(std::move(m));
  Floats open_output(8, 0.f);
  open_output[1 + 4] = 100.f;  // Rbo
  auto out = session.run({in[0], f32({1, 8}, open_output)});
  EXPECT_TRUE(values_are(out[0], {2, 1, 1, 1}, {0.5f, 1.25f}));
}

// ---- Activations and attribute parsing ---------------------------------------------------------

TEST(RnnActivations, Formulas) {
  using K = RnnActivationKind;
  auto f = [](K kind, float x, float alpha = 0.f, float beta = 0.f) {
    return ref::apply_activation(RnnActivation{kind, alpha, beta}, x);
  };
  EXPECT_FLOAT_EQ(f(K::kRelu, -1.f), 0.f);
  EXPECT_FLOAT_EQ(f(K::kRelu, 2.f), 2.f);
  EXPECT_FLOAT_EQ(f(K::kSigmoid, 0.f), 0.5f);
  EXPECT_FLOAT_EQ(f(K::kAffine, 2.f, 3.f, 1.f), 7.f);
  EXPECT_FLOAT_EQ(f(K::kLeakyRelu, -2.f, 0.1f), -0.2f);
  EXPECT_FLOAT_EQ(f(K::kThresholdedRelu, 0.5f, 1.f), 0.f);
  EXPECT_FLOAT_EQ(f(K::kThresholdedRelu, 1.5f, 1.f), 1.5f);
  EXPECT_FLOAT_EQ(f(K::kScaledTanh, 1.f, 2.f, 0.5f), 2.f * std::tanh(0.5f));
  EXPECT_FLOAT_EQ(f(K::kHardSigmoid, 1.f, 0.2f, 0.5f), 0.7f);
  EXPECT_FLOAT_EQ(f(K::kHardSigmoid, 10.f, 0.2f, 0.5f), 1.f);
  EXPECT_FLOAT_EQ(f(K::kElu, -1.f, 2.f), 2.f * (std::exp(-1.f) - 1.f));
  EXPECT_FLOAT_EQ(f(K::kSoftsign, 1.f), 0.5f);
  EXPECT_FLOAT_EQ(f(K::kSoftplus, 0.f), std::log(2.f));
  EXPECT_FLOAT_EQ(f(K::kSoftplus, 200.f), 200.f);  // no overflow
}

TEST(RnnAttributes, AlphaAndBetaGoToTheActivationsThatTakeThem) {
  Node n = make_node("LSTM", {"X", "W", "R"}, {"Y"},
                     {{"activations", Strings{"leakyrelu", "Tanh", "HardSigmoid"}},
                      {"activation_alpha", Floats{0.3f, 0.4f}},
                      {"activation_beta", Floats{0.6f}}});
  const RnnAttributes a = parse_rnn_attributes(n, 14);
  ASSERT_EQ(a.activations.size(), 3u);
  EXPECT_EQ(a.activations[0].kind, RnnActivationKind::kLeakyRelu);
  EXPECT_FLOAT_EQ(a.activations[0].alpha, 0.3f);
  EXPECT_EQ(a.activations[1].kind, RnnActivationKind::kTanh);
  EXPECT_EQ(a.activations[2].kind, RnnActivationKind::kHardSigmoid);
  EXPECT_FLOAT_EQ(a.activations[2].alpha, 0.4f);
  EXPECT_FLOAT_EQ(a.activations[2].beta, 0.6f);
}

TEST(RnnAttributes, DefaultsOfTheOnnxOps) {
  Node n =
      make_node("GRU", {"X", "W", "R"}, {"Y"},
                {{"direction", std::string("bidirectional")},
                 {"activations", Strings{"LeakyRelu", "HardSigmoid", "Elu", "ThresholdedRelu"}}});
  const RnnAttributes a = parse_rnn_attributes(n, 7);
  EXPECT_EQ(a.num_directions(), 2);
  EXPECT_FLOAT_EQ(a.activation(0, 0).alpha, 0.01f);
  EXPECT_FLOAT_EQ(a.activation(0, 1).alpha, 0.2f);
  EXPECT_FLOAT_EQ(a.activation(0, 1).beta, 0.5f);
  EXPECT_FLOAT_EQ(a.activation(1, 0).alpha, 1.f);
  EXPECT_FLOAT_EQ(a.activation(1, 1).alpha, 1.f);
  const RnnAttributes lstm = parse_rnn_attributes(make_node("LSTM", {"X", "W", "R"}, {"Y"}), 7);
  EXPECT_EQ(lstm.activation(0, 0).kind, RnnActivationKind::kSigmoid);
  EXPECT_EQ(lstm.activation(0, 1).kind, RnnActivationKind::kTanh);
  EXPECT_EQ(lstm.activation(0, 2).kind, RnnActivationKind::kTanh);
  EXPECT_TRUE(std::isinf(lstm.clip));
}

TEST(RnnAttributes, RejectsBadValues) {
  auto parse = [](std::initializer_list<std::pair<std::string, AttributeValue>> attrs,
                  int64_t opset = 14) {
    return [=] { parse_rnn_attributes(make_node("LSTM", {"X", "W", "R"}, {"Y"}, attrs), opset); };
  };
  expect_error(parse({{"direction", std::string("sideways")}}), ErrorKind::kInvalidModel,
               "'direction' is 'sideways'");
  expect_error(parse({{"activations", Strings{"Sigmoid", "Tanh", "Swish"}}}),
               ErrorKind::kInvalidModel, "unknown activation 'Swish'");
  expect_error(parse({{"activations", Strings{"Sigmoid", "Tanh"}}}), ErrorKind::kInvalidModel,
               "has 2 names, expected 3");
  expect_error(parse({{"hidden_size", int64_t{0}}}), ErrorKind::kInvalidModel, "positive");
  expect_error(parse({{"layout", int64_t{2}}}), ErrorKind::kInvalidModel, "0 or 1");
  expect_error(parse({{"clip", -1.f}}), ErrorKind::kInvalidModel, "'clip'");
}

// ---- Shape inference and shape errors ----------------------------------------------------------

struct Inferred {
  std::vector<ValueInfo> outputs;
};

Inferred infer(const Node& node, std::vector<ValueInfo> inputs, int64_t opset = 14) {
  std::vector<const ValueInfo*> ptrs;
  for (const ValueInfo& v : inputs) ptrs.push_back(v.dtype == DType::kUndefined ? nullptr : &v);
  std::vector<ValueInfo> outputs(node.outputs.size());
  InferContext ctx(node, opset, ptrs, std::vector<const Tensor*>(ptrs.size(), nullptr), outputs);
  op_registry().find("", node.op_type)->infer(ctx);
  return {outputs};
}

ValueInfo f32_info(SymbolicShape shape) { return ValueInfo{DType::kFloat32, shape, ""}; }

TEST(RnnInfer, SymbolicBatchAndSequence) {
  Node n = make_node("LSTM", {"X", "W", "R"}, {"Y", "Y_h", "Y_c"});
  auto got = infer(
      n, {f32_info({Dim("S"), Dim("N"), 28}), f32_info({1, 512, 28}), f32_info({1, 512, 128})});
  EXPECT_EQ(*got.outputs[0].shape, (SymbolicShape{Dim("S"), 1, Dim("N"), 128}));
  EXPECT_EQ(*got.outputs[1].shape, (SymbolicShape{1, Dim("N"), 128}));
  EXPECT_EQ(*got.outputs[2].shape, (SymbolicShape{1, Dim("N"), 128}));
  EXPECT_EQ(got.outputs[0].dtype, DType::kFloat32);
}

TEST(RnnInfer, BatchFirstBidirectional) {
  Node n = make_node("GRU", {"X", "W", "R"}, {"Y", "Y_h"},
                     {{"hidden_size", int64_t{5}},
                      {"direction", std::string("bidirectional")},
                      {"layout", int64_t{1}}});
  auto got = infer(n, {f32_info({3, 7, 2}), f32_info({2, 15, 2}), f32_info({2, 15, 5})});
  EXPECT_EQ(*got.outputs[0].shape, (SymbolicShape{3, 7, 2, 5}));
  EXPECT_EQ(*got.outputs[1].shape, (SymbolicShape{3, 2, 5}));
}

TEST(RnnInfer, UnknownRanks) {
  Node n = make_node("RNN", {"X", "W", "R"}, {"Y", "Y_h"});
  ValueInfo unknown{DType::kFloat32, std::nullopt, ""};
  auto got = infer(n, {unknown, unknown, f32_info({1, 4, 4})});
  EXPECT_EQ(*got.outputs[0].shape, (SymbolicShape{Dim(), 1, Dim(), 4}));
  // Batch from initial_h when X says nothing.
  Node with_h = make_node("RNN", {"X", "W", "R", "", "", "initial_h"}, {"Y"});
  got = infer(with_h, {unknown, unknown, f32_info({1, 4, 4}), {}, {}, f32_info({1, 6, 4})});
  EXPECT_EQ(*got.outputs[0].shape, (SymbolicShape{Dim(), 1, 6, 4}));
}

TEST(RnnInfer, NamesTheInconsistentInput) {
  Node n = make_node("LSTM", {"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"},
                     {"Y"}, {{"hidden_size", int64_t{2}}});
  auto inputs = [](int bad, SymbolicShape shape) {
    std::vector<ValueInfo> v = {f32_info({4, 3, 5}),
                                f32_info({1, 8, 5}),
                                f32_info({1, 8, 2}),
                                f32_info({1, 16}),
                                {DType::kInt32, SymbolicShape{3}, ""},
                                f32_info({1, 3, 2}),
                                f32_info({1, 3, 2}),
                                f32_info({1, 6})};
    v[bad].shape = std::move(shape);
    return v;
  };
  EXPECT_NO_THROW(infer(n, inputs(0, {4, 3, 5})));
  auto fails = [&](int bad, SymbolicShape shape, const std::string& fragment) {
    expect_error([&] { infer(n, inputs(bad, shape)); }, ErrorKind::kInvalidModel, fragment);
  };
  fails(0, {4, 3}, "input X has shape [4,3], expected rank 3");
  fails(1, {1, 7, 5}, "input W has shape [1,7,5]; dim 1 must be 4*hidden_size = 8, got 7");
  fails(1, {1, 8, 6}, "input W has shape [1,8,6]; dim 2 must be input_size = 5");
  fails(2, {1, 8, 3}, "input R has shape [1,8,3]; dim 2 must be hidden_size = 2");
  fails(2, {2, 8, 2}, "dim 0 must be num_directions = 1");
  fails(3, {1, 8}, "input B has shape [1,8]; dim 1 must be 8*hidden_size = 16");
  fails(4, {2}, "input sequence_lens has shape [2]; dim 0 must be batch_size = 3");
  fails(5, {1, 4, 2}, "input initial_h has shape [1,4,2]; dim 1 must be batch_size = 3");
  fails(6, {1, 3, 1}, "input initial_c has shape [1,3,1]; dim 2 must be hidden_size = 2");
  fails(7, {1, 9}, "input P has shape [1,9]; dim 1 must be 3*hidden_size = 6");
}

TEST(RnnInfer, RejectsWrongInputTypes) {
  Node n = make_node("RNN", {"X", "W", "R", "", "sequence_lens"}, {"Y"});
  expect_error(
      [&] {
        infer(n, {f32_info({2, 1, 1}),
                  f32_info({1, 1, 1}),
                  f32_info({1, 1, 1}),
                  {},
                  {DType::kInt64, SymbolicShape{1}, ""}});
      },
      ErrorKind::kInvalidModel, "input sequence_lens is int64, expected int32");
}

TEST(RnnKernel, OnlyFloat32) {
  Node n = make_node("RNN", {"X", "W", "R"}, {"Y"}, {{"hidden_size", int64_t{1}}});
  auto d = [](Shape s) { return Tensor::zeros(DType::kFloat64, std::move(s)); };
  expect_error(
      [&] {
        run_node(n, {d({1, 1, 1}), d({1, 1, 1}), d({1, 1, 1})});
      },
      ErrorKind::kUnsupported, "only float32");
}

}  // namespace
}  // namespace quench
