#include "quench/report_render.h"

#include <algorithm>
#include <cmath>

#include "quench/cli.h"

namespace quench::cli {
namespace {

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string db_text(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.2f}", v);
}

// A number as the report's data attributes carry it (what `quench compare --json` prints).
std::string num(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.17g}", v);
}

double ratio(double x, double y) { return y > 0 ? x / y : 0; }

struct SummaryRow {
  std::string label, key_a, key_b, a, b, vs;
  double value_a, value_b;
};

std::vector<SummaryRow> summary_rows(const ReportData& r) {
  std::vector<SummaryRow> rows;
  if (r.compare.has_labels) {
    rows.push_back({"top-1 accuracy", "accuracy_a", "accuracy_b",
                    fmt::format("{:.2f}%", 100 * r.compare.accuracy_a),
                    fmt::format("{:.2f}%", 100 * r.compare.accuracy_b),
                    fmt::format("{:+.2f} pt", 100 * (r.compare.accuracy_b - r.compare.accuracy_a)),
                    r.compare.accuracy_a, r.compare.accuracy_b});
  }
  rows.push_back({"size", "bytes_a", "bytes_b", human_bytes(r.a.bytes), human_bytes(r.b.bytes),
                  fmt::format("{:.2f}x smaller", ratio(double(r.a.bytes), double(r.b.bytes))),
                  double(r.a.bytes), double(r.b.bytes)});
  rows.push_back({"latency, batch 1", "b1_ms_a", "b1_ms_b", fmt::format("{:.3f} ms", r.a.b1_ms),
                  fmt::format("{:.3f} ms", r.b.b1_ms),
                  fmt::format("{:.2f}x faster", ratio(r.a.b1_ms, r.b.b1_ms)), r.a.b1_ms,
                  r.b.b1_ms});
  rows.push_back({"latency, batch 32", "b32_ms_a", "b32_ms_b", fmt::format("{:.3f} ms", r.a.b32_ms),
                  fmt::format("{:.3f} ms", r.b.b32_ms),
                  fmt::format("{:.2f}x faster", ratio(r.a.b32_ms, r.b.b32_ms)), r.a.b32_ms,
                  r.b.b32_ms});
  return rows;
}

// Horizontal bars, one per shared tensor, worst first.
std::string sqnr_chart(const CompareResult& c) {
  double top = 1;
  for (const TensorComparison& t : c.tensors) {
    if (std::isfinite(t.sqnr_db)) top = std::max(top, t.sqnr_db);
  }
  top *= 1.1;
  const int label_w = 420, bar_w = 360, row_h = 18;
  const int width = label_w + bar_w + 70, height = row_h * int(c.tensors.size()) + 24;
  std::string s = fmt::format(
      "<svg class=\"chart\" id=\"sqnr-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" "
      "height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\"><title>SQNR per tensor (dB)</title>\n",
      width, height, width, height);
  int y = 4;
  for (const TensorComparison& t : c.tensors) {
    const double v = std::isfinite(t.sqnr_db) ? std::max(t.sqnr_db, 0.0) : top;
    const int w = std::max(1, int(bar_w * v / top));
    const char* colour = t.sqnr_db < 20 ? "#c0392b" : t.sqnr_db < 30 ? "#e67e22" : "#2e86c1";
    s += fmt::format(
        "<g class=\"bar\" data-name=\"{}\" data-sqnr=\"{}\"><text x=\"{}\" y=\"{}\" "
        "text-anchor=\"end\" font-size=\"11\">{}</text><rect x=\"{}\" y=\"{}\" width=\"{}\" "
        "height=\"{}\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text></g>\n",
        esc(t.name), num(t.sqnr_db), label_w - 6, y + 12, esc(t.name), label_w, y, w, row_h - 4,
        colour, label_w + w + 4, y + 12, db_text(t.sqnr_db));
    y += row_h;
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\">SQNR, dB (higher is better)</text>",
                   label_w, y + 14);
  return s + "</svg>\n";
}

