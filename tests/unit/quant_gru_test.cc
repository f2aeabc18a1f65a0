// quench's integer GRU (internal DynamicQuantizeGRU, docs/quantization.md eqs. (136)-(138)): the
// fast kernel (kernels/x86/quant_gru.cc) against the reference kernel (kernels/ref/quant_gru.cc)
// case by case from a table of one-node graphs; then the weight-only file `quench quantize --mode
// dynamic` writes for a GRU, which the runtime lowers to it, against the float GRU on the
// dequantized weights; and the GRUs the lowering leaves in float.
#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

#include "kernels/x86/cpu_features.h"
#include "kernels/x86/int8_gemv.h"
#include "ops/domains.h"
#include "quench/quantize.h"
#include "quench/session.h"
#include "session_test_util.h"
#include "test_util.h"

namespace quench {
namespace {

// The integer sums are exact and scaled and added in the reference's order (the build does not
// contract multiply-adds: -ffp-contract=off), so the pre-activations equal the reference's; what
// remains is the cell's Sigmoid and Tanh approximations, within 5 float ulps (rnn_cell.h),
// carried through the recurrence and the next step's quantizations of H and rt (.) H. A value
// within an ulp of a rounding tie of eq. (37) could move one step of a later quantization (a
// change of at most s_h · Σ|R_row| · s_R in one pre-activation); these seeds do not hit one, and
// the measured difference stays below 1e-6.
constexpr double kQuantGruFastAtol = 1e-5;
constexpr double kQuantGruFastRtol = 1e-4;

struct QuantGruCase {
  std::string name;
  int64_t seq_length, batch, input_size, hidden;
  std::string direction = "forward";
  int64_t linear_before_reset = 0;
  bool bias = true;
  bool sequence_lens = false;  // lengths cycle through seq_length, 0, seq_length - 2, 1, ...
  bool initial_h = false;
  float clip = 0.f;  // 0: no clip attribute
  std::vector<std::string> activations = {};
  bool y = true;
};

void PrintTo(const QuantGruCase& c, std::ostream* os) { *os << c.name; }

Tensor random_int8(const Shape& shape, std::mt19937& rng) {
  std::uniform_int_distribution<int> value(-127, 127);
  std::vector<int8_t> v(static_cast<size_t>(shape_numel(shape)));
  for (int8_t& x : v) x = static_cast<int8_t>(value(rng));
  return Tensor::from_vector<int8_t>(shape, v);
}

Tensor random_scales(const Shape& shape, float base, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(0.5f * base, 1.5f * base);
  Tensor t = Tensor::empty(DType::kFloat32, shape);
  for (float& v : t.values<float>()) v = u(rng);
  return t;
}

Model build(const QuantGruCase& c, std::vector<Tensor>& feeds) {
  std::mt19937 rng(17);
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.opsets[kInternalDomain] = 17;
  const int64_t dirs = c.direction == "bidirectional" ? 2 : 1, rows = 3 * c.hidden;
  auto add_input = [&](const std::string& name, Tensor t) {
    g.inputs.push_back(name);
    g.values[name] = ValueInfo{t.dtype(), symbolic(t.shape()), ""};
    feeds.push_back(std::move(t));
  };
  auto add_constant = [&](const std::string& name, Tensor t) {
    g.values[name] = ValueInfo{t.dtype(), symbolic(t.shape()), ""};
    g.initializers[name] = std::move(t);
  };
  std::vector<std::string> inputs(8);
  add_input("X", testing::random_tensor({c.seq_length, c.batch, c.input_size}, rng));
  inputs[0] = "X";
  add_constant("W", random_int8({dirs, rows, c.input_size}, rng));
  add_constant("R", random_int8({dirs, rows, c.hidden}, rng));
  inputs[1] = "W";
  inputs[2] = "R";
  if (c.bias) {
    add_constant("B", testing::random_tensor({dirs, 2 * rows}, rng, -0.5f, 0.5f));
    inputs[3] = "B";
  }
  if (c.sequence_lens) {
    std::vector<int32_t> lengths;
    const int32_t cycle[] = {static_cast<int32_t>(c.seq_length), 0,
                             static_cast<int32_t>(c.seq_length - 2), 1};
    for (int64_t batch = 0; batch < c.batch; ++batch) lengths.push_back(cycle[batch % 4]);
    add_input("sequence_lens", Tensor::from_vector<int32_t>({c.batch}, lengths));
    inputs[4] = "sequence_lens";
  }
  if (c.initial_h) {
    add_input("initial_h", testing::random_tensor({dirs, c.batch, c.hidden}, rng));
    inputs[5] = "initial_h";
  }
  // Scales that keep the pre-activations of order 1: |w| up to 127 over K taps.
  add_constant("W_scale",
               random_scales({dirs, rows}, 4.f / static_cast<float>(c.input_size) / 127.f, rng));
  add_constant("R_scale",
               random_scales({dirs, rows}, 4.f / static_cast<float>(c.hidden) / 127.f, rng));
  inputs[6] = "W_scale";
  inputs[7] = "R_scale";

  Node node = testing::make_node("DynamicQuantizeGRU", inputs, {c.y ? "Y" : "", "Y_h"},
                                 {{"hidden_size", c.hidden},
                                  {"direction", c.direction},
                                  {"linear_before_reset", c.linear_before_reset}},
                                 kInternalDomain);
  node.name = "qgru";
  if (!c.activations.empty()) node.set_attr("activations", c.activations);
  if (c.clip > 0.f) node.set_attr("clip", c.clip);
  g.nodes.push_back(node);
  for (const std::string& out : node.outputs) {
    if (out.empty()) continue;
    g.outputs.push_back(out);
    g.values[out] = ValueInfo{DType::kFloat32, std::nullopt, ""};
  }
  return m;
}

class QuantGruFastKernel : public ::testing::TestWithParam<QuantGruCase> {};

TEST_P(QuantGruFastKernel, MatchesReference) {
  const QuantGruCase& c = GetParam();
  std::vector<Tensor> feeds;
  const Model model = build(c, feeds);
  const Session ref(model, testing::one_thread(false));
  const Session fast(model, testing::one_thread(true));
  const auto want = ref.run(feeds);
  const auto got = fast.run(feeds);
  ASSERT_EQ(got.size(), want.size());
  double largest = 0, magnitude = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(testing::tensors_near(got[i], want[i], kQuantGruFastAtol, kQuantGruFastRtol))
        << "output " << model.graph.outputs[i];
    const auto g = got[i].to_double_vector(), w = want[i].to_double_vector();
    for (size_t j = 0; j < g.size(); ++j) {
      largest = std::max(largest, std::abs(g[j] - w[j]));
      magnitude = std::max(magnitude, std::abs(w[j]));
    }
  }
  EXPECT_GT(magnitude, 0.05) << "the case computes nothing to compare";
  std::ostringstream text;
  text << largest;
  RecordProperty("max_difference", text.str());
  const std::string impl = testing::impl_of(fast, feeds, "qgru");
  if (x86::cpu_features().avx2) {
    EXPECT_EQ(impl.rfind("x86:quant_gru/", 0), 0u) << "chosen: " << impl;
    // 3h columns a multiple of 16: the packed VNNI loop at every batch where the CPU has it,
    // else the AVX2 GEMV at batch 1.
    if (c.hidden % 16 == 0 && x86::PackedInt8Gemv::available()) {
      EXPECT_NE(impl.find("vnni"), std::string::npos) << "chosen: " << impl;
    } else if (c.batch == 1 && c.hidden % 16 == 0) {
      EXPECT_NE(impl.find("+avx2_gemv"), std::string::npos) << "chosen: " << impl;
    }
  } else {
    EXPECT_EQ(impl, "ref");
  }
}

using Names = std::vector<std::string>;

const std::vector<QuantGruCase> kCases = {
    {.name = "forward", .seq_length = 5, .batch = 3, .input_size = 8, .hidden = 16},
    {.name = "forward_lbr1",
     .seq_length = 5,
     .batch = 3,
     .input_size = 8,
     .hidden = 16,
     .linear_before_reset = 1},
    {.name = "reverse",
     .seq_length = 5,
     .batch = 3,
     .input_size = 7,
     .hidden = 12,
     .direction = "reverse"},
    {.name = "bidirectional",
     .seq_length = 6,
     .batch = 4,
     .input_size = 8,
     .hidden = 16,
     .direction = "bidirectional"},
    {.name = "bidirectional_lbr1",
     .seq_length = 6,
     .batch = 4,
     .input_size = 8,
     .hidden = 10,
     .direction = "bidirectional",
     .linear_before_reset = 1},
    {.name = "no_bias", .seq_length = 4, .batch = 2, .input_size = 3, .hidden = 5, .bias = false},
    {.name = "sequence_lens_initial_h",
     .seq_length = 6,
     .batch = 5,
     .input_size = 6,
     .hidden = 10,
     .direction = "bidirectional",
     .sequence_lens = true,
     .initial_h = true},
    {.name = "sequence_lens_lbr1_no_y",
     .seq_length = 6,
     .batch = 5,
     .input_size = 6,
     .hidden = 10,
     .direction = "reverse",
     .linear_before_reset = 1,
     .sequence_lens = true,
     .y = false},
    {.name = "clip", .seq_length = 5, .batch = 3, .input_size = 6, .hidden = 8, .clip = 0.75f},
    {.name = "activations",
     .seq_length = 4,
     .batch = 2,
     .input_size = 5,
     .hidden = 6,
     .activations = Names{"HardSigmoid", "Softsign"}},
    // Batch 1: the per-step products are packed GEMVs (2h, h and 3h multiples of 16).
    {.name = "batch1", .seq_length = 7, .batch = 1, .input_size = 5, .hidden = 32},
    {.name = "batch1_bidirectional_lbr1_lens",
     .seq_length = 7,
     .batch = 1,
     .input_size = 5,
     .hidden = 16,
     .direction = "bidirectional",
     .linear_before_reset = 1,
     .sequence_lens = true,
     .initial_h = true},
    {.name = "batch1_odd_hidden", .seq_length = 5, .batch = 1, .input_size = 3, .hidden = 5},
    // Batch 6 with 3h a multiple of 16: on VNNI the rows run a whole tile of 4 and a partial one.
    {.name = "rows_tile_and_tail_lens",
     .seq_length = 6,
     .batch = 6,
     .input_size = 7,
     .hidden = 16,
     .direction = "bidirectional",
     .sequence_lens = true,
     .initial_h = true},
    {.name = "fmnist_shape", .seq_length = 28, .batch = 8, .input_size = 28, .hidden = 64},
    {.name = "fmnist_shape_batch1",
     .seq_length = 28,
     .batch = 1,
     .input_size = 28,
     .hidden = 64,
     .linear_before_reset = 1},
};

INSTANTIATE_TEST_SUITE_P(Table, QuantGruFastKernel, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.name; });

