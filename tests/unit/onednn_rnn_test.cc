// The fast RNN, GRU and LSTM kernel (kernels/onednn/rnn.cc) against the reference kernel, case by
// case from a table of configurations; each case also checks that the fast kernel was chosen.
#include <random>

#include "quench/session.h"
#include "session_test_util.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::random_tensor;

// The fast kernel sums the products in another order (oneDNN's blocked GEMM) and uses Sigmoid and
// Tanh approximations within 6 ulp; both differences pass through every step of the recurrence,
// where the gates keep them about that size (measured: below 2e-6 absolute on this table).
constexpr double kRnnFastAtol = 1e-5;
constexpr double kRnnFastRtol = 1e-4;

struct RnnCase {
  std::string name;
  std::string op;  // RNN, GRU or LSTM
  int64_t seq_length, batch, input_size, hidden;
  std::string direction = "forward";
  bool bias = true;
  bool sequence_lens = false;  // lengths cycle through seq_length, 0, 1, seq_length - 1, ...
  bool initial_states = false;
  bool peepholes = false;
  std::vector<std::string> activations = {};  // empty: the op's defaults
  std::vector<float> alphas = {}, betas = {};
  float clip = 0.f;  // 0: no clip attribute
  int64_t layout = 0;
  int64_t linear_before_reset = 0;
  int64_t input_forget = 0;
  bool y = true;  // Y requested (Y_h, Y_c always)
};

void PrintTo(const RnnCase& c, std::ostream* os) { *os << c.name; }

int64_t directions(const RnnCase& c) { return c.direction == "bidirectional" ? 2 : 1; }
int64_t gates(const RnnCase& c) { return c.op == "LSTM" ? 4 : c.op == "GRU" ? 3 : 1; }

Model build(const RnnCase& c, std::vector<Tensor>& feeds) {
  std::mt19937 rng(7);
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  const int64_t dirs = directions(c), rows = gates(c) * c.hidden;
  auto add_input = [&](const std::string& name, Tensor t) {
    g.inputs.push_back(name);
    g.values[name] = ValueInfo{t.dtype(), symbolic(t.shape()), ""};
    feeds.push_back(std::move(t));
  };
  const bool batch_first = c.layout == 1;
  add_input("X", random_tensor(batch_first ? Shape{c.batch, c.seq_length, c.input_size}
                                           : Shape{c.seq_length, c.batch, c.input_size},
                               rng, -1.f, 1.f));
  g.initializers["W"] = random_tensor({dirs, rows, c.input_size}, rng, -0.5f, 0.5f);
  g.initializers["R"] = random_tensor({dirs, rows, c.hidden}, rng, -0.5f, 0.5f);
  std::vector<std::string> inputs = {"X", "W", "R", "", "", "", "", ""};
  if (c.bias) {
    g.initializers["B"] = random_tensor({dirs, 2 * rows}, rng, -0.5f, 0.5f);
    inputs[3] = "B";
  }
  if (c.sequence_lens) {
    std::vector<int32_t> lengths;
    const int32_t cycle[] = {static_cast<int32_t>(c.seq_length), 0, 1,
                             static_cast<int32_t>(c.seq_length - 1)};
    for (int64_t batch = 0; batch < c.batch; ++batch) lengths.push_back(cycle[batch % 4]);
    add_input("sequence_lens", Tensor::from_vector<int32_t>({c.batch}, lengths));
    inputs[4] = "sequence_lens";
  }
  const Shape state = batch_first ? Shape{c.batch, dirs, c.hidden} : Shape{dirs, c.batch, c.hidden};
  if (c.initial_states) {
    add_input("initial_h", random_tensor(state, rng, -(1.f), 1.f));
    inputs[5] = "initial_h";
    if (c.op == "LSTM") {
      add_input("initial_c", random_tensor(state, rng, -(1.f), 1.f));
      inputs[6] = "initial_c";
    }
  }
  if (c.peepholes) {
    add_input("P", random_tensor({dirs, 3 * c.hidden}, rng, -0.5f, 0.5f));
    inputs[7] = "P";
  }
  while (inputs.back().empty()) inputs.pop_back();

  Node node;
  node.op_type = c.op;
  node.name = "rnn";
  node.inputs = inputs;
  node.outputs = {c.y ? "Y" : "", "Y_h"};
  if (c.op == "LSTM") node.outputs.push_back("Y_c");
  node.set_attr("hidden_size", c.hidden);
  node.set_attr("direction", c.direction);
  if (!c.activations.empty()) node.set_attr("activations", c.activations);
  if (!c.alphas.empty()) node.set_attr("activation_alpha", c.alphas);
  if (!c.betas.empty()) node.set_attr("activation_beta", c.betas);
  if (c.clip > 0.f) node.set_attr("clip", c.clip);
  if (c.layout != 0) node.set_attr("layout", c.layout);
  if (c.op == "GRU") node.set_attr("linear_before_reset", c.linear_before_reset);
  if (c.op == "LSTM") node.set_attr("input_forget", c.input_forget);
  g.nodes.push_back(node);
  for (const std::string& out : node.outputs) {
    if (!out.empty()) g.outputs.push_back(out);
  }
  return m;
}

