// Small QDQ graphs with parameters given as values (initializers, Constant nodes, chains), and the
// checks the lowering tests share: the lowering report, and lowered outputs against the float QDQ
// execution (SessionOptions::fuse = false).
#pragma once

#include <cmath>
#include <map>

#include "passes/runtime_passes.h"
#include "quench/passes.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench::testing {

// One requantization step of the output, plus slack for the float product (lower_qdq_test.cc).
constexpr double kOutputQuanta = 1.0;
constexpr double kQuantumSlack = 1e-3;

class ChainGraph {
 public:
  ChainGraph() { g().opsets[""] = 17; }
  Graph& g() { return model_.graph; }
  const Model& model() const { return model_; }

  std::string input(const std::string& name, const Shape& shape) {
    g().inputs.push_back(name);
    g().values[name] = ValueInfo{DType::kFloat32, symbolic(shape), ""};
    shapes_.push_back(shape);
    return name;
  }
  std::string init(const std::string& name, Tensor t) {
    g().initializers[name] = std::move(t);
    return name;
  }
  std::string op(const std::string& op_type, std::vector<std::string> inputs,
                 std::initializer_list<std::pair<std::string, AttributeValue>> attrs = {}) {
    const std::string out = op_type + std::to_string(count_++);
    g().nodes.push_back(make_node(op_type, std::move(inputs), {out}, attrs));
    g().nodes.back().name = out;
    return out;
  }
  std::string constant_node(Tensor t) { return op("Constant", {}, {{"value", std::move(t)}}); }
  // value -> Q -> DQ with u8 parameters given as values (initializers or computed).
  std::string qdq(const std::string& value, const std::string& scale, const std::string& zero) {
    return op("DequantizeLinear", {op("QuantizeLinear", {value, scale, zero}), scale, zero});
  }
  std::string qdq(const std::string& value, float scale, int zero) {
    const std::string n = std::to_string(count_++);
    return qdq(value, init("s" + n, Tensor::scalar(scale)),
               init("z" + n, Tensor::scalar(static_cast<uint8_t>(zero))));
  }
  // A symmetric s8 quantization of `w` per index along `axis`: (values, scales).
  static std::pair<Tensor, Tensor> quantize_weight(const Tensor& w, int64_t axis) {
    const int64_t channels = w.dim(static_cast<int>(axis));
    int64_t inner = 1;
    for (int d = static_cast<int>(axis) + 1; d < w.rank(); ++d) inner *= w.dim(d);
    std::vector<float> scales(static_cast<size_t>(channels), 1e-6f);
    const auto v = w.values<float>();
    for (int64_t i = 0; i < w.numel(); ++i) {
      float& s = scales[(i / inner) % channels];
      s = std::max(s, std::abs(v[i]) / 127.f);
    }
    Tensor q = Tensor::empty(DType::kInt8, w.shape());
    for (int64_t i = 0; i < w.numel(); ++i) {
      q.data<int8_t>()[i] =
          static_cast<int8_t>(std::nearbyint(v[i] / scales[(i / inner) % channels]));
    }
    return {q, Tensor::from_vector({channels}, scales)};
  }
  void output(const std::string& v) { g().outputs.push_back(v); }
  const std::vector<Shape>& shapes() const { return shapes_; }

 private:
  Model model_;
  std::vector<Shape> shapes_;
  int count_ = 0;
};

inline LoweringReport report_of(const ChainGraph& b) {
  Graph g = b.model().graph;
  infer_shapes(g);
  std::map<std::string, Shape> by_name;
  for (size_t i = 0; i < b.shapes().size(); ++i) by_name[g.inputs[i]] = b.shapes()[i];
  specialize_input_shapes(g, by_name);
  return lower_qdq(g);
}

inline std::string float_reasons(const LoweringReport& r) {
  std::string s;
  for (const auto& f : r.float_nodes)
    s += fmt::format("{} ({}): {}; ", f.node, f.op_type, f.reason);
  return s;
}

// The plan has `present` and none of `absent`; every output agrees with the float QDQ execution
// within one quantum of `output_scale`.
inline void expect_lowered(const ChainGraph& b, const std::vector<Tensor>& inputs,
                           float output_scale, const std::vector<std::string>& present,
                           const std::vector<std::string>& absent) {
  const Session lowered(b.model());
  SessionOptions no_fuse;
  no_fuse.fuse = false;
  const Session qdq(b.model(), no_fuse);
  std::map<std::string, int> ops;
  for (const StepInfo& step : lowered.plan_steps(b.shapes())) ++ops[step.op_type];
  for (const auto& op : present) EXPECT_TRUE(ops.count(op)) << op << " missing";
  for (const auto& op : absent) EXPECT_FALSE(ops.count(op)) << op << " present";
  const auto got = lowered.run(inputs);
  const auto want = qdq.run(inputs);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(
        testing::tensors_near(got[i], want[i], output_scale * (kOutputQuanta + kQuantumSlack), 0))
        << "output " << i;
  }
}

}  // namespace quench::testing