// A float GRU model: X [seq, batch, input] -> GRU -> Y (and Y_h), random weights whose rows keep
// Σ|w| <= 1, so that the recurrence does not amplify differences.
Model float_gru(int64_t seq_length, int64_t batch, int64_t input_size, int64_t hidden,
                const std::string& direction, int64_t linear_before_reset, bool initial_h = false) {
  std::mt19937 rng(23);
  const int64_t dirs = direction == "bidirectional" ? 2 : 1;
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  g.values["x"] = ValueInfo{DType::kFloat32, symbolic(Shape{seq_length, batch, input_size}), ""};
  auto add = [&](const std::string& name, Tensor t) {
    g.values[name] = ValueInfo{t.dtype(), symbolic(t.shape()), ""};
    g.initializers[name] = std::move(t);
  };
  const float w_bound = 1.f / static_cast<float>(input_size);
  const float r_bound = 1.f / static_cast<float>(hidden);
  add("W", testing::random_tensor({dirs, 3 * hidden, input_size}, rng, -w_bound, w_bound));
  add("R", testing::random_tensor({dirs, 3 * hidden, hidden}, rng, -r_bound, r_bound));
  add("B", testing::random_tensor({dirs, 6 * hidden}, rng, -0.2f, 0.2f));
  std::vector<std::string> inputs = {"x", "W", "R", "B"};
  if (initial_h) {
    g.inputs.push_back("h0");
    g.values["h0"] = ValueInfo{DType::kFloat32, symbolic(Shape{dirs, batch, hidden}), ""};
    inputs.insert(inputs.end(), {"", "h0"});
  }
  Node gru = testing::make_node("GRU", inputs, {"y", "y_h"},
                                {{"hidden_size", hidden},
                                 {"direction", direction},
                                 {"linear_before_reset", linear_before_reset}});
  gru.name = "gru";
  g.nodes.push_back(gru);
  g.outputs = {"y", "y_h"};
  for (const std::string& out : g.outputs)
    g.values[out] = ValueInfo{DType::kFloat32, std::nullopt, ""};
  return prepare_for_quantization(m);
}

