// Session behaviour: fusions keep results, concurrent runs, thread count, eager fallback, memory
// reuse.
#include <omp.h>

#include <random>
#include <thread>

#include "quench/model_io.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::random_tensor;

using testing::make_node;

// Fused epilogues reorder float operations; this bounds the drift against the unfused graph.
constexpr double kFusionRtol = 1e-4;
constexpr double kFusionAtol = 1e-5;

Model graph_model(std::vector<Node> nodes, const std::string& input, const Shape& input_shape,
                  const std::string& output) {
  Model m;
  m.graph.opsets[""] = 17;
  m.graph.inputs = {input};
  m.graph.outputs = {output};
  SymbolicShape shape = symbolic(input_shape);
  shape[0] = Dim("N");
  m.graph.values[input] = ValueInfo{DType::kFloat32, shape, ""};
  m.graph.nodes = std::move(nodes);
  return m;
}

std::vector<std::string> op_types(const Session& s, const Shape& shape) {
  std::vector<std::string> ops;
  for (const StepInfo& step : s.plan_steps({shape})) ops.push_back(step.op_type);
  return ops;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

void expect_same_as_reference(const Model& m, const Tensor& x) {
  SessionOptions ref;
  ref.fast_kernels = false;
  const auto want = Session(m, ref).run({x});
  const auto got = Session(m).run({x});
  EXPECT_TRUE(testing::tensors_near(got[0], want[0], kFusionAtol, kFusionRtol));
}

// A residual block: Conv -> Relu -> Conv -> Add(shortcut) -> Relu.
Model residual_block() {
  Model m = graph_model(
      {make_node("Conv", {"x", "w1", "b1"}, {"c1"}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}),
       make_node("Relu", {"c1"}, {"r1"}),
       make_node("Conv", {"r1", "w2"}, {"c2"}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}),
       make_node("Add", {"c2", "x"}, {"s"}), make_node("Relu", {"s"}, {"y"})},
      "x", {1, 16, 8, 8}, "y");
  m.graph.initializers["w1"] = random_tensor({16, 16, 3, 3}, 1);
  m.graph.initializers["b1"] = random_tensor({16}, 2);
  m.graph.initializers["w2"] = random_tensor({16, 16, 3, 3}, 3);
  m.graph.nodes[0].name = "conv1";
  m.graph.nodes[2].name = "conv2";
  return m;
}

TEST(RuntimeFusion, ConvAddReluBecomeOneKernel) {
  const Model m = residual_block();
  const Tensor x = random_tensor({2, 16, 8, 8}, 4);
  expect_same_as_reference(m, x);
  const auto ops = op_types(Session(m), x.shape());
  EXPECT_FALSE(contains(ops, "Add"));
  EXPECT_FALSE(contains(ops, "Relu"));
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "FusedConv"), 2);
  // The callback sees every value of the original graph: nothing is fused away then.
  std::vector<std::string> seen;
  RunOptions ro;
  ro.on_tensor = [&](const std::string& name, const Tensor&) { seen.push_back(name); };
  Session(m).run({x}, ro);
  EXPECT_EQ(seen, (std::vector<std::string>{"c1", "r1", "c2", "s", "y"}));
}

TEST(RuntimeFusion, BatchNormFoldsIntoConv) {
  Model m = graph_model({make_node("Conv", {"x", "w"}, {"c"}),
                         make_node("BatchNormalization", {"c", "s", "b", "mean", "var"}, {"y"},
                                   {{"epsilon", 1e-3f}})},
                        "x", {1, 3, 6, 6}, "y");
  m.graph.initializers["w"] = random_tensor({8, 3, 3, 3}, 5);
  m.graph.initializers["s"] = random_tensor({8}, 6);
  m.graph.initializers["b"] = random_tensor({8}, 7);
  m.graph.initializers["mean"] = random_tensor({8}, 8);
  Tensor var = random_tensor({8}, 9);
  for (float& v : var.values<float>()) v = v * v + 0.1f;
  m.graph.initializers["var"] = var;
  const Tensor x = random_tensor({2, 3, 6, 6}, 10);
  expect_same_as_reference(m, x);
  EXPECT_FALSE(contains(op_types(Session(m), x.shape()), "BatchNormalization"));
}