std::string histogram_chart(const TensorComparison& t) {
  const ValueHistogram& h = t.histogram;
  const int width = 360, height = 90, plot_h = 70;
  int64_t top = 1;
  for (int64_t c : h.counts) top = std::max(top, c);
  std::string s = fmt::format(
      "<svg class=\"chart histogram\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" "
      "height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\"><title>{}</title>\n",
      width, height, width, height, esc(t.name));
  const double bin_w = double(width) / double(std::max<size_t>(h.counts.size(), 1));
  for (size_t i = 0; i < h.counts.size(); ++i) {
    // Square-root scale: the tails stay visible next to a peak at zero.
    const double bar = plot_h * std::sqrt(double(h.counts[i]) / double(top));
    s += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
        "fill=\"#5d6d7e\"/>",
        bin_w * double(i), plot_h - bar, std::max(bin_w - 0.5, 0.5), bar);
  }
  auto x_of = [&](double v) { return (v - h.lo) / (h.hi - h.lo) * width; };
  if (t.has_range) {
    for (double v : {t.range_lo, t.range_hi}) {
      s += fmt::format(
          "<line class=\"range\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"0\" y2=\"{1}\" "
          "stroke=\"#c0392b\" stroke-width=\"2\" stroke-dasharray=\"4 2\"/>",
          x_of(v), plot_h);
    }
  }
  s += fmt::format(
      "<text x=\"0\" y=\"{0}\" font-size=\"10\">{1:.3g}</text><text x=\"{2}\" y=\"{0}\" "
      "font-size=\"10\" text-anchor=\"end\">{3:.3g}</text>",
      height - 4, h.lo, width, h.hi);
  return s + "</svg>\n";
}

std::string weight_chart(const WeightRanges& w) {
  const size_t n = w.lo.size();
  const int width = std::max<int>(120, std::min<int>(720, int(n) * 6)), height = 100;
  float lo = 0, hi = 0;
  for (size_t c = 0; c < n; ++c) lo = std::min(lo, w.lo[c]), hi = std::max(hi, w.hi[c]);
  if (!(hi > lo)) hi = lo + 1;
  auto y_of = [&](double v) { return 4 + (hi - v) / (hi - lo) * (height - 8); };
  std::string s = fmt::format(
      "<svg class=\"chart weights\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" "
      "height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\"><title>{}</title>\n",
      width, height, width, height, esc(w.node));
  s += fmt::format("<line x1=\"0\" x2=\"{0}\" y1=\"{1:.1f}\" y2=\"{1:.1f}\" stroke=\"#aaa\"/>",
                   width, y_of(0));
  const double step = double(width) / double(std::max<size_t>(n, 1));
  for (size_t c = 0; c < n; ++c) {
    const double x = step * (double(c) + 0.5);
    s += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" "
        "stroke=\"#2e86c1\" stroke-width=\"{3:.1f}\"/>",
        x, y_of(w.hi[c]), y_of(w.lo[c]), std::max(step * 0.6, 1.0));
  }
  return s + "</svg>\n";
}

const char* kStyle = R"(body{font-family:sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}td:first-child,th:first-child{text-align:left}code{background:#f4f4f4}
.hist{display:inline-block;margin:0 1em 1em 0;vertical-align:top}.hist p{margin:0;font-size:12px}
)";

}  // namespace

