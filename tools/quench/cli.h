// Shared pieces of the quench command-line tool: one subcommand per file (cmd_*.cc).
#pragma once

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "quench/calibration.h"
#include "quench/data.h"
#include "quench/graph.h"
#include "quench/quantize.h"
#include "quench/session.h"
#include "quench/train.h"

namespace quench::cli {

// Throws quench::Error(kind, formatted message) unless `condition` holds.
template <class... Args>
void require(bool condition, ErrorKind kind, fmt::format_string<Args...> format, Args&&... args) {
  if (!condition) throw Error(kind, fmt::format(format, std::forward<Args>(args)...));
}

// The process exit code for an error of `kind` (docs/cli.md).
int exit_code(ErrorKind kind);

// A subcommand's action; returns the process exit code.
using Action = std::function<int()>;

void add_inspect_command(CLI::App& app, Action& action);
void add_run_command(CLI::App& app, Action& action);
void add_eval_command(CLI::App& app, Action& action);
void add_bench_command(CLI::App& app, Action& action);
void add_demo_command(CLI::App& app, Action& action);
void add_calibrate_command(CLI::App& app, Action& action);
void add_quantize_command(CLI::App& app, Action& action);
void add_compare_command(CLI::App& app, Action& action);
void add_report_command(CLI::App& app, Action& action);
void add_sensitivity_command(CLI::App& app, Action& action);
void add_train_command(CLI::App& app, Action& action);
void add_qat_command(CLI::App& app, Action& action);

// The training options shared by `train` and `qat` (epochs, steps, batch, lr, optimizer, schedule,
// seed, augmentation, threads), one line per epoch, and the epochs as JSON (cmd_train.cc).
void add_training_options(CLI::App& cmd, TrainOptions& o);
void print_epoch(const TrainEpoch& e);
nlohmann::json epochs_json(const std::vector<TrainEpoch>& epochs);

// Calibration options shared by `calibrate` and `quantize`.
struct CalibrationCliOptions {
  std::string method = "minmax";
  double percentile = 99.99;
  int64_t calib_size = 512;
  int64_t batch = 32;
  CalibrateOptions to_options() const;
};
void add_calibration_options(CLI::App& cmd, CalibrationCliOptions& o);

// Prints a warning on stderr for every tensor whose calibration skipped NaN or infinities.
void warn_nonfinite(const CalibrationTable& table);

// Preprocessing options shared by every command that reads a dataset.
struct DataCliOptions {
  std::string resize;  // "H,W"
  std::string mean;    // "0.485,0.456,0.406"
  std::string std;
  int channels = 0;
  std::string layout = "nchw";
  std::string random_shape;  // for random:N, "C,H,W"
  DataOptions to_options() const;
  // The same, with the sample shape of random:N data taken from `model`'s first input (dims after
  // the batch) when neither the spec nor --random-shape gives one.
  DataOptions to_options(const Model& model) const;
};
void add_data_options(CLI::App& cmd, DataCliOptions& o);

// "1,28,28" -> {1, 28, 28}; kInvalidArgument on anything else.
Shape parse_shape(const std::string& text, const std::string& option);
// 1536 -> "1.5 KiB".
std::string human_bytes(uint64_t bytes);
// The command line of this process (set once by main), each argument shell-quoted where needed,
// without -o/--output and --threads: recorded in the files quench writes (metadata
// "quench.command").
void set_command_line(int argc, char** argv);
const std::string& command_line();
// Median latency of `path` at batch 1 and 32 on random input (quench demo, quench report).
struct SizeAndLatency {
  uint64_t bytes = 0;
  double b1_ms = 0, b32_ms = 0;
};
SizeAndLatency measure_size_latency(const std::string& path, int threads);

// The JSON object printed as the last line of stdout under --json.
void print_json(const nlohmann::json& object);
nlohmann::json shape_json(const SymbolicShape& shape);
SessionOptions session_options(int threads);

}  // namespace quench::cli
