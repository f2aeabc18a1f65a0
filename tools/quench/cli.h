// Shared pieces of the quench command-line tool: one subcommand per file (cmd_*.cc).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "quench/data.h"
#include "quench/graph.h"
#include "quench/session.h"

namespace quench::cli {

// A subcommand's action; returns the process exit code.
using Action = std::function<int()>;

void add_inspect_command(CLI::App& app, Action& action);
void add_run_command(CLI::App& app, Action& action);
void add_eval_command(CLI::App& app, Action& action);
void add_bench_command(CLI::App& app, Action& action);
void add_demo_command(CLI::App& app, Action& action);

// Preprocessing options shared by every command that reads a dataset.
struct DataCliOptions {
  std::string resize;  // "H,W"
  std::string mean;    // "0.485,0.456,0.406"
  std::string std;
  int channels = 0;
  std::string layout = "nchw";
  std::string random_shape;  // for random:N, "C,H,W"
  DataOptions to_options() const;
};
void add_data_options(CLI::App& cmd, DataCliOptions& o);

// "1,28,28" -> {1, 28, 28}; kInvalidArgument on anything else.
Shape parse_shape(const std::string& text, const std::string& option);
// 1536 -> "1.5 KiB".
std::string human_bytes(uint64_t bytes);
// The JSON object printed as the last line of stdout under --json.
void print_json(const nlohmann::json& object);
nlohmann::json shape_json(const SymbolicShape& shape);
SessionOptions session_options(int threads);

}  // namespace quench::cli
