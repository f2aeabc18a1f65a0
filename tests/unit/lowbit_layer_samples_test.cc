// The mean input rows of bias correction (docs/quantization.md eq. (81)): add_row_sums against the
// sum of the im2col rows extract_row forms (padded, strided, dilated and grouped convolutions, a
// matrix product), and mean_rows (one float run for every layer) against collect_samples' float
// means (one run per layer) on the CNN.
#include <random>

#include "quant/lowbit/layer_matrix.h"
#include "quant/lowbit/layer_samples.h"
#include "quant/quant_plan.h"
#include "quench/model_io.h"
#include "quench/quantize.h"
#include "test_util.h"

namespace quench::quant::lowbit {
namespace {

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.5f, 1.f);
  Tensor t = Tensor::empty(DType::kFloat32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

// Σ over positions of extract_row's rows: the definition add_row_sums must equal.
std::vector<double> summed_rows(const LayerView& v, const Tensor& x) {
  const int64_t k = v.shape.x_cols();
  std::vector<double> sum(k, 0.0);
  std::vector<float> row(k);
  for (int64_t p = 0; p < row_count(v, x); ++p) {
    extract_row(v, x, p, row.data());
    for (int64_t c = 0; c < k; ++c) sum[c] += row[c];
  }
  return sum;
}

struct ConvCase {
  int64_t channels, groups, in_h, in_w, kernel_h, kernel_w, stride, pad, dilation;
};

TEST(LayerSamples, RowSumsOfAConvEqualTheSummedIm2colRows) {
  const std::vector<ConvCase> cases = {
      {3, 1, 7, 9, 3, 3, 1, 1, 1},  // same padding
      {4, 2, 8, 8, 3, 3, 2, 1, 1},  // strided, grouped
      {2, 1, 9, 7, 3, 2, 1, 2, 2},  // dilated, wide padding, a non-square kernel
      {6, 6, 5, 5, 3, 3, 2, 0, 1},  // depthwise, no padding
      {5, 1, 4, 4, 1, 1, 1, 0, 1},  // 1x1
  };
  uint64_t seed = 1;
  for (const ConvCase& c : cases) {
    LayerView v;
    v.conv = true;
    v.in_channels = c.channels;
    v.window.kernel = {c.kernel_h, c.kernel_w};
    v.window.strides = {c.stride, c.stride};
    v.window.dilations = {c.dilation, c.dilation};
    v.window.pads_begin = {c.pad, c.pad};
    v.window.pads_end = {c.pad, c.pad};
    v.window.group = c.groups;
    v.in_size = {c.in_h, c.in_w};
    v.out_size = {v.window.output_size(0, c.in_h), v.window.output_size(1, c.in_w)};
    v.shape = LayerShape{c.groups * 2, c.channels / c.groups * c.kernel_h * c.kernel_w, c.groups};
    const Tensor x = random_tensor({2, c.channels, c.in_h, c.in_w}, seed++);
    const std::vector<double> want = summed_rows(v, x);
    std::vector<double> got(want.size(), 0.0);
    add_row_sums(v, x, got);
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_NEAR(got[i], want[i], 1e-9 * (1 + std::abs(want[i])))
          << "case " << seed - 1 << " column " << i;
    }
  }
}

TEST(LayerSamples, RowSumsOfAMatrixProductAreColumnSums) {
  LayerView v;
  v.shape = LayerShape{3, 5, 1};
  const Tensor x = random_tensor({2, 4, 5}, 7);
  const std::vector<double> want = summed_rows(v, x);
  std::vector<double> got(5, 0.0);
  add_row_sums(v, x, got);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-9);
  std::vector<double> wrong(4, 0.0);
  EXPECT_THROW(add_row_sums(v, x, wrong), Error);
}

// mean_rows gives every layer's float mean from one run per batch; collect_samples gives the same
// from a run per layer.
TEST(LayerSamples, MeanRowsOfEveryLayerEqualThePerLayerMeans) {
  const Model fp32 = prepare_for_quantization(load_model(testing::test_model("cnn.onnx")));
  const QuantPlan plan = plan_quantization(fp32.graph, QuantRecipe{});
  std::vector<LayerView> views;
  std::vector<std::string> values;
  for (const NodeQuant& nq : plan.nodes) {
    if (nq.weights.empty()) continue;
    const Node& node = fp32.graph.nodes[nq.node];
    LayerView v = describe_layer(fp32.graph, node, nq.weights[0]);
    if (!v.unsupported.empty()) continue;
    views.push_back(std::move(v));
    values.push_back(node.input(0));
  }
  ASSERT_GE(views.size(), 5u);
  Feeds feeds;
  for (uint64_t b = 0; b < 3; ++b) feeds.push_back({random_tensor({4, 1, 28, 28}, 10 + b)});
  const std::vector<std::vector<double>> got =
      mean_rows(fp32, SessionOptions{}, views, values, feeds);
  ASSERT_EQ(got.size(), views.size());
  SampleRequest request;
  request.max_rows = 0;
  request.means = true;
  for (size_t l = 0; l < views.size(); ++l) {
    Model one = fp32;
    one.graph.outputs = {values[l]};
    const Session s(one);
    const LayerSamples want =
        collect_samples(views[l], s, values[l], &s, values[l], feeds, request);
    EXPECT_EQ(want.m, 0);
    ASSERT_EQ(want.mean_fp.size(), got[l].size());
    for (size_t c = 0; c < got[l].size(); ++c) {
      EXPECT_NEAR(got[l][c], want.mean_fp[c], 1e-6 * (1 + std::abs(want.mean_fp[c])))
          << values[l] << " column " << c;
    }
  }
}

}  // namespace
}  // namespace quench::quant::lowbit
