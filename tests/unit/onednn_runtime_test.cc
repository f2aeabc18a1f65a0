// How the runtime plans around oneDNN's blocked layouts: a kernel that reads blocked inputs but
// declines a configuration gets plain ones.
#include <random>

#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;

// A fast kernel that reads blocked inputs but declines this configuration in blocked form (here
// QLinearAdd with a broadcast operand, after an int8 convolution's channels-last output) is
// offered plain inputs before the planner falls back to the reference kernel.
TEST(Session, FastKernelDecliningBlockedInputsGetsPlainOnes) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.opsets["com.microsoft"] = 1;
  g.inputs = {"x"};
  g.outputs = {"y"};
  g.values["x"] = ValueInfo{DType::kUInt8, SymbolicShape{Dim("N"), Dim(16), Dim(8), Dim(8)}, ""};
  std::mt19937 rng(8);
  std::uniform_int_distribution<int> byte(0, 255);
  Tensor w = Tensor::empty(DType::kInt8, {16, 16, 1, 1});
  for (int8_t& v : w.values<int8_t>()) v = static_cast<int8_t>(byte(rng) - 128);
  Tensor k = Tensor::empty(DType::kUInt8, {1, 16, 1, 1});
  for (uint8_t& v : k.values<uint8_t>()) v = static_cast<uint8_t>(byte(rng));
  g.initializers["w"] = w;
  g.initializers["k"] = k;
  g.initializers["s"] = Tensor::scalar(0.05f);
  g.initializers["z"] = Tensor::from_vector<uint8_t>({}, {128});
  g.initializers["ws"] = Tensor::scalar(0.01f);
  g.initializers["wz"] = Tensor::from_vector<int8_t>({}, {0});
  g.nodes = {make_node("QLinearConv", {"x", "s", "z", "w", "ws", "wz", "s", "z"}, {"c"}),
             make_node("QLinearAdd", {"c", "s", "z", "k", "s", "z", "s", "z"}, {"y"}, {},
                       "com.microsoft")};
  Tensor x = Tensor::empty(DType::kUInt8, {2, 16, 8, 8});
  for (uint8_t& v : x.values<uint8_t>()) v = static_cast<uint8_t>(byte(rng));
  SessionOptions ref;
  ref.fast_kernels = false;
  const Tensor want = Session(m, ref).run({x})[0];
  const Tensor got = Session(m).run({x})[0];
  for (int64_t i = 0; i < want.numel(); ++i) {  // the int8 convolution is within ±1
    ASSERT_LE(std::abs(got.data<uint8_t>()[i] - want.data<uint8_t>()[i]), 1) << i;
  }
  bool add_is_fast = false;
  for (const StepInfo& step : Session(m).plan_steps({x.shape()})) {
    if (step.op_type == "QLinearAdd") add_is_fast = step.impl.rfind("onednn", 0) == 0;
  }
  EXPECT_TRUE(add_is_fast);
}

}  // namespace
}  // namespace quench
