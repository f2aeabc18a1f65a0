// The timing loop the C++ micro-benchmarks share: `run` repeated in timed slices of about 0.1 s
// for at least `seconds` (and at least 5 slices), the median rate in G units of work per second.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace quench::bench {

// Median of (`work` per call of `run`) per second, in units of 1e9, after one warm-up call.
template <class Fn>
double median_giga_rate(double work, double seconds, Fn&& run) {
  using Clock = std::chrono::steady_clock;
  run();  // warm up
  std::vector<double> rates;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end || rates.size() < 5) {
    int reps = 0;
    const auto start = Clock::now();
    double elapsed = 0;
    do {
      run();
      ++reps;
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    } while (elapsed < 0.1);
    rates.push_back(work * reps / elapsed / 1e9);
  }
  std::nth_element(rates.begin(), rates.begin() + rates.size() / 2, rates.end());
  return rates[rates.size() / 2];
}

}  // namespace quench::bench
