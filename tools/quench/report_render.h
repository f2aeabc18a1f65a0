// quench report: the figures it gathers, rendered as one self-contained HTML page (inline CSS
// and SVG, no script, nothing fetched) or as Markdown.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "quench/compare.h"
#include "quench/passes.h"

namespace quench::cli {

struct ReportModel {
  std::string path;
  uint64_t bytes = 0;
  double b1_ms = 0, b32_ms = 0;                               // median latency
  std::vector<std::pair<std::string, std::string>> metadata;  // "quench.*" entries of the file
};

// Per output channel of one layer's float weights (model A).
struct WeightRanges {
  std::string node;
  std::string weight;
  std::vector<float> lo, hi;
};

struct ReportData {
  ReportModel a, b;
  std::string data;
  int threads = 1;
  CompareResult compare;
  bool b_is_qdq = false;
  std::vector<LoweringReport::FloatNode> float_nodes;  // B's compute nodes left in float
  std::vector<WeightRanges> weights;
};

std::string render_html(const ReportData& r);
std::string render_markdown(const ReportData& r);

}  // namespace quench::cli