std::string render_html(const ReportData& r) {
  const CompareResult& c = r.compare;
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  s += "<title>quench report: " + esc(r.b.path) + " against " + esc(r.a.path) + "</title>\n";
  s += std::string("<style>") + kStyle + "</style></head><body>\n";
  s += fmt::format(
      "<h1>quench report</h1>\n<p>A: <code>{}</code><br>B: <code>{}</code><br>data: "
      "<code>{}</code>, {} samples; latency: median on random input, {} "
      "thread(s)</p>\n",
      esc(r.a.path), esc(r.b.path), esc(r.data), c.n, r.threads);
  s += "<h2>Summary</h2>\n<table id=\"summary\"><tr><th></th><th>A</th><th>B</th><th>B vs "
       "A</th></tr>\n";
  for (const SummaryRow& row : summary_rows(r)) {
    s += fmt::format(
        "<tr><td>{}</td><td data-key=\"{}\" data-value=\"{}\">{}</td><td data-key=\"{}\" "
        "data-value=\"{}\">{}</td><td>{}</td></tr>\n",
        row.label, row.key_a, num(row.value_a), row.a, row.key_b, num(row.value_b), row.b, row.vs);
  }
  s += "</table>\n<h2>Outputs</h2>\n<table id=\"outputs\"><tr><th>output</th><th>SQNR "
       "dB</th><th>cosine</th><th>MSE</th><th>max abs</th><th>top-1 agreement</th></tr>\n";
  for (const OutputComparison& o : c.outputs) {
    s += fmt::format(
        "<tr data-name=\"{}\" data-sqnr=\"{}\" data-top1=\"{}\"><td>{}</td><td>{}</td><td>{:.5f}"
        "</td><td>{:.4e}</td><td>{:.4g}</td><td>{}</td></tr>\n",
        esc(o.name), num(o.sqnr_db), num(o.top1_agreement), esc(o.name), db_text(o.sqnr_db),
        o.cosine, o.mse, o.max_abs,
        o.top1_agreement < 0 ? std::string("-") : fmt::format("{:.2f}%", 100 * o.top1_agreement));
  }
  s += "</table>\n<h2>SQNR per tensor, worst first</h2>\n";
  if (c.tensors.empty()) {
    s += "<p>No shared tensors: B has no value matching one of A's; outputs compared only.</p>\n";
  } else {
    s += sqnr_chart(c);
    s += "<details><summary>Table</summary><table id=\"tensors\"><tr><th>tensor</th><th>B's "
         "value</th><th>SQNR dB</th><th>cosine</th><th>MSE</th><th>max abs</th></tr>\n";
    for (const TensorComparison& t : c.tensors) {
      s += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.5f}</td><td>{:.4e}</td><td>{:.4g}</td>"
          "</tr>\n",
          esc(t.name), esc(t.b_name), db_text(t.sqnr_db), t.cosine, t.mse, t.max_abs);
    }
    s += "</table></details>\n";
    s += "<h2>Activations: A's values, B's calibrated range (red dashes)</h2>\n";
    for (const TensorComparison& t : c.tensors) {
      if (t.histogram.counts.empty()) continue;
      s += "<div class=\"hist\"><p>" + esc(t.name) +
           (t.has_range ? fmt::format(" — range [{:.4g}, {:.4g}]", t.range_lo, t.range_hi)
                        : std::string(" — not quantized in B")) +
           fmt::format(" — {} below, {} above the axis</p>", t.histogram.below, t.histogram.above);
      s += histogram_chart(t) + "</div>\n";
    }
  }
  s += "<h2>Per-channel weight ranges (A)</h2>\n";
  if (r.weights.empty()) s += "<p>No layer with constant weights.</p>\n";
  for (const WeightRanges& w : r.weights) {
    s += fmt::format("<p>{} (<code>{}</code>, {} channels)</p>\n", esc(w.node), esc(w.weight),
                     w.lo.size());
    s += weight_chart(w);
  }
  s += "<h2>Units kept in float in B</h2>\n";
  if (!r.b_is_qdq) {
    s += "<p>B is not a QDQ model: nothing to lower.</p>\n";
  } else if (r.float_nodes.empty()) {
    s += "<p>None: every quantized unit runs on integer kernels.</p>\n";
  } else {
    s += "<table id=\"float-units\"><tr><th>node</th><th>op</th><th>reason</th></tr>\n";
    for (const auto& f : r.float_nodes) {
      s += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n", esc(f.node), esc(f.op_type),
                       esc(f.reason));
    }
    s += "</table>\n";
  }
  s += "<h2>How the files were made</h2>\n<table id=\"commands\"><tr><th>file</th><th>recorded "
       "by quench</th></tr>\n";
  for (const ReportModel* m : {&r.a, &r.b}) {
    std::string what;
    for (const auto& [k, v] : m->metadata)
      what += "<code>" + esc(k) + "</code>: " + esc(v) + "<br>";
    if (what.empty()) what = "nothing recorded (not written by quench)";
    s += "<tr><td>" + esc(m->path) + "</td><td style=\"text-align:left\">" + what + "</td></tr>\n";
  }
  s += "</table>\n</body></html>\n";
  return s;
}

