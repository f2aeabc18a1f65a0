// The QDQ-lowering pass on real files: ONNX Runtime's QDQ quantizations of the Fashion-MNIST
// models (models/fmnist/ort/*.ort_qdq.onnx) and quench's own (quantize_static after a small
// calibration). The lowered session's top-1 predictions agree with the float QDQ execution's
// (SessionOptions::fuse = false) on the first test images; the op counts before and after
// lowering are printed.
#include <iostream>
#include <map>

#include "quench/data.h"
#include "quench/model_io.h"
#include "quench/quantize.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {

constexpr int64_t kImages = 200;
constexpr int64_t kBatch = 100;
// Lowering changes results by at most one output step per requantization (a residual sum skips
// one); a prediction flips only for a near tie. At most 1% of the images (2) may differ.
constexpr double kMinAgreement = 0.99;

std::string op_counts(const std::map<std::string, int>& ops) {
  std::string s;
  for (const auto& [op, n] : ops) s += fmt::format("{} {}, ", op, n);
  return s.empty() ? s : s.substr(0, s.size() - 2);
}

std::vector<int64_t> top1(const Tensor& logits) {
  const int64_t rows = logits.dim(0), classes = logits.dim(1);
  std::vector<int64_t> best(static_cast<size_t>(rows), 0);
  const float* v = logits.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 1; c < classes; ++c) {
      if (v[r * classes + c] > v[r * classes + best[r]]) best[r] = c;
    }
  }
  return best;
}

void expect_same_predictions(const std::string& label, const Model& model) {
  SCOPED_TRACE(label);
  DataOptions options;
  options.limit = kImages;
  const auto data = open_dataset("fmnist:test", options);
  const Session lowered(model);
  SessionOptions no_fuse;
  no_fuse.fuse = false;
  const Session qdq(model, no_fuse);
  int64_t same = 0;
  for (int64_t start = 0; start < kImages; start += kBatch) {
    const Batch batch = data->batch(start, kBatch);
    const auto a = top1(lowered.run({batch.images()})[0]);
    const auto b = top1(qdq.run({batch.images()})[0]);
    for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  }
  std::map<std::string, int> before, after;
  for (const Node& n : model.graph.nodes) ++before[n.op_type];
  Shape shape = data->sample_shape();
  shape.insert(shape.begin(), kBatch);
  for (const StepInfo& step : lowered.plan_steps({shape})) ++after[step.op_type];
  std::cout << fmt::format("[{}] top-1 agreement {}/{}\n  before: {}\n  after:  {}\n", label, same,
                           kImages, op_counts(before), op_counts(after));
  EXPECT_GE(same, static_cast<int64_t>(kMinAgreement * kImages));
  EXPECT_FALSE(after.count("Conv") || after.count("FusedConv")) << op_counts(after);
}

TEST(LowerQdqModels, OnnxRuntimeQdqFiles) {
  for (const char* name : {"cnn", "resnet20", "mobilenetv2", "vit", "lstm"}) {
    const auto path = testing::test_model(std::string("ort/") + name + ".ort_qdq.onnx");
    expect_same_predictions(path.filename().string(), load_model(path));
  }
}

TEST(LowerQdqModels, QuenchQdqOutput) {
  DataOptions calib_data;
  calib_data.limit = 64;
  const auto calibration = open_dataset("fmnist:train", calib_data);
  for (const char* name : {"cnn", "resnet20", "mobilenetv2"}) {
    const Model prepared =
        prepare_for_quantization(load_model(testing::test_model(std::string(name) + ".onnx")));
    const QuantRecipe recipe;
    CalibrateOptions co;
    co.calib_size = 64;
    co.progress = false;
    const CalibrationTable table = calibrate(prepared, *calibration, recipe, co);
    expect_same_predictions(std::string("quench ") + name,
                            quantize_static(prepared, table, recipe));
  }
}

}  // namespace
}  // namespace quench
