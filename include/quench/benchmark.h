// Latency measurement: repeated runs, median and tail, for `quench bench`, the demo and bench/.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "quench/session.h"

namespace quench {

struct LatencyOptions {
  double seconds = 2.0;  // keep running until this much time was measured...
  int min_runs = 5;      // ...and at least this many runs
  int warmup_runs = 3;
};

struct LatencyStats {
  int runs = 0;
  double median_ms = 0, p90_ms = 0, min_ms = 0, mean_ms = 0;
};

LatencyStats measure_latency(const std::function<void()>& fn, const LatencyOptions& options = {});

// Random inputs for every input of `session`: uniform [0, 1) floats, zeros for integer inputs.
// Unknown dims: the first becomes `batch`; the others come from `sample_shape` (the dims after
// the batch dim of the first input), else kInvalidArgument naming the input.
std::vector<Tensor> random_inputs(const Session& session, int64_t batch,
                                  const std::optional<Shape>& sample_shape, uint64_t seed = 0);

}  // namespace quench
