// Calibration: the prepared FP32 model runs on representative data; every tensor the recipe
// quantizes is fed, batch by batch, to its observer.
#include <algorithm>

#include "core/check.h"
#include "core/progress.h"
#include "quant/quant_plan.h"
#include "quench/evaluate.h"
#include "quench/session.h"

namespace quench {

CalibrationTable calibrate(const Model& prepared, const Dataset& data, const QuantRecipe& recipe,
                           const CalibrateOptions& options) {
  QUENCH_CHECK(options.calib_size > 0 && options.batch > 0, ErrorKind::kInvalidArgument,
               "calibration size and batch must be positive (got {} and {})", options.calib_size,
               options.batch);
  const quant::QuantPlan plan = quant::plan_quantization(prepared.graph, recipe);
  const std::set<std::string> observed = plan.observed();
  SessionOptions so;
  so.threads = options.threads;
  Session session(prepared, so);
  const DataBinding binding(session, data, "the calibration data");

  CalibrationTable table;
  table.config = options.observer;
  for (const auto& name : observed) table.observers.emplace(name, Observer(options.observer));
  const int64_t n = std::min(options.calib_size, data.size());
  RunOptions ro;
  ro.on_tensor = [&](const std::string& value, const Tensor& t) {
    auto it = table.observers.find(value);
    if (it != table.observers.end() && t.dtype() == DType::kFloat32) {
      it->second.observe(t.data<float>(), t.numel());
    }
  };
  Progress progress("calibrating", n, options.progress);
  for (int64_t first = 0; first < n; first += options.batch) {
    const int64_t count = std::min(options.batch, n - first);
    const std::vector<Tensor> feeds = binding.feeds(data.batch(first, count));
    // Graph inputs may be quantized too.
    for (size_t i = 0; i < feeds.size(); ++i) ro.on_tensor(session.inputs()[i].name, feeds[i]);
    session.run(feeds, ro);
    table.samples += count;
    progress.update(first + count);
  }
  progress.finish();
  // Every observed tensor must have been seen; an empty observer would give a scale that maps
  // the tensor to zero and a silently broken model.
  for (const auto& [name, observer] : table.observers) {
    QUENCH_CHECK(observer.batches() > 0, ErrorKind::kInternal,
                 "tensor '{}' was never reported during calibration, so it has no range", name);
  }
  return table;
}

}  // namespace quench
