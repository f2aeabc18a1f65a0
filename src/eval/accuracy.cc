#include <algorithm>
#include <chrono>

#include "core/check.h"
#include "core/progress.h"
#include "quench/evaluate.h"

namespace quench {

EvalResult evaluate_accuracy(const Session& session, const Dataset& data,
                             const EvalOptions& options) {
  const DataBinding binding(session, data, "the dataset");
  QUENCH_CHECK(data.has_labels(), ErrorKind::kInvalidArgument,
               "the dataset has no labels: accuracy needs labeled data");
  QUENCH_CHECK(options.batch > 0, ErrorKind::kInvalidArgument, "batch size must be positive");
  EvalResult r;
  r.n = data.size();
  r.predictions.reserve(static_cast<size_t>(r.n));
  Progress progress("evaluating", r.n, options.progress);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t first = 0; first < r.n; first += options.batch) {
    const int64_t count = std::min(options.batch, r.n - first);
    Batch b = data.batch(first, count);
    const std::vector<Tensor> out = session.run(binding.feeds(b));
    const Tensor& logits = out.at(0);
    QUENCH_CHECK(logits.rank() == 2 && logits.dim(0) == count && logits.dtype() == DType::kFloat32,
                 ErrorKind::kInvalidArgument,
                 "accuracy needs a first output of float scores [batch, classes]; got {} {}",
                 dtype_name(logits.dtype()), shape_str(logits.shape()));
    const int64_t classes = logits.dim(1);
    const float* scores = logits.data<float>();
    for (int64_t i = 0; i < count; ++i) {
      const float* row = scores + i * classes;
      const int64_t best = std::max_element(row, row + classes) - row;
      r.predictions.push_back(best);
      r.correct += best == b.labels[static_cast<size_t>(i)] ? 1 : 0;
    }
    progress.update(first + count);
  }
  progress.finish();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.accuracy = r.n ? static_cast<double>(r.correct) / static_cast<double>(r.n) : 0;
  r.throughput = r.seconds > 0 ? static_cast<double>(r.n) / r.seconds : 0;
  return r;
}

}  // namespace quench