// The largest Σ_k |w[row, k]| over the rows of a float [dirs, rows, K] constant.
double largest_row_sum(const Tensor& w) {
  const int64_t k = w.dim(2), rows = w.dim(0) * w.dim(1);
  double largest = 0;
  for (int64_t row = 0; row < rows; ++row) {
    double sum = 0;
    for (int64_t col = 0; col < k; ++col) sum += std::abs(w.data<float>()[row * k + col]);
    largest = std::max(largest, sum);
  }
  return largest;
}

struct FileCase {
  std::string direction;
  int64_t linear_before_reset;
  int64_t batch;
};

void PrintTo(const FileCase& c, std::ostream* os) {
  *os << c.direction << " linear_before_reset " << c.linear_before_reset << " batch " << c.batch;
}

class QuantGruFile : public ::testing::TestWithParam<FileCase> {};

// The weight-only file runs on the integer GRU, and stays within the error of quantizing the
// input and the hidden state of the float GRU on the dequantized weights: per step each
// pre-activation moves by at most e = s_x/2 · Σ|W_row| + s_h/2 · Σ|R_row| (twice the R term with
// linear_before_reset = 0, which also quantizes rt (.) H), s_x from X's range, s_h <= 2/255 as
// |h| <= 1; Sigmoid and Tanh are 1-Lipschitz, and with Σ|R_row| <= 1 an earlier step's error is
// not amplified, so after T steps the outputs differ by at most kErrorGrowth · T · e (the h update
// mixes the z, r and candidate errors: 1/4 · 2 + 1 < kErrorGrowth).
constexpr double kErrorGrowth = 2.0;