std::string render_markdown(const ReportData& r) {
  const CompareResult& c = r.compare;
  std::string s = "# quench report\n\n";
  s += fmt::format(
      "A: `{}`  \nB: `{}`  \ndata: `{}`, {} samples; latency: median on random "
      "input, {} thread(s)\n\n## Summary\n\n| | A | B | B vs A |\n| --- | ---: | ---: "
      "| ---: |\n",
      r.a.path, r.b.path, r.data, c.n, r.threads);
  for (const SummaryRow& row : summary_rows(r)) {
    s += fmt::format("| {} | {} | {} | {} |\n", row.label, row.a, row.b, row.vs);
  }
  s += "\n## Outputs\n\n| output | SQNR dB | cosine | MSE | max abs | top-1 agreement |\n| --- | "
       "---: | ---: | ---: | ---: | ---: |\n";
  for (const OutputComparison& o : c.outputs) {
    s += fmt::format(
        "| {} | {} | {:.5f} | {:.4e} | {:.4g} | {} |\n", o.name, db_text(o.sqnr_db), o.cosine,
        o.mse, o.max_abs,
        o.top1_agreement < 0 ? std::string("-") : fmt::format("{:.2f}%", 100 * o.top1_agreement));
  }
  s += "\n## SQNR per tensor, worst first\n\n";
  if (c.tensors.empty()) {
    s += "No shared tensors: B has no value matching one of A's; outputs compared only.\n";
  } else {
    s += "| tensor | SQNR dB | cosine | MSE | max abs | B's range |\n| --- | ---: | ---: | ---: | "
         "---: | ---: |\n";
    for (const TensorComparison& t : c.tensors) {
      s += fmt::format(
          "| {} | {} | {:.5f} | {:.4e} | {:.4g} | {} |\n", t.name, db_text(t.sqnr_db), t.cosine,
          t.mse, t.max_abs,
          t.has_range ? fmt::format("[{:.4g}, {:.4g}]", t.range_lo, t.range_hi) : std::string("-"));
    }
  }
  s += "\n## Per-channel weight ranges (A)\n\n| layer | channels | min | max | widest channel "
       "/ narrowest |\n| --- | ---: | ---: | ---: | ---: |\n";
  for (const WeightRanges& w : r.weights) {
    double mn = 0, mx = 0, widest = 0, narrowest = INFINITY;
    for (size_t ch = 0; ch < w.lo.size(); ++ch) {
      mn = std::min<double>(mn, w.lo[ch]);
      mx = std::max<double>(mx, w.hi[ch]);
      widest = std::max<double>(widest, w.hi[ch] - w.lo[ch]);
      narrowest = std::min<double>(narrowest, w.hi[ch] - w.lo[ch]);
    }
    s += fmt::format("| {} | {} | {:.4g} | {:.4g} | {:.1f} |\n", w.node, w.lo.size(), mn, mx,
                     narrowest > 0 ? widest / narrowest : 0.0);
  }
  s += "\n## Units kept in float in B\n\n";
  if (!r.b_is_qdq) {
    s += "B is not a QDQ model: nothing to lower.\n";
  } else if (r.float_nodes.empty()) {
    s += "None: every quantized unit runs on integer kernels.\n";
  } else {
    s += "| node | op | reason |\n| --- | --- | --- |\n";
    for (const auto& f : r.float_nodes) {
      s += fmt::format("| {} | {} | {} |\n", f.node, f.op_type, f.reason);
    }
  }
  s += "\n## How the files were made\n\n";
  for (const ReportModel* m : {&r.a, &r.b}) {
    s += "- `" + m->path + "`: ";
    if (m->metadata.empty()) s += "nothing recorded (not written by quench)";
    for (const auto& [k, v] : m->metadata) s += "`" + k + "`: `" + v + "`; ";
    s += "\n";
  }
  return s;
}

}  // namespace quench::cli
