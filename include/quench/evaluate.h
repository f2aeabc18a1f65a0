// Accuracy of a classifier on a labeled dataset.
#pragma once

#include <cstdint>
#include <string>
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

// How a dataset feeds a session: each dataset input goes to the model input of its name (an unnamed
// one to the model's only input), every model input is fed, and sample shapes and element types
// are checked once. kInvalidArgument naming `data_name`, the input and both sides on a mismatch.
class DataBinding {
 public:
  DataBinding(const Session& session, const Dataset& data, const std::string& data_name);
  // The batch's tensors in the order of session.inputs(); int64 values (what datasets deliver for
  // integer data) converted to the model input's integer type, range checked.
  std::vector<Tensor> feeds(const Batch& batch) const;

 private:
  std::vector<size_t> source_;  // the dataset input feeding each session input
  std::vector<DType> types_;    // each session input's element type
  std::vector<std::string> names_;
};

// Runs the first output's arg-max against the labels. kInvalidArgument when the dataset has no
// labels, or when its samples do not fit the model's inputs (DataBinding).
EvalResult evaluate_accuracy(const Session& session, const Dataset& data,
                             const EvalOptions& options = {});

}  // namespace quench