TEST_P(QuantGruFile, RunsIntegerGruWithinQuantizationError) {
  const FileCase& c = GetParam();
  const int64_t seq_length = 12, input_size = 9, hidden = 16;
  const Model fp32 =
      float_gru(seq_length, c.batch, input_size, hidden, c.direction, c.linear_before_reset);
  const Model q = quantize_dynamic(fp32, QuantRecipe{}, DynamicQuantOptions{}, nullptr);
  const Tensor x = testing::random_tensor({seq_length, c.batch, input_size}, 29);
  const Session fast(q, testing::one_thread(true));
  const Session dequantized(q, testing::one_thread(false));  // the float GRU, DQ folded
  bool integer_gru = false;
  for (const StepInfo& step : fast.plan_steps({x.shape()})) {
    if (step.op_type != "DynamicQuantizeGRU") continue;
    integer_gru = true;
    if (x86::cpu_features().avx2) {
      EXPECT_EQ(step.impl.rfind("x86:quant_gru/", 0), 0u) << step.impl;
    }
  }
  EXPECT_TRUE(integer_gru) << "the runtime kept the float GRU";

  float x_min = 0.f, x_max = 0.f;
  for (float v : x.values<float>()) {
    x_min = std::min(x_min, v);
    x_max = std::max(x_max, v);
  }
  const double s_x = (x_max - x_min) / 255.0, s_h = 2.0 / 255.0;
  const double r_terms = c.linear_before_reset ? 1.0 : 2.0;
  const double e = s_x / 2 * largest_row_sum(*fp32.graph.initializer("W")) +
                   r_terms * s_h / 2 * largest_row_sum(*fp32.graph.initializer("R"));
  const double bound = kErrorGrowth * static_cast<double>(seq_length) * e;
  const auto got = fast.run({x});
  const auto want = dequantized.run({x});
  double largest = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(testing::tensors_near(got[i], want[i], bound, 0)) << "output " << i;
    const auto g = got[i].to_double_vector(), w = want[i].to_double_vector();
    for (size_t j = 0; j < g.size(); ++j) largest = std::max(largest, std::abs(g[j] - w[j]));
  }
  RecordProperty("max_difference", std::to_string(largest));
  RecordProperty("bound", std::to_string(bound));
  EXPECT_GT(largest, 0.0) << "the integer GRU should not equal the float one bit for bit";
}

