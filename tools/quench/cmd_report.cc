// quench report A B --data SPEC -o report.html: what `quench compare` finds, with the summary of
// `quench demo`, activation histograms against B's calibrated ranges, per-channel weight ranges,
// the units B keeps in float and how each file was made, in one self-contained file.
#include <filesystem>
#include <iostream>

#include "quench/cli.h"
#include "quench/compare.h"
#include "quench/files.h"
#include "quench/inspect.h"
#include "quench/model_io.h"
#include "quench/report_render.h"

namespace quench::cli {
namespace {

struct ReportCmdOptions {
  std::string a, b, output;
  std::string data = "fmnist:test";
  std::string format = "html";
  int64_t limit = 0;
  int64_t batch = 64;
  int threads = 1;
  DataCliOptions data_options;
};

constexpr int kHistogramBins = 64;

ReportModel describe(const std::string& path, const Model& m, int threads) {
  ReportModel r;
  r.path = path;
  const SizeAndLatency f = measure_size_latency(path, threads);
  r.bytes = f.bytes;
  r.b1_ms = f.b1_ms;
  r.b32_ms = f.b32_ms;
  for (const auto& [k, v] : m.metadata) {
    if (k.rfind("quench.", 0) == 0) r.metadata.emplace_back(k, v);
  }
  return r;
}

// Per output channel min/max of every Conv/Gemm/MatMul constant weight of A.
std::vector<WeightRanges> weight_ranges(const Graph& g) {
  std::vector<WeightRanges> out;
  for (const Node& n : g.nodes) {
    if (n.op_type != "Conv" && n.op_type != "Gemm" && n.op_type != "MatMul") continue;
    const Tensor* w = g.initializer(n.input(1));
    if (!w || w->dtype() != DType::kFloat32 || w->rank() < 2 ||
        (n.op_type != "Conv" && w->rank() != 2)) {
      continue;
    }
    // Output channels: Conv's dim 0, Gemm's dim 0 with transB (else 1), MatMul's last dim.
    const bool rows = n.op_type == "Conv" || (n.op_type == "Gemm" && n.attr_int("transB", 0));
    const int64_t channels = rows ? w->dim(0) : w->dim(w->rank() - 1);
    const int64_t per = w->numel() / std::max<int64_t>(channels, 1);
    WeightRanges r{n.name.empty() ? n.outputs.at(0) : n.name, n.input(1),
                   std::vector<float>(size_t(channels), INFINITY),
                   std::vector<float>(size_t(channels), -INFINITY)};
    const float* v = w->data<float>();
    for (int64_t i = 0; i < w->numel(); ++i) {
      const size_t c = size_t(rows ? i / per : i % channels);
      r.lo[c] = std::min(r.lo[c], v[i]);
      r.hi[c] = std::max(r.hi[c], v[i]);
    }
    out.push_back(std::move(r));
  }
  return out;
}

int run_report(const ReportCmdOptions& o) {
  require(o.format == "html" || o.format == "md", ErrorKind::kInvalidArgument,
          "--format {}: expected html or md", o.format);
  check_writable(o.output, "report");
  const Model model_a = load_model(o.a);
  const Model model_b = load_model(o.b);
  DataOptions dopts = o.data_options.to_options(model_a);
  dopts.limit = o.limit;
  auto data = open_dataset(o.data, dopts);

  ReportData r;
  r.data = o.data;
  r.threads = o.threads;
  CompareOptions co;
  co.batch = o.batch;
  co.session = session_options(o.threads);
  co.histogram_bins = kHistogramBins;
  r.compare = compare_models(model_a, model_b, *data, co);
  std::cerr << "measuring latency at batch 1 and 32\n";
  r.a = describe(o.a, model_a, o.threads);
  r.b = describe(o.b, model_b, o.threads);
  r.b_is_qdq = is_qdq_graph(model_b.graph);
  if (r.b_is_qdq) r.float_nodes = qdq_lowering(model_b.graph).float_nodes;
  r.weights = weight_ranges(model_a.graph);

  write_file_atomic(o.output, o.format == "md" ? render_markdown(r) : render_html(r));
  std::cout << fmt::format("wrote {} ({} shared tensors, {} samples)\n", o.output,
                           r.compare.tensors.size(), r.compare.n);
  return 0;
}

}  // namespace

void add_report_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<ReportCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "report", "A self-contained HTML (or Markdown) report on model B against model A");
  cmd->add_option("a", o->a, "Reference model (the float original)")->required();
  cmd->add_option("b", o->b, "Model compared with it (quantized, say)")->required();
  cmd->add_option("-o,--output", o->output, "Report file to write")->required();
  cmd->add_option("--format", o->format, "html or md")->capture_default_str();
  cmd->add_option("--data", o->data, "Dataset (fmnist:test, idx:..., npy:..., folder:...)")
      ->capture_default_str();
  cmd->add_option("--limit", o->limit, "Compare on at most N samples (0: all)");
  cmd->add_option("--batch", o->batch, "Batch size")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads (latency is measured with these)")
      ->capture_default_str();
  add_data_options(*cmd, o->data_options);
  cmd->callback([o, &action] { action = [o] { return run_report(*o); }; });
}

}  // namespace quench::cli
