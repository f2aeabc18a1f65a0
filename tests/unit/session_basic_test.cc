#include <gtest/gtest.h>

#include <map>

#include "quench/session.h"

namespace quench {
namespace {

Model add_relu_model() {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  g.outputs = {"y"};
  g.values["x"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("N"), Dim(3)}, ""};
  g.initializers["b"] = Tensor::from_vector<float>({3}, {1.f, -2.f, 0.5f});
  Node add;
  add.op_type = "Add";
  add.name = "add";
  add.inputs = {"x", "b"};
  add.outputs = {"s"};
  Node relu;
  relu.op_type = "Relu";
  relu.name = "relu";
  relu.inputs = {"s"};
  relu.outputs = {"y"};
  g.nodes = {relu, add};  // out of order on purpose
  return m;
}

TEST(SessionBasic, RunsAddRelu) {
  Session session(add_relu_model());
  Tensor x = Tensor::from_vector<float>({2, 3}, {0.f, 1.f, 2.f, -3.f, -4.f, 5.f});
  std::vector<Tensor> y = session.run({x});
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(y[0].shape(), (Shape{2, 3}));
  const std::vector<float> want = {1.f, 0.f, 2.5f, 0.f, 0.f, 5.5f};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y[0].data<float>()[i], want[i]);
}

TEST(SessionBasic, ReportsEveryValueToCallback) {
  Session session(add_relu_model());
  Tensor x = Tensor::from_vector<float>({1, 3}, {0.f, 1.f, 2.f});
  std::vector<std::string> seen;
  RunOptions opts;
  opts.on_tensor = [&](const std::string& name, const Tensor& t) {
    seen.push_back(name);
    EXPECT_EQ(t.shape(), (Shape{1, 3}));
  };
  session.run({x}, opts);
  EXPECT_EQ(seen, (std::vector<std::string>{"s", "y"}));
}

// y = x · float(N)^-0.5 with N the batch size: the factor becomes a constant once the input's
// shape is known (as the attention scale of an exported transformer does), and the callback must
// still see it, at every run.
TEST(SessionBasic, ReportsValuesFoldedOnceShapesAreKnown) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  g.outputs = {"y"};
  g.values["x"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("N"), Dim(3)}, ""};
  g.initializers["zero"] = Tensor::from_vector<int64_t>({1}, {0});
  g.initializers["power"] = Tensor::scalar(-0.5f);
  auto node = [](std::string op, std::vector<std::string> in, std::string out) {
    Node n;
    n.op_type = std::move(op);
    n.name = out;
    n.inputs = std::move(in);
    n.outputs = {std::move(out)};
    return n;
  };
  Node cast = node("Cast", {"n"}, "n_float");
  cast.set_attr("to", int64_t{1});
  g.nodes = {node("Shape", {"x"}, "shape"), node("Gather", {"shape", "zero"}, "n"), cast,
             node("Pow", {"n_float", "power"}, "factor"), node("Mul", {"x", "factor"}, "y")};
  Session session(std::move(m));
  for (int run = 0; run < 2; ++run) {
    std::map<std::string, float> first;
    RunOptions opts;
    opts.on_tensor = [&](const std::string& name, const Tensor& t) {
      if (t.dtype() == DType::kFloat32) first[name] = t.data<float>()[0];
    };
    session.run({Tensor::from_vector<float>({4, 3}, std::vector<float>(12, 1.f))}, opts);
    ASSERT_TRUE(first.count("factor")) << "run " << run;
    EXPECT_FLOAT_EQ(first["factor"], 0.5f);
    EXPECT_FLOAT_EQ(first["y"], 0.5f);
  }
}

TEST(SessionBasic, RejectsWrongShapeAndType) {
  Session session(add_relu_model());
  EXPECT_THROW(session.run({Tensor::zeros(DType::kFloat32, {2, 4})}), Error);
  EXPECT_THROW(session.run({Tensor::zeros(DType::kInt64, {2, 3})}), Error);
  EXPECT_THROW(session.run({}), Error);
}

}  // namespace
}  // namespace quench
