// Accuracy of a classifier on a labeled dataset.
#pragma once

#include <cstdint>
#include <vector>

#include "quench/data.h"
#include "quench/session.h"

namespace quench {

struct EvalOptions {
  int64_t batch = 64;
  bool progress = true;  // progress line on stderr
};

struct EvalResult {
  int64_t n = 0;
  int64_t correct = 0;
  double accuracy = 0;               // correct / n
  double seconds = 0;                // wall time of the runs (data loading included)
  double throughput = 0;             // samples per second
  std::vector<int64_t> predictions;  // top-1 class per sample
};

// Runs the first output's arg-max against the labels. kInvalidArgument when the dataset has no
// labels, or when its samples do not fit the model's first input (shape named on both sides).
EvalResult evaluate_accuracy(const Session& session, const Dataset& data,
                             const EvalOptions& options = {});

// Checks that samples of `data` fit the first input of `session` (all dims after the batch).
void check_data_fits(const Session& session, const Dataset& data, const std::string& data_name);

}  // namespace quench
