// Observer throughput: observe() on one batch of 2^20 activations (values/s), and range() once
// the histogram is filled, for every calibration method.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "quench/calibration.h"

namespace {

constexpr int64_t kBatch = int64_t(1) << 20;

// Gaussian activations; `relu` zeroes the negative half, as most activations of a CNN are.
const std::vector<float>& batch(bool relu) {
  static const auto make = [](bool zeroed) {
    std::mt19937 rng(1);
    std::normal_distribution<float> dist(0.f, 1.f);
    std::vector<float> values(kBatch);
    for (float& v : values) v = zeroed ? std::max(dist(rng), 0.f) : dist(rng);
    return values;
  };
  static const std::vector<float> gaussian = make(false), rectified = make(true);
  return relu ? rectified : gaussian;
}

quench::ObserverConfig config_of(int64_t method) {
  quench::ObserverConfig config;
  config.method = quench::CalibrationMethod(method);
  return config;
}

void BM_Observe(benchmark::State& state) {
  const auto& values = batch(state.range(1) != 0);
  quench::Observer observer(config_of(state.range(0)));
  for (auto _ : state) observer.observe(values.data(), kBatch);
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel(std::string(quench::calibration_method_name(observer.config().method)) +
                 (state.range(1) ? " relu" : " gaussian"));
}

void BM_Range(benchmark::State& state) {
  const auto& values = batch(state.range(1) != 0);
  quench::Observer observer(config_of(state.range(0)));
  observer.observe(values.data(), kBatch);
  for (auto _ : state) benchmark::DoNotOptimize(observer.range());
  state.SetLabel(std::string(quench::calibration_method_name(observer.config().method)) +
                 (state.range(1) ? " relu" : " gaussian"));
}

BENCHMARK(BM_Observe)->ArgsProduct({{0, 1, 2, 3, 4}, {0, 1}});
BENCHMARK(BM_Range)->ArgsProduct({{2, 3, 4}, {0, 1}})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
