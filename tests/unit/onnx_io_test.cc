// ONNX import/export: round trips, external data and malformed or malicious files.
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>

#include "quench/model_io.h"
#include "quench/passes.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;
using testing::test_model;

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

// A one-node model (Identity of an initializer) as a raw proto, to corrupt in tests.
onnx::ModelProto identity_of_initializer(const std::vector<int64_t>& dims, size_t raw_bytes) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* t = g->add_initializer();
  t->set_name("w");
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(std::string(raw_bytes, '\0'));
  auto* n = g->add_node();
  n->set_op_type("Identity");
  n->add_input("w");
  n->add_output("y");
  auto* out = g->add_output();
  out->set_name("y");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  return m;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(OnnxImport, LoadsFixtureModel) {
  Model m = load_model(test_model("cnn.onnx"));
  EXPECT_EQ(m.graph.opset(""), 17);
  ASSERT_EQ(m.graph.inputs, std::vector<std::string>{"input"});
  ASSERT_EQ(m.graph.outputs, std::vector<std::string>{"logits"});
  const ValueInfo* in = m.graph.info("input");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->dtype, DType::kFloat32);
  EXPECT_EQ(shape_str(*in->shape), "[N,1,28,28]");
  EXPECT_EQ(m.graph.nodes.size(), 21u);
  const Tensor* w = m.graph.initializer("classifier.1.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape(), (Shape{128, 128}));
  const Node& conv = m.graph.nodes[4];
  EXPECT_EQ(conv.op_type, "Conv");
  EXPECT_EQ(conv.attr_ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(conv.attr_int("group", 0), 1);
}

TEST(OnnxImport, RoundTripPreservesEverything) {
  Model a = load_model(test_model("vit.onnx"));
  a.metadata.emplace_back("key", "value");
  Model b = parse_model(serialize_model(a));
  EXPECT_EQ(a.graph.nodes.size(), b.graph.nodes.size());
  for (size_t i = 0; i < a.graph.nodes.size(); ++i) {
    const Node& x = a.graph.nodes[i];
    const Node& y = b.graph.nodes[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.op_type, y.op_type);
    EXPECT_EQ(x.inputs, y.inputs);
    EXPECT_EQ(x.outputs, y.outputs);
    EXPECT_EQ(x.attributes.size(), y.attributes.size());
  }
  ASSERT_EQ(a.graph.initializers.size(), b.graph.initializers.size());
  for (const auto& [name, t] : a.graph.initializers) {
    EXPECT_TRUE(t.equals(*b.graph.initializer(name))) << name;
  }
  EXPECT_EQ(b.metadata, a.metadata);
  EXPECT_EQ(b.producer_name, a.producer_name);
  EXPECT_EQ(b.graph.opsets, a.graph.opsets);
  EXPECT_EQ(serialize_model(b), serialize_model(a));
  EXPECT_NO_THROW(check_model(b));
}

TEST(OnnxImport, ExternalDataRoundTrip) {
  TempDir dir;
  Model a = load_model(test_model("cnn.onnx"));
  SaveOptions opts;
  opts.external_data = true;
  save_model(a, dir.path() / "m.onnx", opts);
  ASSERT_TRUE(fs::exists(dir.path() / "m.onnx.data"));
  EXPECT_LT(fs::file_size(dir.path() / "m.onnx"), 100000u);
  Model b = load_model(dir.path() / "m.onnx");
  for (const auto& [name, t] : a.graph.initializers) {
    EXPECT_TRUE(t.equals(*b.graph.initializer(name))) << name;
  }
}

onnx::ModelProto with_external(const std::string& location) {
  onnx::ModelProto m = identity_of_initializer({4}, 0);
  auto* t = m.mutable_graph()->mutable_initializer(0);
  t->clear_raw_data();
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* e = t->add_external_data();
  e->set_key("location");
  e->set_value(location);
  return m;
}

TEST(OnnxImport, RefusesExternalDataOutsideModelFolder) {
  TempDir dir;
  fs::create_directories(dir.path() / "model");
  write_bytes(dir.path() / "secret.bin", std::string(16, 'x'));
  write_bytes(dir.path() / "model" / "ok.bin", std::string(16, '\0'));
  auto load_with = [&](const std::string& location) {
    write_bytes(dir.path() / "model" / "m.onnx", with_external(location).SerializeAsString());
    return error_of([&] { load_model(dir.path() / "model" / "m.onnx"); });
  };
  EXPECT_EQ(load_with("ok.bin"), "");
  EXPECT_NE(load_with("../secret.bin").find("outside the model's folder"), std::string::npos);
  EXPECT_NE(load_with("sub/../../secret.bin").find("outside"), std::string::npos);
  EXPECT_NE(load_with((dir.path() / "secret.bin").string()).find("absolute"), std::string::npos);
  fs::create_symlink(dir.path() / "secret.bin", dir.path() / "model" / "link.bin");
  EXPECT_NE(load_with("link.bin").find("outside"), std::string::npos);
  EXPECT_NE(load_with("missing.bin").find("does not exist"), std::string::npos);
}

TEST(OnnxImport, RefusesShortExternalFile) {
  TempDir dir;
  write_bytes(dir.path() / "short.bin", std::string(8, '\0'));  // 4 floats need 16 bytes
  write_bytes(dir.path() / "m.onnx", with_external("short.bin").SerializeAsString());
  EXPECT_NE(error_of([&] { load_model(dir.path() / "m.onnx"); }).find("has 8 bytes"),
            std::string::npos);
}

TEST(OnnxImport, BadFilesGiveClearErrors) {
  TempDir dir;
  EXPECT_NE(error_of([&] { load_model(dir.path() / "missing.onnx"); }).find("does not exist"),
            std::string::npos);
  write_bytes(dir.path() / "empty.onnx", "");
  EXPECT_NE(error_of([&] { load_model(dir.path() / "empty.onnx"); }).find("is empty"),
            std::string::npos);
  write_bytes(dir.path() / "text.onnx", "this is not a model at all\n");
  EXPECT_NE(error_of([&] { load_model(dir.path() / "text.onnx"); }).find("not"), std::string::npos);
  const std::string bytes = serialize_model(load_model(test_model("cnn.onnx")));
  for (size_t cut : {bytes.size() / 2, bytes.size() - 3, size_t{7}}) {
    write_bytes(dir.path() / "cut.onnx", bytes.substr(0, cut));
    EXPECT_NE(error_of([&] { load_model(dir.path() / "cut.onnx"); }), "") << "cut at " << cut;
  }
  EXPECT_NE(error_of([&] { load_model(dir.path()); }).find("folder"), std::string::npos);
}

TEST(OnnxImport, RefusesInconsistentTensors) {
  auto parse = [](const onnx::ModelProto& m) {
    return error_of([&] { parse_model(m.SerializeAsString()); });
  };
  EXPECT_EQ(parse(identity_of_initializer({2, 3}, 24)), "");
  EXPECT_NE(parse(identity_of_initializer({2, 3}, 20)).find("has 20 bytes of raw data"),
            std::string::npos);
  EXPECT_NE(parse(identity_of_initializer({2, -3}, 24)).find("negative"), std::string::npos);
  // Huge dims are refused from the header alone, before any allocation.
  EXPECT_NE(parse(identity_of_initializer({1000000, 1000000, 1000000}, 4)), "");
  EXPECT_NE(parse(identity_of_initializer({int64_t{1} << 40, int64_t{1} << 40}, 4)), "");
  onnx::ModelProto bad_type = identity_of_initializer({1}, 4);
  bad_type.mutable_graph()->mutable_initializer(0)->set_data_type(99);
  EXPECT_NE(parse(bad_type).find("invalid data type"), std::string::npos);
  onnx::ModelProto no_graph;
  no_graph.set_ir_version(8);
  EXPECT_NE(parse(no_graph).find("no graph"), std::string::npos);
}

TEST(GraphVerify, FindsCyclesAndDanglingInputs) {
  Graph g;
  g.inputs = {"x"};
  g.outputs = {"b"};
  g.nodes = {testing::make_node("Relu", {"b"}, {"a"}), testing::make_node("Relu", {"a"}, {"b"})};
  EXPECT_NE(error_of([&] { verify_graph(g); }).find("cycle"), std::string::npos);
  g.nodes = {testing::make_node("Relu", {"nowhere"}, {"b"})};
  EXPECT_NE(error_of([&] { verify_graph(g); }).find("'nowhere'"), std::string::npos);
  g.nodes = {testing::make_node("Relu", {"x"}, {"b"}), testing::make_node("Relu", {"x"}, {"b"})};
  EXPECT_NE(error_of([&] { verify_graph(g); }).find("defined twice"), std::string::npos);
  g.nodes = {testing::make_node("Relu", {"x"}, {"c"})};
  EXPECT_NE(error_of([&] { verify_graph(g); }).find("graph output 'b'"), std::string::npos);
}

TEST(GraphVerify, ReportsEveryProblem) {
  Graph g;
  g.inputs = {"x"};
  g.outputs = {"y", "missing"};
  // Two dangling inputs, a cycle (r1 <-> r2) and a node downstream of it, an output nothing
  // produces: every one is reported, the downstream node is not called part of the cycle.
  g.nodes = {testing::make_node("Add", {"x", "ghost"}, {"a"}),
             testing::make_node("Mul", {"a", "phantom"}, {"b"}),
             testing::make_node("Relu", {"c2"}, {"c1"}), testing::make_node("Relu", {"c1"}, {"c2"}),
             testing::make_node("Sigmoid", {"c2"}, {"y"})};
  g.nodes[2].name = "r1";
  g.nodes[3].name = "r2";
  g.nodes[4].name = "after";
  const std::vector<GraphProblem> problems = graph_problems(g);
  ASSERT_EQ(problems.size(), 4u);
  EXPECT_EQ(problems[0].value, "ghost");
  EXPECT_EQ(problems[1].value, "phantom");
  EXPECT_EQ(problems[2].value, "missing");
  EXPECT_NE(problems[3].message.find("2 node(s)"), std::string::npos) << problems[3].message;
  EXPECT_NE(problems[3].message.find("'r1'"), std::string::npos);
  EXPECT_EQ(problems[3].message.find("'after'"), std::string::npos) << problems[3].message;
  const std::string all = error_of([&] { verify_graph(g); });
  EXPECT_NE(all.find("4 problems"), std::string::npos) << all;
}

TEST(ShapeInference, CollectsEveryNodeThatFails) {
  Graph g;
  g.inputs = {"x"};
  g.outputs = {"m", "y"};
  g.values["x"].dtype = DType::kFloat32;
  g.values["x"].shape = symbolic(Shape{1, 4});
  g.initializers["w"] = Tensor::zeros(DType::kFloat32, {3, 5});
  g.initializers["z"] = Tensor::zeros(DType::kFloat32, {1, 1, 4});
  g.opsets[""] = 17;
  g.nodes = {testing::make_node("MatMul", {"x", "w"}, {"m"}),
             testing::make_node("Concat", {"x", "z"}, {"y"}, {{"axis", int64_t{0}}}),
             testing::make_node("Relu", {"x"}, {"ok"})};
  std::vector<GraphProblem> problems;
  infer_shapes(g, InferOptions{true, &problems});
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].message.find("MatMul"), std::string::npos) << problems[0].message;
  EXPECT_NE(problems[1].message.find("Concat"), std::string::npos) << problems[1].message;
  // The sweep went on past them.
  ASSERT_NE(g.info("ok"), nullptr);
  EXPECT_EQ(g.info("ok")->dtype, DType::kFloat32);
  // Without a list, the first one throws.
  EXPECT_NE(error_of([&] { infer_shapes(g, InferOptions{true}); }).find("MatMul"),
            std::string::npos);
}

