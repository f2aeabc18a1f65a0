#include "quench/benchmark.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>

#include "core/check.h"

namespace quench {

LatencyStats measure_latency(const std::function<void()>& fn, const LatencyOptions& options) {
  for (int i = 0; i < options.warmup_runs; ++i) fn();
  std::vector<double> ms;
  double total = 0;
  while (total < options.seconds * 1000.0 || static_cast<int>(ms.size()) < options.min_runs) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    const double t =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ms.push_back(t);
    total += t;
  }
  std::sort(ms.begin(), ms.end());
  LatencyStats s;
  s.runs = static_cast<int>(ms.size());
  s.median_ms = ms.size() % 2 ? ms[ms.size() / 2] : (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]) / 2;
  s.p90_ms = ms[std::min(ms.size() - 1, static_cast<size_t>(0.9 * static_cast<double>(ms.size())))];
  s.min_ms = ms.front();
  s.mean_ms = total / static_cast<double>(ms.size());
  return s;
}

std::vector<Tensor> random_inputs(const Session& session, int64_t batch,
                                  const std::optional<Shape>& sample_shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < session.inputs().size(); ++i) {
    const IoInfo& io = session.inputs()[i];
    Shape shape;
    for (size_t d = 0; d < io.shape.size(); ++d) {
      if (d == 0 && batch > 0) {
        QUENCH_CHECK(!io.shape[0].known() || io.shape[0].value == batch,
                     ErrorKind::kInvalidArgument,
                     "input '{}' has a fixed batch dimension of {}; cannot run batch {}", io.name,
                     io.shape[0].value, batch);
        shape.push_back(batch);
      } else if (i == 0 && sample_shape && d - 1 < sample_shape->size()) {
        shape.push_back((*sample_shape)[d - 1]);
      } else {
        QUENCH_CHECK(io.shape[d].known(), ErrorKind::kInvalidArgument,
                     "input '{}' has shape {}: give the dims after the batch with --shape", io.name,
                     shape_str(io.shape));
        shape.push_back(io.shape[d].value);
      }
    }
    Tensor t = Tensor::zeros(io.dtype, shape);
    if (io.dtype == DType::kFloat32) {
      for (float& v : t.values<float>()) v = uniform(rng);
    }
    inputs.push_back(std::move(t));
  }
  return inputs;
}

}  // namespace quench