INSTANTIATE_TEST_SUITE_P(Directions, QuantGruFile,
                         ::testing::Values(FileCase{"forward", 0, 4}, FileCase{"forward", 1, 1},
                                           FileCase{"reverse", 0, 1},
                                           FileCase{"bidirectional", 1, 4},
                                           FileCase{"bidirectional", 0, 3}),
                         [](const auto& info) {
                           return info.param.direction + "_lbr" +
                                  std::to_string(info.param.linear_before_reset) + "_batch" +
                                  std::to_string(info.param.batch);
                         });

// Values on the grid of eq. (37) for their own range: codes 0..255 as (q − 128) / 128, both ends
// present in every block of `block` values (each direction's H is quantized on its own), so that
// the range is [−1, 127/128], s = 1/128 and z = 128 exactly, and quantizing them is exact.
Tensor on_grid(const Shape& shape, int64_t block, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> code(0, 255);
  Tensor t = Tensor::empty(DType::kFloat32, shape);
  auto v = t.values<float>();
  for (float& f : v) f = static_cast<float>(code(rng) - 128) / 128.f;
  for (size_t at = 0; at < v.size(); at += static_cast<size_t>(block)) {
    v[at] = -1.f;
    v[at + static_cast<size_t>(block) - 1] = 127.f / 128.f;
  }
  return t;
}

// Float rounding of sums of at most 16 products of order 1 (the float GRU's, and the scaling of
// the exact integer sums), through one Sigmoid/Tanh.
constexpr double kOneStepRoundingTolerance = 1e-5;