TEST(RuntimeFusion, MatMulBiasGeluBecomeOneKernel) {
  Model m =
      graph_model({make_node("MatMul", {"x", "w"}, {"mm"}), make_node("Add", {"bias", "mm"}, {"h"}),
                   make_node("Div", {"h", "sqrt2"}, {"d"}), make_node("Erf", {"d"}, {"e"}),
                   make_node("Add", {"e", "one"}, {"a"}), make_node("Mul", {"h", "a"}, {"m"}),
                   make_node("Mul", {"m", "half"}, {"y"})},
                  "x", {1, 5, 16}, "y");
  m.graph.initializers["w"] = random_tensor({16, 32}, 11);
  m.graph.initializers["bias"] = random_tensor({32}, 12);
  m.graph.initializers["sqrt2"] = Tensor::scalar(1.4142135f);
  m.graph.initializers["one"] = Tensor::scalar(1.f);
  m.graph.initializers["half"] = Tensor::scalar(0.5f);
  const Tensor x = random_tensor({3, 5, 16}, 13);
  expect_same_as_reference(m, x);
  EXPECT_EQ(op_types(Session(m), x.shape()), std::vector<std::string>{"FusedMatMul"});
}

TEST(Session, ConcurrentRunsMatchSerialRuns) {
  const Model m = residual_block();
  const Session session(m, SessionOptions{.threads = 1});
  std::vector<Tensor> inputs;
  std::vector<Tensor> serial;
  for (int i = 0; i < 6; ++i) {
    inputs.push_back(random_tensor({1 + i % 3, 16, 8, 8}, 100 + i));
    serial.push_back(session.run({inputs.back()})[0]);
  }
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 25; ++round) {
        const size_t i = static_cast<size_t>((t + round) % 6);
        if (!session.run({inputs[i]})[0].equals(serial[i])) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST(Session, RunsWithTheRequestedThreadCount) {
  const Model m = residual_block();
  for (int threads : {1, 2}) {
    const Session session(m, SessionOptions{.threads = threads});
    int seen = -1;
    RunOptions ro;
    ro.on_tensor = [&](const std::string&, const Tensor&) { seen = omp_get_max_threads(); };
    session.run({random_tensor({1, 16, 8, 8}, 1)}, ro);
    EXPECT_EQ(seen, threads);
  }
}

TEST(Session, ShapesThatDependOnValuesRunEagerly) {
  // y = Range(0, n, 1) * 2 with n a graph input: the output length is known only at run time.
  Model m;
  m.graph.opsets[""] = 17;
  m.graph.inputs = {"n"};
  m.graph.outputs = {"y"};
  m.graph.values["n"] = ValueInfo{DType::kFloat32, SymbolicShape{}, ""};
  m.graph.initializers["zero"] = Tensor::scalar(0.f);
  m.graph.initializers["step"] = Tensor::scalar(1.f);
  m.graph.initializers["two"] = Tensor::scalar(2.f);
  m.graph.nodes = {make_node("Range", {"zero", "n", "step"}, {"r"}),
                   make_node("Mul", {"r", "two"}, {"y"})};
  const Session session(m);
  for (float n : {3.f, 5.f}) {
    const Tensor y = session.run({Tensor::scalar(n)})[0];
    ASSERT_EQ(y.numel(), static_cast<int64_t>(n));
    for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.data<float>()[i], 2.f * i);
  }
}

TEST(Session, ArenaReusesMemoryBetweenValues) {
  const Session session(load_model(testing::test_model("resnet20.onnx")));
  const Shape shape{8, 1, 28, 28};
  size_t all_values = 0;
  for (const auto& [name, info] : session.graph().values) {
    if (session.graph().is_initializer(name) || !info.shape) continue;
    SymbolicShape s = *info.shape;
    if (!s.empty() && !s[0].known()) s[0] = Dim(8);
    if (auto c = concrete(s)) all_values += shape_numel(*c) * dtype_size(info.dtype);
  }
  const size_t arena = session.arena_bytes({shape});
  EXPECT_GT(arena, 0u);
  EXPECT_LT(arena * 4, all_values) << "arena " << arena << " vs " << all_values;
}

TEST(Session, PlansPerBatchSizeGiveTheSameRows) {
  const Session session(load_model(testing::test_model("cnn.onnx")));
  const Tensor x = random_tensor({5, 1, 28, 28}, 21);
  const Tensor y5 = session.run({x})[0];
  for (int64_t i = 0; i < 5; ++i) {
    Tensor row = Tensor::empty(DType::kFloat32, {1, 1, 28, 28});
    std::copy_n(x.data<float>() + i * 784, 784, row.data<float>());
    const Tensor y1 = session.run({row})[0];
    Tensor want = Tensor::empty(DType::kFloat32, {1, 10});
    std::copy_n(y5.data<float>() + i * 10, 10, want.data<float>());
    EXPECT_TRUE(testing::tensors_near(y1, want, kFusionAtol, kFusionRtol)) << "row " << i;
  }
}

}  // namespace
}  // namespace quench
