// quench bench MODEL: latency (median, p90) and throughput on random input.
#include <malloc.h>

#include <algorithm>
#include <iostream>

#include "quench/benchmark.h"
#include "quench/cli.h"

namespace quench::cli {
namespace {

struct BenchOptions {
  std::string model;
  std::vector<std::string> compare;
  int64_t batch = 1;
  int threads = 1;
  std::string shape;
  double seconds = 2.0;
  bool json = false;
  bool profile = false;
};

// Time per step over repeated runs, slowest first: where the latency goes.
void print_profile(const Session& session, const std::vector<Tensor>& inputs) {
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  const std::vector<StepInfo> steps = session.plan_steps(shapes);
  std::vector<double> ms;
  RunOptions ro;
  ro.step_ms = &ms;
  constexpr int kRuns = 20;
  for (int i = 0; i < kRuns; ++i) session.run(inputs, ro);
  if (ms.size() != steps.size()) {
    std::cout << "no per-step profile: this model runs node by node (shapes depend on values)\n";
    return;
  }
  double total = 0;
  for (double& v : ms) total += v /= kRuns;
  std::vector<size_t> order(steps.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ms[a] > ms[b]; });
  std::cout << fmt::format("{:>9} {:>6}  {:<18} {:<34} {}\n", "ms", "%", "op", "kernel", "node");
  for (size_t i : order) {
    std::cout << fmt::format("{:>9.4f} {:>5.1f}%  {:<18} {:<34} {}\n", ms[i], 100 * ms[i] / total,
                             steps[i].op_type, steps[i].impl, steps[i].node);
  }
  std::cout << fmt::format("{:>9.4f} total over {} steps\n", total, steps.size());
}

// Heap bytes in use (glibc: small blocks plus mmapped ones). Unlike the resident set, this
// falls when memory is freed, so two sessions measured one after the other are told apart.
uint64_t heap_in_use() {
  const struct mallinfo2 m = ::mallinfo2();
  return m.uordblks + m.hblkhd;
}

nlohmann::json bench_one(const std::string& path, const BenchOptions& o) {
  std::optional<Shape> sample;
  if (!o.shape.empty()) sample = parse_shape(o.shape, "--shape");
  const uint64_t heap_before = heap_in_use();
  Session session = Session::load(path, session_options(o.threads));
  const std::vector<Tensor> inputs = random_inputs(session, o.batch, sample);
  LatencyOptions lo;
  lo.seconds = o.seconds;
  const LatencyStats s = measure_latency([&] { session.run(inputs); }, lo);
  // What the loaded, planned and warmed-up session holds (weights, packed weights, arenas,
  // oneDNN's primitives), the input included; loading transients freed by then are not counted.
  const uint64_t heap_after = heap_in_use();
  const uint64_t session_bytes = heap_after > heap_before ? heap_after - heap_before : 0;
  if (o.profile) print_profile(session, inputs);
  return {{"model", path},
          {"batch", o.batch},
          {"threads", o.threads},
          {"runs", s.runs},
          {"median_ms", s.median_ms},
          {"p90_ms", s.p90_ms},
          {"min_ms", s.min_ms},
          {"throughput", o.batch * 1000.0 / s.median_ms},
          {"session_bytes", session_bytes}};
}

int run_bench(const BenchOptions& o) {
  require(o.batch > 0 && o.threads >= 0 && o.seconds > 0, ErrorKind::kInvalidArgument,
          "--batch and --seconds must be positive, --threads not negative");
  std::vector<std::string> models = o.compare;
  if (!o.model.empty()) models.insert(models.begin(), o.model);
  require(!models.empty(), ErrorKind::kInvalidArgument, "give a MODEL or --compare A B");
  std::vector<nlohmann::json> results;
  std::cout << fmt::format("{:<40} {:>6} {:>10} {:>10} {:>12} {:>12}\n", "model", "batch",
                           "median ms", "p90 ms", "items/s", "memory");
  for (const auto& m : models) {
    results.push_back(bench_one(m, o));
    const auto& r = results.back();
    std::cout << fmt::format("{:<40} {:>6} {:>10.3f} {:>10.3f} {:>12.1f} {:>12}\n", m, o.batch,
                             r["median_ms"].get<double>(), r["p90_ms"].get<double>(),
                             r["throughput"].get<double>(),
                             human_bytes(r["session_bytes"].get<uint64_t>()));
  }
  nlohmann::json j = results.size() == 1 ? results[0] : nlohmann::json{{"results", results}};
  if (results.size() == 2) {
    const double speedup =
        results[0]["median_ms"].get<double>() / results[1]["median_ms"].get<double>();
    std::cout << fmt::format("speed-up of {} over {}: {:.2f}x\n", models[1], models[0], speedup);
    j["speedup"] = speedup;
  }
  if (o.json) print_json(j);
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure latency and throughput on random input");
  cmd->add_option("model", o->model, "ONNX model file");
  cmd->add_option("--compare", o->compare, "Two models to measure side by side (A B)")->expected(2);
  cmd->add_option("--batch", o->batch, "Batch size")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads (0: all cores)")->capture_default_str();
  cmd->add_option("--shape", o->shape, "Input dims after the batch, e.g. 3,224,224");
  cmd->add_option("--seconds", o->seconds, "Time to measure per model")->capture_default_str();
  cmd->add_flag("--profile", o->profile, "Print the time of every step, slowest first");
  cmd->add_flag("--json", o->json, "Print a JSON object as the last line");
  cmd->callback([o, &action] { action = [o] { return run_bench(*o); }; });
}

}  // namespace quench::cli