class RnnFastKernel : public ::testing::TestWithParam<RnnCase> {};

TEST_P(RnnFastKernel, MatchesReference) {
  const RnnCase& c = GetParam();
  std::vector<Tensor> feeds;
  const Model model = build(c, feeds);
  const Session ref(model, testing::one_thread(false));
  const Session fast(model, testing::one_thread(true));
  const auto want = ref.run(feeds);
  const auto got = fast.run(feeds);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(testing::tensors_near(got[i], want[i], kRnnFastAtol, kRnnFastRtol))
        << "output " << model.graph.outputs[i];
  }
  EXPECT_EQ(testing::impl_of(fast, feeds, "rnn").rfind("onednn:rnn/", 0), 0u)
      << "the fast kernel was not selected: " << testing::impl_of(fast, feeds, "rnn");
}

using Names = std::vector<std::string>;

const std::vector<RnnCase> kCases = {
    // LSTM
    {.name = "lstm_defaults",
     .op = "LSTM",
     .seq_length = 5,
     .batch = 3,
     .input_size = 8,
     .hidden = 16},
    {.name = "lstm_batch1",
     .op = "LSTM",
     .seq_length = 5,
     .batch = 1,
     .input_size = 8,
     .hidden = 16},
    {.name = "lstm_no_bias",
     .op = "LSTM",
     .seq_length = 4,
     .batch = 2,
     .input_size = 3,
     .hidden = 5,
     .bias = false},
    {.name = "lstm_initial_states",
     .op = "LSTM",
     .seq_length = 4,
     .batch = 3,
     .input_size = 6,
     .hidden = 12,
     .initial_states = true},
    {.name = "lstm_peepholes",
     .op = "LSTM",
     .seq_length = 6,
     .batch = 3,
     .input_size = 4,
     .hidden = 20,
     .initial_states = true,
     .peepholes = true},
    {.name = "lstm_peepholes_batch1",
     .op = "LSTM",
     .seq_length = 6,
     .batch = 1,
     .input_size = 4,
     .hidden = 20,
     .initial_states = true,
     .peepholes = true},
    {.name = "lstm_clip",
     .op = "LSTM",
     .seq_length = 5,
     .batch = 2,
     .input_size = 7,
     .hidden = 9,
     .peepholes = true,
     .clip = 0.4f},
    {.name = "lstm_input_forget",
     .op = "LSTM",
     .seq_length = 5,
     .batch = 2,
     .input_size = 7,
     .hidden = 9,
     .initial_states = true,
     .input_forget = 1},
    {.name = "lstm_reverse_sequence_lens",
     .op = "LSTM",
     .seq_length = 5,
     .batch = 6,
     .input_size = 4,
     .hidden = 8,
     .direction = "reverse",
     .sequence_lens = true,
     .initial_states = true},
    {.name = "lstm_bidirectional",
     .op = "LSTM",
     .seq_length = 5,
     .batch = 4,
     .input_size = 6,
     .hidden = 10,
     .direction = "bidirectional",
     .sequence_lens = true,
     .initial_states = true,
     .peepholes = true},
    {.name = "lstm_bidirectional_batch1",
     .op = "LSTM",
     .seq_length = 5,
     .batch = 1,
     .input_size = 6,
     .hidden = 10,
     .direction = "bidirectional",
     .initial_states = true},
    {.name = "lstm_layout1",
     .op = "LSTM",
     .seq_length = 4,
     .batch = 5,
     .input_size = 3,
     .hidden = 7,
     .direction = "bidirectional",
     .sequence_lens = true,
     .initial_states = true,
     .layout = 1},
    {.name = "lstm_layout1_batch1",
     .op = "LSTM",
     .seq_length = 4,
     .batch = 1,
     .input_size = 3,
     .hidden = 7,
     .direction = "reverse",
     .initial_states = true,
     .layout = 1},
    {.name = "lstm_activations",
     .op = "LSTM",
     .seq_length = 4,
     .batch = 3,
     .input_size = 5,
     .hidden = 6,
     .activations = Names{"HardSigmoid", "Softsign", "Elu"},
     .alphas = {0.3f, 0.8f},
     .betas = {0.4f}},
    {.name = "lstm_bidirectional_activations",
     .op = "LSTM",
     .seq_length = 4,
     .batch = 2,
     .input_size = 5,
     .hidden = 6,
     .direction = "bidirectional",
     .activations = Names{"Sigmoid", "Tanh", "Tanh", "HardSigmoid", "ScaledTanh", "Softplus"},
     .alphas = {0.25f, 0.9f},
     .betas = {0.5f, 1.2f}},
    {.name = "lstm_partial_panel",
     .op = "LSTM",
     .seq_length = 3,
     .batch = 5,
     .input_size = 33,
     .hidden = 70},
    {.name = "lstm_partial_panel_batch1",
     .op = "LSTM",
     .seq_length = 3,
     .batch = 1,
     .input_size = 33,
     .hidden = 70,
     .peepholes = true},
    {.name = "lstm_fmnist_shape",
     .op = "LSTM",
     .seq_length = 28,
     .batch = 4,
     .input_size = 28,
     .hidden = 128,
     .initial_states = true},
    {.name = "lstm_without_y",
     .op = "LSTM",
     .seq_length = 4,
     .batch = 3,
     .input_size = 5,
     .hidden = 6,
     .sequence_lens = true,
     .y = false},
    // GRU
    {.name = "gru_defaults",
     .op = "GRU",
     .seq_length = 5,
     .batch = 3,
     .input_size = 8,
     .hidden = 16},
    {.name = "gru_batch1", .op = "GRU", .seq_length = 5, .batch = 1, .input_size = 8, .hidden = 16},
    {.name = "gru_linear_before_reset",
     .op = "GRU",
     .seq_length = 5,
     .batch = 3,
     .input_size = 8,
     .hidden = 16,
     .linear_before_reset = 1},
    {.name = "gru_linear_before_reset_batch1",
     .op = "GRU",
     .seq_length = 5,
     .batch = 1,
     .input_size = 8,
     .hidden = 16,
     .initial_states = true,
     .linear_before_reset = 1},
    {.name = "gru_no_bias",
     .op = "GRU",
     .seq_length = 3,
     .batch = 2,
     .input_size = 4,
     .hidden = 5,
     .bias = false},
    {.name = "gru_reverse_sequence_lens",
     .op = "GRU",
     .seq_length = 5,
     .batch = 6,
     .input_size = 4,
     .hidden = 9,
     .direction = "reverse",
     .sequence_lens = true,
     .initial_states = true},
    {.name = "gru_bidirectional_layout1",
     .op = "GRU",
     .seq_length = 4,
     .batch = 5,
     .input_size = 3,
     .hidden = 7,
     .direction = "bidirectional",
     .sequence_lens = true,
     .initial_states = true,
     .layout = 1,
     .linear_before_reset = 1},
    {.name = "gru_bidirectional_batch1",
     .op = "GRU",
     .seq_length = 4,
     .batch = 1,
     .input_size = 3,
     .hidden = 7,
     .direction = "bidirectional",
     .initial_states = true},
    {.name = "gru_activations_clip",
     .op = "GRU",
     .seq_length = 4,
     .batch = 3,
     .input_size = 5,
     .hidden = 6,
     .activations = Names{"HardSigmoid", "Softplus"},
     .alphas = {0.3f},
     .betas = {0.45f},
     .clip = 0.7f},
    {.name = "gru_partial_panel_batch1",
     .op = "GRU",
     .seq_length = 3,
     .batch = 1,
     .input_size = 10,
     .hidden = 70},
    // RNN
    {.name = "rnn_defaults",
     .op = "RNN",
     .seq_length = 5,
     .batch = 3,
     .input_size = 8,
     .hidden = 16},
    {.name = "rnn_batch1",
     .op = "RNN",
     .seq_length = 5,
     .batch = 1,
     .input_size = 8,
     .hidden = 16,
     .initial_states = true},
    {.name = "rnn_relu_clip",
     .op = "RNN",
     .seq_length = 6,
     .batch = 2,
     .input_size = 4,
     .hidden = 5,
     .activations = Names{"Relu"},
     .clip = 0.5f},
    {.name = "rnn_bidirectional_layout1",
     .op = "RNN",
     .seq_length = 4,
     .batch = 5,
     .input_size = 3,
     .hidden = 7,
     .direction = "bidirectional",
     .sequence_lens = true,
     .initial_states = true,
     .activations = Names{"Affine", "ScaledTanh"},
     .alphas = {0.5f, 0.8f},
     .betas = {0.1f, 1.5f},
     .layout = 1},
    {.name = "rnn_reverse_batch1",
     .op = "RNN",
     .seq_length = 4,
     .batch = 1,
     .input_size = 3,
     .hidden = 7,
     .direction = "reverse",
     .activations = Names{"LeakyRelu"},
     .alphas = {0.2f}},
    {.name = "rnn_thresholded_relu_no_bias",
     .op = "RNN",
     .seq_length = 4,
     .batch = 3,
     .input_size = 3,
     .hidden = 4,
     .bias = false,
     .activations = Names{"ThresholdedRelu"},
     .alphas = {0.1f}},
};

