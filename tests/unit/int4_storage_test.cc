// --int4-storage: the opset upgrade to 21 (passes/upgrade_opset.cc), 4-bit weights stored as ONNX
// INT4 behind DequantizeLinear (quant/int4_storage.h), and the runtime's widening of them
// (passes/widen_packed_integers.cc). A model computes the same before and after each.
#include <gtest/gtest.h>

#include "core/packing.h"
#include "quant/int4_storage.h"
#include "quench/error.h"
#include "quench/passes.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make;
using testing::make_node;
using testing::same;
using Ints = std::vector<int64_t>;

Model base_model(int64_t opset) {
  Model m;
  m.graph.opsets[""] = opset;
  m.graph.inputs = {"X"};
  m.graph.values["X"] = ValueInfo{DType::kFloat32, symbolic({2, 6}), ""};
  return m;
}

void add_output(Model& m, const std::string& name) { m.graph.outputs.push_back(name); }

// X -> ReduceMean(axes [1]) and X -> Split(axis 1, three equal parts, no sizes).
Model reduce_and_split(int64_t opset) {
  Model m = base_model(opset);
  m.graph.nodes.push_back(make_node("ReduceMean", {"X"}, {"R"}, {{"axes", Ints{1}}}));
  m.graph.nodes.push_back(make_node("Split", {"X"}, {"A", "B", "C"}, {{"axis", int64_t{1}}}));
  m.graph.nodes[0].name = "reduce";
  m.graph.nodes[1].name = "split";
  for (const char* o : {"R", "A", "C"}) add_output(m, o);
  return m;
}

TEST(UpgradeOpset, ReduceAxesAndSplitKeepTheirMeaning) {
  const Tensor x = testing::random_tensor({2, 6}, 1);
  Model m = reduce_and_split(17);
  const std::vector<Tensor> before = Session(m).run({x});
  EXPECT_EQ(upgrade_opset(m.graph, 21), 2);
  EXPECT_EQ(m.graph.opset(""), 21);
  const Node& reduce = m.graph.nodes[0];
  EXPECT_FALSE(reduce.has_attr("axes"));
  ASSERT_EQ(reduce.inputs.size(), 2u);
  EXPECT_TRUE(same(*m.graph.initializer(reduce.inputs[1]), make<int64_t>({1}, {1})));
  EXPECT_EQ(m.graph.nodes[1].attr_int("num_outputs", 0), 3);
  const std::vector<Tensor> after = Session(m).run({x});
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(same(after[i], before[i]));
  EXPECT_EQ(upgrade_opset(m.graph, 21), 0);  // already there
}

