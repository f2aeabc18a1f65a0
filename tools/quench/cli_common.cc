#include <cstdio>
#include <iostream>

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
    QUENCH_CHECK(used == part.size() && !part.empty() && value > 0, ErrorKind::kInvalidArgument,
                 "{} expects positive integers separated by commas (like 1,28,28), got '{}'",
                 option, text);
    shape.push_back(value);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return shape;
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

SessionOptions session_options(int threads) {
  SessionOptions options;
  options.threads = threads;
  return options;
}

}  // namespace quench::cli
