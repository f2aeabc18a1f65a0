// QDQ files with bad quantization parameters: scales known only at run time stay in float (the
// report says why) and give the float QDQ answer; a zero, negative or non-finite scale, a zero
// point of another type than its data, and per-axis parameters whose length is not the axis's
// extent are kInvalidModel errors naming the node, from the session and from the lowering report
// (what `quench inspect` shows) alike -- never a silently wrong answer.
#include <limits>

#include "qdq_graph_util.h"

namespace quench {
namespace {

using testing::ChainGraph;
using testing::float_reasons;
using testing::random_tensor;
using testing::report_of;

// A Conv between a Q/DQ'd input and a Q/DQ'd output; the weight's DequantizeLinear is 'w_dq'.
struct ConvCase {
  Tensor x_scale = Tensor::scalar(0.02f);
  Tensor w_scale;  // default: the weight's per-channel scales
  Tensor w_zero = Tensor::zeros(DType::kInt8, {4});
  Tensor y_scale = Tensor::scalar(0.03f);
};

// Names the Q and DQ just added "<base>_q" and "<base>_dq".
void name_last_qdq(ChainGraph& b, const std::string& base) {
  auto& nodes = b.g().nodes;
  nodes[nodes.size() - 2].name = base + "_q";
  nodes[nodes.size() - 1].name = base + "_dq";
}

ChainGraph conv_case(const ConvCase& c) {
  ChainGraph b;
  const std::string x = b.input("x", {1, 3, 5, 5});
  const std::string xq =
      b.qdq(x, b.init("x_s", c.x_scale), b.init("x_z", Tensor::scalar(uint8_t{128})));
  name_last_qdq(b, "x");
  const auto [w_q, w_s] = ChainGraph::quantize_weight(random_tensor({4, 3, 3, 3}, 1), 0);
  const std::string w = "w";
  b.g().nodes.push_back(
      testing::make_node("DequantizeLinear",
                         {b.init("w_q", w_q), b.init("w_s", c.w_scale.defined() ? c.w_scale : w_s),
                          b.init("w_z", c.w_zero)},
                         {w}, {{"axis", int64_t{0}}}));
  b.g().nodes.back().name = "w_dq";
  const std::string y = b.op("Conv", {xq, w});
  b.g().nodes.back().name = "conv";
  b.output(b.qdq(y, b.init("y_s", c.y_scale), b.init("y_z", Tensor::scalar(uint8_t{128}))));
  name_last_qdq(b, "y");
  return b;
}

// Planning and running, and the lowering report, fail with kInvalidModel naming the node (a name
// that starts with `node`: the Q or the DQ sharing a bad parameter) and containing `what`.
void expect_invalid(const ChainGraph& b, const std::string& node, const std::string& what) {
  auto check = [&](const char* path, const auto& fn) {
    try {
      fn();
      ADD_FAILURE() << path << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidModel) << path << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find("'" + node), std::string::npos)
          << path << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << path << ": " << e.what();
    }
  };
  check("session", [&] { Session(b.model()).run({random_tensor({1, 3, 5, 5}, 2)}); });
  check("report", [&] { report_of(b); });
}

TEST(LowerQdqBadInput, RunTimeScaleStaysFloatAndCorrect) {
  // The output scale is a graph input: the Conv cannot be lowered and runs in float.
  ChainGraph b;
  const std::string x = b.input("x", {1, 3, 5, 5});
  const std::string y_scale = b.input("y_scale", {});
  const std::string xq = b.qdq(x, 0.02f, 128);
  const auto [w_q, w_s] = ChainGraph::quantize_weight(random_tensor({4, 3, 3, 3}, 3), 0);
  const std::string w =
      b.op("DequantizeLinear", {b.init("w_q", w_q), b.init("w_s", w_s)}, {{"axis", int64_t{0}}});
  b.output(b.qdq(b.op("Conv", {xq, w}), y_scale, b.init("y_z", Tensor::scalar(uint8_t{128}))));
  const LoweringReport r = report_of(b);
  ASSERT_EQ(r.float_nodes.size(), 1u) << float_reasons(r);
  EXPECT_NE(r.float_nodes[0].reason.find("known only at run time"), std::string::npos)
      << r.float_nodes[0].reason;
  // The same graph with the scale as a constant, run as float QDQ, is the reference.
  const Tensor in = random_tensor({1, 3, 5, 5}, 4);
  const auto got = Session(b.model()).run({in, Tensor::scalar(0.03f)});
  ChainGraph ref;
  const std::string rx = ref.qdq(ref.input("x", {1, 3, 5, 5}), 0.02f, 128);
  const std::string rw = ref.op("DequantizeLinear", {ref.init("w_q", w_q), ref.init("w_s", w_s)},
                                {{"axis", int64_t{0}}});
  ref.output(ref.qdq(ref.op("Conv", {rx, rw}), 0.03f, 128));
  SessionOptions no_fuse;
  no_fuse.fuse = false;
  const auto want = Session(ref.model(), no_fuse).run({in});
  EXPECT_TRUE(testing::same(got[0], want[0]));
}

TEST(LowerQdqBadInput, ZeroNegativeOrNonFiniteScaleIsAnError) {
  ConvCase zero;
  zero.y_scale = Tensor::scalar(0.f);
  expect_invalid(conv_case(zero), "y_", "scale");
  ConvCase negative;
  negative.x_scale = Tensor::scalar(-0.02f);
  expect_invalid(conv_case(negative), "x_", "scale");
  ConvCase weight;
  weight.w_scale = Tensor::from_vector<float>({4}, {0.01f, -0.01f, 0.01f, 0.01f});
  expect_invalid(conv_case(weight), "w_dq", "scale");
  ConvCase nan;
  nan.w_scale = Tensor::from_vector<float>(
      {4}, {0.01f, 0.01f, std::numeric_limits<float>::quiet_NaN(), 0.01f});
  expect_invalid(conv_case(nan), "w_dq", "scale");
}

TEST(LowerQdqBadInput, ZeroPointOfAnotherTypeIsAnError) {
  // An s8 weight with u8 zero points (200 is outside int8's range).
  ConvCase c;
  c.w_zero = Tensor::from_vector<uint8_t>({4}, {200, 0, 0, 0});
  expect_invalid(conv_case(c), "w_dq", "zero_point is uint8");
}

TEST(LowerQdqBadInput, PerAxisLengthMismatchIsAnError) {
  ConvCase scales;
  scales.w_scale = Tensor::from_vector<float>({3}, {0.01f, 0.01f, 0.01f});
  scales.w_zero = Tensor::zeros(DType::kInt8, {3});
  expect_invalid(conv_case(scales), "w_dq", "4");
  ConvCase zeros;
  zeros.w_zero = Tensor::zeros(DType::kInt8, {2});
  expect_invalid(conv_case(zeros), "w_dq", "zero point");
}

}  // namespace
}  // namespace quench
