// The float-model rewrites of low-bit PTQ keep the float function: CLE (with Clip bounds made
// per channel, and bias absorption on the calibration data) and SmoothQuant.
#include <cmath>

#include "quant/lowbit/cle.h"
#include "quench/inspect.h"
#include "quench/lowbit.h"
#include "quench/model_io.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {

float largest_difference(const Model& a, const Model& b, const Tensor& input) {
  const Tensor ya = Session(a).run({input})[0];
  const Tensor yb = Session(b).run({input})[0];
  float d = 0.f;
  for (int64_t i = 0; i < ya.numel(); ++i) {
    d = std::max(d, std::abs(ya.data<float>()[i] - yb.data<float>()[i]));
  }
  return d;
}

Model prepared(const char* name) {
  return prepare_for_quantization(load_model(testing::test_model(name)));
}

TEST(LowBitCle, EqualizesMobilenetAndKeepsItsFunction) {
  const Model m = prepared("mobilenetv2.onnx");
  const auto data = open_dataset("random:16:1x28x28");
  CalibrateOptions co;
  co.calib_size = 16;
  co.progress = false;
  EqualizationReport r;
  const Model eq = equalize_cross_layer(m, data.get(), co, &r);
  EXPECT_GT(r.pairs, 0);
  EXPECT_GT(r.clips_split, 0);
  EXPECT_GT(r.absorbed_pairs, 0);
  // Channel ranges of each pair now match (eq. (83)): one more sweep changes nothing.
  Graph g = eq.graph;
  std::vector<std::vector<float>> scales;
  const auto pairs = quant::lowbit::equalizable_pairs(g);
  quant::lowbit::equalize_pairs(g, pairs, scales);
  for (const auto& s : scales) {
    for (float v : s) EXPECT_NEAR(v, 1.f, 1e-2f);
  }
  // Logits agree on the calibration images (absorption is exact there) to 1e-3 of their size.
  const Tensor x = data->batch(0, 8).images();
  EXPECT_LT(largest_difference(m, eq, x), 1e-3f * 20.f);
  const Model data_free = equalize_cross_layer(m, nullptr, co, &r);
  EXPECT_EQ(r.absorbed_pairs, 0);
  EXPECT_LT(largest_difference(m, data_free, x), 1e-3f * 20.f);
  // Quantized, each per-channel bound joins its convolution's unit (no Q/DQ between them) and the
  // session lowers every unit to integer ops: only the input normalization stays float.
  QuantRecipe recipe;
  recipe.per_channel = false;
  QuantizeReport qr;
  const Model q = quantize_static(eq, calibrate(eq, *data, recipe, co), recipe, &qr);
  int bounds = 0;
  for (const NodeDecision& d : qr.nodes) {
    if (d.op_type != "Min") continue;
    ++bounds;
    EXPECT_TRUE(d.quantized) << d.node << ": " << d.reason;
  }
  EXPECT_EQ(bounds, r.clips_split);
  const LoweringReport lowered = qdq_lowering(q.graph);
  for (const auto& f : lowered.float_nodes) {
    EXPECT_TRUE(f.op_type == "Sub" || f.op_type == "Div") << f.node << ": " << f.reason;
  }
}

TEST(LowBitCle, NoPairIsANoteNotAnError) {
  const Model m = prepared("vit.onnx");
  EqualizationReport r;
  const Model same = equalize_cross_layer(m, nullptr, CalibrateOptions{}, &r);
  EXPECT_EQ(r.pairs, 0);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(same.graph.nodes.size(), m.graph.nodes.size());
}

TEST(LowBitSmoothQuant, MovesRangesIntoWeightsAndKeepsTheFunction) {
  const Model m = prepared("vit.onnx");
  const auto data = open_dataset("random:8:1x28x28");
  CalibrateOptions co;
  co.calib_size = 8;
  co.progress = false;
  SmoothQuantReport r;
  const Model sq = smooth_quant(m, *data, 0.5f, co, &r);
  EXPECT_EQ(r.norms, 8);  // ln1 and ln2 of the 4 blocks; the final norm feeds a Gather
  EXPECT_EQ(r.weights, 8);
  const Tensor x = data->batch(0, 4).images();
  EXPECT_LT(largest_difference(m, sq, x), 1e-3f);
  EXPECT_THROW(smooth_quant(m, *data, 1.5f, co), Error);
}

}  // namespace
}  // namespace quench