// One step from an initial state, X and H0 on the quantization grid: quantizing them loses
// nothing, so with linear_before_reset = 1 the integer GRU is the float GRU on the dequantized
// weights up to float rounding; with 0 the only loss is the quantization of rt (.) H0 (eq. (138)):
// the candidate's pre-activation moves by at most s_rh/2 · Σ|Rh_row|, s_rh <= 2/255, Tanh is
// 1-Lipschitz and Ht takes (1 − zt) <= 1 of it.
TEST_P(QuantGruFile, OneStepOnTheGridIsTheFloatGru) {
  const FileCase& c = GetParam();
  const int64_t input_size = 9, hidden = 16, dirs = c.direction == "bidirectional" ? 2 : 1;
  const Model fp32 =
      float_gru(1, c.batch, input_size, hidden, c.direction, c.linear_before_reset, true);
  const Model q = quantize_dynamic(fp32, QuantRecipe{}, DynamicQuantOptions{}, nullptr);
  const std::vector<Tensor> feeds = {on_grid({1, c.batch, input_size}, c.batch * input_size, 37),
                                     on_grid({dirs, c.batch, hidden}, c.batch * hidden, 41)};
  const auto got = Session(q, testing::one_thread(true)).run(feeds);
  const auto want = Session(q, testing::one_thread(false)).run(feeds);
  const double rh_bound =
      c.linear_before_reset ? 0.0 : 1.0 / 255.0 * largest_row_sum(*fp32.graph.initializer("R"));
  double largest = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(testing::tensors_near(got[i], want[i], kOneStepRoundingTolerance + rh_bound, 0))
        << "output " << i;
    const auto g = got[i].to_double_vector(), w = want[i].to_double_vector();
    for (size_t j = 0; j < g.size(); ++j) largest = std::max(largest, std::abs(g[j] - w[j]));
  }
  RecordProperty("max_difference", std::to_string(largest));
}

// DequantizeLinear -> GRU that the integer GRU does not take stays the float GRU on the folded
// weights: a non-zero zero point, u8 weights.
TEST(QuantGruLowering, AsymmetricOrU8WeightsStayFloat) {
  for (const DType type : {DType::kInt8, DType::kUInt8}) {
    const int64_t seq_length = 4, batch = 2, input_size = 3, hidden = 4;
    Model m = float_gru(seq_length, batch, input_size, hidden, "forward", 0);
    Graph& g = m.graph;
    for (const std::string name : {"W", "R"}) {
      const Tensor& w = *g.initializer(name);
      Tensor data = Tensor::empty(type, w.shape());
      if (type == DType::kInt8) {
        for (int8_t& v : data.values<int8_t>()) v = 3;
      } else {
        for (uint8_t& v : data.values<uint8_t>()) v = 130;
      }
      g.initializers[name + "_q"] = std::move(data);
      g.values[name + "_q"] = ValueInfo{type, symbolic(w.shape()), ""};
      g.initializers[name + "_s"] = Tensor::scalar(0.01f);
      g.values[name + "_s"] = ValueInfo{DType::kFloat32, symbolic(Shape{}), ""};
      Tensor zero_point =
          type == DType::kInt8 ? Tensor::scalar<int8_t>(1) : Tensor::scalar<uint8_t>(128);
      g.values[name + "_z"] = ValueInfo{type, symbolic(Shape{}), ""};
      g.initializers[name + "_z"] = std::move(zero_point);
      g.values[name + "_dq"] = ValueInfo{DType::kFloat32, symbolic(w.shape()), ""};
      g.nodes.insert(g.nodes.begin(),
                     testing::make_node("DequantizeLinear", {name + "_q", name + "_s", name + "_z"},
                                        {name + "_dq"}));
      g.nodes.back().inputs[name == "W" ? 1 : 2] = name + "_dq";
      g.nodes.front().name = name + "_dequantize";
    }
    const Tensor x = testing::random_tensor({seq_length, batch, input_size}, 31);
    const Session fast(m, testing::one_thread(true));
    bool float_gru_runs = false;
    for (const StepInfo& step : fast.plan_steps({x.shape()})) {
      EXPECT_NE(step.op_type, "DynamicQuantizeGRU");
      float_gru_runs = float_gru_runs || step.op_type == "GRU";
    }
    EXPECT_TRUE(float_gru_runs);
    const auto got = fast.run({x});
    const auto want = Session(m, testing::one_thread(false)).run({x});
    EXPECT_TRUE(testing::tensors_near(got[0], want[0], kQuantGruFastAtol, kQuantGruFastRtol));
  }
}

}  // namespace
}  // namespace quench
