// quench eval MODEL --data SPEC: top-1 accuracy on labeled data.
#include <iostream>

#include "quench/cli.h"
#include "quench/evaluate.h"
#include "quench/files.h"

namespace quench::cli {
namespace {

struct EvalCmdOptions {
  std::string model;
  std::string data = "fmnist:test";
  int64_t limit = 0;
  int64_t batch = 64;
  int threads = 0;
  bool json = false;
  std::string predictions;
  DataCliOptions data_options;
};

int run_eval(const EvalCmdOptions& o) {
  if (!o.predictions.empty()) check_writable(o.predictions, "predictions");
  DataOptions dopts = o.data_options.to_options();
  dopts.limit = o.limit;
  auto data = open_dataset(o.data, dopts);
  Session session = Session::load(o.model, session_options(o.threads));
  EvalOptions eo;
  eo.batch = o.batch;
  const EvalResult r = evaluate_accuracy(session, *data, eo);
  if (!o.predictions.empty()) {
    write_npy(Tensor::from_vector<int64_t>({r.n}, r.predictions), o.predictions);
  }
  std::cout << fmt::format("accuracy {:.2f}% ({} / {}) on {}\n", 100.0 * r.accuracy, r.correct, r.n,
                           o.data);
  std::cout << fmt::format("throughput {:.0f} samples/s (batch {}, {:.2f} s)\n", r.throughput,
                           o.batch, r.seconds);
  if (o.json) {
    print_json({{"model", o.model},
                {"data", o.data},
                {"accuracy", r.accuracy},
                {"correct", r.correct},
                {"n", r.n},
                {"batch", o.batch},
                {"seconds", r.seconds},
                {"throughput", r.throughput}});
  }
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<EvalCmdOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Top-1 accuracy of a classifier on labeled data");
  cmd->add_option("model", o->model, "ONNX model file")->required();
  cmd->add_option("--data", o->data, "Dataset (fmnist:test, idx:..., npy:..., folder:...)")
      ->capture_default_str();
  cmd->add_option("--limit", o->limit, "Evaluate at most N samples (0: all)");
  cmd->add_option("--batch", o->batch, "Batch size")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads (0: all cores)")->capture_default_str();
  cmd->add_option("--save-predictions", o->predictions, "Write the top-1 class per sample (.npy)");
  add_data_options(*cmd, o->data_options);
  cmd->add_flag("--json", o->json, "Print a JSON object as the last line");
  cmd->callback([o, &action] { action = [o] { return run_eval(*o); }; });
}

}  // namespace quench::cli