// fuzz_onnx_model's first crash: a QuantizeLinear without outputs made shape inference throw
// std::out_of_range (quench: internal error) instead of naming the node.
TEST(ShapeInference, NodeWithoutItsOutputIsAnInvalidModel) {
  Graph g;
  g.inputs = {"x"};
  g.outputs = {"x"};
  g.values["x"].dtype = DType::kFloat32;
  g.values["x"].shape = symbolic(Shape{4});
  g.initializers["s"] = Tensor::scalar(0.5f);
  g.opsets[""] = 17;
  g.nodes = {testing::make_node("QuantizeLinear", {"x", "s"}, {})};
  const std::string message = error_of([&] { infer_shapes(g, InferOptions{true}); });
  EXPECT_NE(message.find("QuantizeLinear"), std::string::npos) << message;
  EXPECT_NE(message.find("has 0 output(s); output 0 is required"), std::string::npos) << message;
}

TEST(GraphPasses, DeadNodesAndUnusedInitializersAreRemoved) {
  Graph g;
  g.inputs = {"x"};
  g.outputs = {"y"};
  g.initializers["unused"] = Tensor::scalar(1.f);
  g.nodes = {testing::make_node("Relu", {"x"}, {"y"}), testing::make_node("Relu", {"x"}, {"dead"})};
  EXPECT_EQ(eliminate_dead_nodes(g), 1);
  EXPECT_EQ(g.nodes.size(), 1u);
  EXPECT_TRUE(g.initializers.empty());
}

}  // namespace
}  // namespace quench
