#include <cstdio>
#include <iostream>

#include <filesystem>

#include "quench/benchmark.h"
#include "quench/cli.h"

namespace quench::cli {

Shape parse_shape(const std::string& text, const std::string& option) {
  Shape shape;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string part = text.substr(start, comma - start);
    size_t used = 0;
    int64_t value = -1;
    try {
      value = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    require(used == part.size() && !part.empty() && value > 0, ErrorKind::kInvalidArgument,
            "{} expects positive integers separated by commas (like 1,28,28), got '{}'", option,
            text);
    shape.push_back(value);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return shape;
}

int exit_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return 2;
    case ErrorKind::kInvalidModel:
      return 3;
    case ErrorKind::kUnsupported:
      return 4;
    case ErrorKind::kIo:
      return 5;
    case ErrorKind::kResource:
      return 6;
    case ErrorKind::kInterrupted:
      return 130;
    case ErrorKind::kInternal:
      return 70;
  }
  return 1;
}

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

void print_json(const nlohmann::json& object) { std::cout << object.dump() << std::endl; }

nlohmann::json shape_json(const SymbolicShape& shape) {
  nlohmann::json out = nlohmann::json::array();
  for (const Dim& d : shape) {
    if (d.known()) {
      out.push_back(d.value);
    } else {
      out.push_back(d.param.empty() ? "?" : d.param);
    }
  }
  return out;
}

namespace {
std::string& stored_command_line() {
  static std::string line;
  return line;
}
}  // namespace

void set_command_line(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    std::string arg = i == 0 ? "quench" : argv[i];
    // Where the file goes and how many threads made it do not change what it holds: left out,
    // so that the same job writes the same bytes (tests/e2e/test_determinism.py).
    if (arg == "-o" || arg == "--output" || arg == "--threads") {
      ++i;
      continue;
    }
    if (arg.rfind("--output=", 0) == 0 || arg.rfind("--threads=", 0) == 0) continue;
    const bool plain = !arg.empty() && arg.find_first_not_of(
                                           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789-_./:=,+@%") == std::string::npos;
    if (!plain) {
      std::string quoted = "'";
      for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      arg = quoted + "'";
    }
    if (!line.empty()) line += ' ';
    line += arg;
  }
  stored_command_line() = line;
}

const std::string& command_line() { return stored_command_line(); }

SizeAndLatency measure_size_latency(const std::string& path, int threads) {
  const Session session = Session::load(path, session_options(threads));
  SizeAndLatency m;
  m.bytes = std::filesystem::file_size(path);
  LatencyOptions lo;
  lo.seconds = 1.0;
  auto latency = [&](int64_t batch) {
    const auto inputs = random_inputs(session, batch, std::nullopt);
    return measure_latency([&] { session.run(inputs); }, lo).median_ms;
  };
  m.b1_ms = latency(1);
  m.b32_ms = latency(32);
  return m;
}

SessionOptions session_options(int threads) {
  SessionOptions options;
  options.threads = threads;
  return options;
}

}  // namespace quench::cli

namespace quench::cli {
namespace {

std::vector<float> parse_floats(const std::string& text, const std::string& option) {
  std::vector<float> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string part = text.substr(start, comma - start);
    size_t used = 0;
    float v = 0;
    try {
      v = std::stof(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    require(!part.empty() && used == part.size(), ErrorKind::kInvalidArgument,
            "{} expects numbers separated by commas, got '{}'", option, text);
    out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

DataOptions DataCliOptions::to_options() const {
  DataOptions o;
  if (!resize.empty()) {
    const Shape hw = parse_shape(resize, "--resize");
    require(hw.size() == 2, ErrorKind::kInvalidArgument, "--resize expects H,W, got '{}'", resize);
    o.resize_height = hw[0];
    o.resize_width = hw[1];
  }
  if (!mean.empty()) o.mean = parse_floats(mean, "--mean");
  if (!std.empty()) o.std = parse_floats(std, "--std");
  o.channels = channels;
  require(layout == "nchw" || layout == "nhwc", ErrorKind::kInvalidArgument,
          "--layout expects nchw or nhwc, got '{}'", layout);
  o.layout = layout == "nhwc" ? DataLayout::kNHWC : DataLayout::kNCHW;
  if (!random_shape.empty()) o.random_shape = parse_shape(random_shape, "--random-shape");
  return o;
}

DataOptions DataCliOptions::to_options(const Model& model) const {
  DataOptions o = to_options();
  const Graph& g = model.graph;
  if (!o.random_shape.empty() || g.inputs.empty()) return o;
  const ValueInfo* info = g.info(g.inputs[0]);
  if (!info || !info->shape || info->shape->empty()) return o;
  Shape sample;
  for (size_t d = 1; d < info->shape->size(); ++d) {
    if (!(*info->shape)[d].known()) return o;  // the data set then asks for a shape
    sample.push_back((*info->shape)[d].value);
  }
  o.random_shape = sample;
  return o;
}

void add_data_options(CLI::App& cmd, DataCliOptions& o) {
  cmd.add_option("--resize", o.resize, "Resize images to H,W");
  cmd.add_option("--mean", o.mean, "Per-channel mean subtracted after scaling (e.g. 0.5 or a,b,c)");
  cmd.add_option("--std", o.std, "Per-channel std dividing after the mean");
  cmd.add_option("--channels", o.channels, "1 (grayscale) or 3 (RGB); 0 keeps the stored channels");
  cmd.add_option("--layout", o.layout, "nchw or nhwc")->capture_default_str();
  cmd.add_option("--random-shape", o.random_shape, "Sample shape C,H,W for random:N data");
}

}  // namespace quench::cli

namespace quench::cli {

CalibrateOptions CalibrationCliOptions::to_options() const {
  CalibrateOptions o;
  o.observer.method = parse_calibration_method(method);
  require(percentile > 0 && percentile <= 100, ErrorKind::kInvalidArgument,
          "--percentile must be in (0, 100], got {}", percentile);
  o.observer.percentile = percentile;
  o.calib_size = calib_size;
  o.batch = batch;
  return o;
}

void add_calibration_options(CLI::App& cmd, CalibrationCliOptions& o) {
  cmd.add_option("--method", o.method, "minmax, movavg, percentile, entropy or mse")
      ->capture_default_str();
  cmd.add_option("--percentile", o.percentile, "Share of values kept by --method percentile")
      ->capture_default_str();
  cmd.add_option("--calib-size", o.calib_size, "Calibration samples")->capture_default_str();
  cmd.add_option("--calib-batch", o.batch, "Batch size during calibration")->capture_default_str();
}

void warn_nonfinite(const CalibrationTable& table) {
  for (const auto& [name, observer] : table.observers) {
    if (observer.nonfinite() > 0) {
      std::fprintf(stderr,
                   "quench: warning: tensor '%s': %lld NaN/infinite values were left out of "
                   "calibration\n",
                   name.c_str(), static_cast<long long>(observer.nonfinite()));
    }
  }
}

}  // namespace quench::cli