INSTANTIATE_TEST_SUITE_P(Table, RnnFastKernel, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<RnnCase>& i) { return i.param.name; });

// W known only at run time: the fast kernel declines and the reference runs.
TEST(RnnFastKernelDeclines, RuntimeWeights) {
  RnnCase c{
      .name = "runtime_w", .op = "LSTM", .seq_length = 3, .batch = 2, .input_size = 4, .hidden = 5};
  std::vector<Tensor> feeds;
  Model model = build(c, feeds);
  Graph& g = model.graph;
  Tensor w = g.initializers.at("W");
  g.initializers.erase("W");
  g.inputs.push_back("W");
  g.values["W"] = ValueInfo{DType::kFloat32, symbolic(w.shape()), ""};
  feeds.push_back(w);
  SessionOptions options;
  options.threads = 1;
  const Session session(model, options);
  EXPECT_EQ(testing::impl_of(session, feeds, "rnn"), "ref");
}

// A sequence length past seq_length is a run-time error, as in the reference kernel.
TEST(RnnFastKernelErrors, SequenceLengthOutOfRange) {
  const RnnCase c{.name = "bad_lengths",
                  .op = "GRU",
                  .seq_length = 3,
                  .batch = 2,
                  .input_size = 4,
                  .hidden = 5,
                  .sequence_lens = true};
  std::vector<Tensor> feeds;
  const Model model = build(c, feeds);
  feeds[1] = Tensor::from_vector<int32_t>({2}, {3, 4});
  SessionOptions options;
  options.threads = 1;
  const Session session(model, options);
  ASSERT_EQ(testing::impl_of(session, feeds, "rnn").rfind("onednn:rnn/", 0), 0u);
  try {
    session.run(feeds);
    FAIL() << "expected a quench::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("sequence_lens[1] is 4"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quench
