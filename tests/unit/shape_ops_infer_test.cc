// Shape inference of the shape ops on symbolic shapes, and constant folding of the
// Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains that exporters emit.
#include <gtest/gtest.h>

#include <climits>

#include "quench/passes.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;

Tensor ints(std::vector<int64_t> values) {
  return Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values);
}

// A graph with float input x of `shape`; nodes are added by the tests.
Graph graph_with_input(SymbolicShape shape) {
  Graph g;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  g.values["x"] = ValueInfo{DType::kFloat32, std::move(shape), ""};
  return g;
}

std::string shape_of(const Graph& g, const std::string& value) {
  const ValueInfo* info = g.info(value);
  if (info == nullptr || !info->shape) return "unknown";
  return shape_str(*info->shape);
}

TEST(ShapeOpsInference, SymbolicDimsPropagate) {
  Graph g = graph_with_input({Dim("N"), Dim(3), Dim(4), Dim(6)});
  g.initializers["axes1"] = ints({1});
  g.initializers["zero_minus_one"] = ints({0, -1});
  g.initializers["starts"] = ints({1});
  g.initializers["ends"] = ints({INT64_MAX});
  g.initializers["index"] = Tensor::scalar<int64_t>(0);
  g.initializers["pads"] = ints({0, 0, 1, 1, 0, 0, 1, 1});
  g.initializers["repeats"] = ints({1, 2, 1, 1});
  g.initializers["new_shape"] = ints({2, 1, 1, 1, 1});
  g.nodes = {
      make_node("Transpose", {"x"}, {"transposed"}, {{"perm", std::vector<int64_t>{0, 2, 3, 1}}}),
      make_node("Unsqueeze", {"x", "axes1"}, {"unsqueezed"}),
      make_node("Squeeze", {"unsqueezed", "axes1"}, {"squeezed"}),
      make_node("Concat", {"x", "x"}, {"concat"}, {{"axis", int64_t{1}}}),
      make_node("Reshape", {"x", "zero_minus_one"}, {"reshaped"}),
      make_node("Flatten", {"x"}, {"flat"}),
      make_node("Slice", {"x", "starts", "ends", "axes1"}, {"sliced"}),
      make_node("Gather", {"x", "index"}, {"gathered"}, {{"axis", int64_t{1}}}),
      make_node("Split", {"x"}, {"part0", "part1"}, {{"axis", int64_t{-1}}}),
      make_node("Pad", {"x", "pads"}, {"padded"}),
      make_node("Tile", {"x", "repeats"}, {"tiled"}),
      make_node("Expand", {"x", "new_shape"}, {"expanded"}),
      make_node("Identity", {"x"}, {"same"}),
      make_node("SpaceToDepth", {"x"}, {"s2d"}, {{"blocksize", int64_t{2}}}),
  };
  infer_shapes(g);
  EXPECT_EQ(shape_of(g, "transposed"), "[N,4,6,3]");
  EXPECT_EQ(shape_of(g, "unsqueezed"), "[N,1,3,4,6]");
  EXPECT_EQ(shape_of(g, "squeezed"), "[N,3,4,6]");
  EXPECT_EQ(shape_of(g, "concat"), "[N,6,4,6]");
  EXPECT_EQ(shape_of(g, "reshaped"), "[N,72]");
  EXPECT_EQ(shape_of(g, "flat"), "[N,72]");
  EXPECT_EQ(shape_of(g, "sliced"), "[N,2,4,6]");
  EXPECT_EQ(shape_of(g, "gathered"), "[N,4,6]");
  EXPECT_EQ(shape_of(g, "part1"), "[N,3,4,3]");
  EXPECT_EQ(shape_of(g, "padded"), "[N,3,6,8]");
  EXPECT_EQ(shape_of(g, "tiled"), "[N,6,4,6]");
  EXPECT_EQ(shape_of(g, "expanded"), "[2,N,3,4,6]");
  EXPECT_EQ(shape_of(g, "same"), "[N,3,4,6]");
  EXPECT_EQ(shape_of(g, "s2d"), "[N,12,2,3]");
}

TEST(ShapeOpsInference, RankIsKnownWhenValuesAreNot) {
  Graph g = graph_with_input({Dim("N"), Dim(3)});
  g.inputs.push_back("shape");
  g.values["shape"] = ValueInfo{DType::kInt64, SymbolicShape{Dim(3)}, ""};
  g.nodes = {
      make_node("Reshape", {"x", "shape"}, {"reshaped"}),
      make_node("ConstantOfShape", {"shape"}, {"filled"}),
      make_node("Unsqueeze", {"x", "shape"}, {"unsqueezed"}),
      make_node("Expand", {"x", "shape"}, {"expanded"}),
      make_node("Tile", {"x", "shape"}, {"tiled"}),
  };
  infer_shapes(g);
  EXPECT_EQ(shape_of(g, "reshaped"), "[?,?,?]");
  EXPECT_EQ(shape_of(g, "filled"), "[?,?,?]");
  EXPECT_EQ(shape_of(g, "unsqueezed"), "[?,?,?,?,?]");
  EXPECT_EQ(shape_of(g, "expanded"), "[?,?,3]");  // the input's 3 survives any broadcast
  EXPECT_EQ(shape_of(g, "tiled"), "[?,?]");
}

// x -> Shape -> Gather(0) -> Unsqueeze -> Concat([n], [-1]) -> Reshape(x, ...): batch-first
// flatten as PyTorch exports it.
Graph flatten_chain(SymbolicShape input) {
  Graph g = graph_with_input(std::move(input));
  g.outputs = {"y"};
  g.initializers["zero"] = Tensor::scalar<int64_t>(0);
  g.initializers["axes0"] = ints({0});
  g.initializers["minus_one"] = ints({-1});
  g.nodes = {
      make_node("Shape", {"x"}, {"shape"}),
      make_node("Gather", {"shape", "zero"}, {"batch"}),
      make_node("Unsqueeze", {"batch", "axes0"}, {"batch1"}),
      make_node("Concat", {"batch1", "minus_one"}, {"target"}, {{"axis", int64_t{0}}}),
      make_node("Reshape", {"x", "target"}, {"y"}),
  };
  return g;
}

TEST(ShapeOpsInference, FoldsShapeChainsToConstants) {
  Graph g = flatten_chain({Dim(2), Dim(3), Dim(4)});
  EXPECT_EQ(fold_constants(g), 4);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op_type, "Reshape");
  ASSERT_NE(g.initializer("target"), nullptr);
  EXPECT_TRUE(g.initializer("target")->equals(ints({2, -1})));
  EXPECT_EQ(shape_of(g, "y"), "[2,12]");
}

TEST(ShapeOpsInference, SessionRunsShapeChainsForEveryBatch) {
  Model m;
  m.graph = flatten_chain({Dim("N"), Dim(3), Dim(4)});
  Session session(std::move(m));
  for (int64_t batch : {1, 2, 5}) {
    Tensor x = Tensor::empty(DType::kFloat32, {batch, 3, 4});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i);
    auto y = session.run({x});
    ASSERT_EQ(y.size(), 1u);
    EXPECT_TRUE(y[0].equals(x.reshaped({batch, 12}))) << batch;
  }
}

}  // namespace
}  // namespace quench