TEST(UpgradeOpset, RefusesWhatItCannotRewrite) {
  const auto kind_of = [](Model m) {
    try {
      upgrade_opset(m.graph, 21);
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::kInternal;  // not refused
  };
  EXPECT_EQ(kind_of(reduce_and_split(12)), ErrorKind::kUnsupported);
  Model with_if = base_model(17);
  with_if.graph.nodes.push_back(make_node("If", {"X"}, {"Y"}));
  EXPECT_EQ(kind_of(with_if), ErrorKind::kUnsupported);
  Model group_norm = base_model(18);
  group_norm.graph.nodes.push_back(make_node("GroupNormalization", {"X", "S", "B"}, {"Y"}));
  EXPECT_EQ(kind_of(group_norm), ErrorKind::kUnsupported);
  Model too_new = reduce_and_split(17);
  EXPECT_THROW(upgrade_opset(too_new.graph, 22), Error);
}

// Y = X · DQ(Wa) · DQ(Wb): Wa int8 in [-8, 7] per column with zero points 0, Wb holding 100.
Model two_weights() {
  Model m = base_model(17);
  m.graph.values["X"] = ValueInfo{DType::kFloat32, symbolic({2, 4}), ""};
  Graph& g = m.graph;
  g.initializers["Wa"] = make<int8_t>({4, 3}, {-8, 7, 0, 1, -1, 2, 3, -4, 5, -6, 6, -7});
  g.initializers["Wa_scale"] = make<float>({3}, {0.5f, 0.25f, 0.125f});
  g.initializers["Wa_zero"] = make<int8_t>({3}, {0, 0, 0});
  g.initializers["Wb"] = make<int8_t>({3, 2}, {100, -3, 4, 5, -6, 7});
  g.initializers["Wb_scale"] = Tensor::scalar(0.01f);
  g.nodes.push_back(make_node("DequantizeLinear", {"Wa", "Wa_scale", "Wa_zero"}, {"Wa_f"},
                              {{"axis", int64_t{1}}}));
  g.nodes.push_back(make_node("DequantizeLinear", {"Wb", "Wb_scale"}, {"Wb_f"}));
  g.nodes.push_back(make_node("MatMul", {"X", "Wa_f"}, {"H"}));
  g.nodes.push_back(make_node("MatMul", {"H", "Wb_f"}, {"Y"}));
  for (size_t i = 0; i < g.nodes.size(); ++i) g.nodes[i].name = "n" + std::to_string(i);
  add_output(m, "Y");
  return m;
}

TEST(Int4Storage, PacksTheWeightsThatFitAndKeepsTheRest) {
  const Tensor x = testing::random_tensor({2, 4}, 2);
  Model m = two_weights();
  const Tensor before = Session(m).run({x}).at(0);
  const quant::Int4StorageResult r = quant::store_weights_as_int4(m);
  EXPECT_EQ(r.tensors, 1);
  EXPECT_EQ(r.bytes_before, 12);
  EXPECT_EQ(r.bytes_after, 6);
  const Tensor& wa = *m.graph.initializer("Wa");
  ASSERT_EQ(wa.dtype(), DType::kInt4);
  const std::vector<int8_t> want = {-8, 7, 0, 1, -1, 2, 3, -4, 5, -6, 6, -7};
  for (int64_t i = 0; i < 12; ++i)
    EXPECT_EQ(packed_element(wa.raw_data(), DType::kInt4, i), want[i]);
  EXPECT_EQ(m.graph.initializer("Wb")->dtype(), DType::kInt8);  // 100 does not fit
  const Tensor* zero = m.graph.initializer(m.graph.nodes[0].inputs[2]);
  ASSERT_NE(zero, nullptr);
  EXPECT_EQ(zero->dtype(), DType::kInt4);
  EXPECT_EQ(m.graph.initializer("Wa_zero"), nullptr);  // its only reader took the copy
  EXPECT_EQ(m.graph.opset(""), 21);
  EXPECT_GE(m.ir_version, 10);
  // Sessions widen the INT4 weight back to int8: the same result, bit for bit.
  EXPECT_TRUE(same(Session(m).run({x}).at(0), before));
  Graph widened = m.graph;
  EXPECT_EQ(widen_packed_integers(widened), 2);  // the weight and its zero point
  EXPECT_TRUE(same(*widened.initializer("Wa"), make<int8_t>({4, 3}, want)));
}

TEST(Int4Storage, NothingFitsNothingChanges) {
  Model m = two_weights();
  m.graph.initializers["Wa"].data<int8_t>()[0] = -9;
  const quant::Int4StorageResult r = quant::store_weights_as_int4(m);
  EXPECT_EQ(r.tensors, 0);
  EXPECT_EQ(m.graph.opset(""), 17);  // no upgrade without an INT4 tensor
}

TEST(WidenPackedIntegers, LeavesTensorsOtherOpsRead) {
  Graph g;
  Tensor packed = Tensor::empty(DType::kInt4, {4});
  const int8_t values[] = {1, -2, 3, -4};
  pack_from_int8(values, DType::kInt4, 4, packed.raw_data());
  g.initializers["P"] = packed;
  g.nodes.push_back(make_node("Identity", {"P"}, {"Q"}));
  g.outputs = {"Q"};
  EXPECT_EQ(widen_packed_integers(g), 0);
  EXPECT_EQ(g.initializer("P")->dtype(), DType::kInt4);
}

}  // namespace
}  // namespace quench
