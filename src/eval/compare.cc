#include "quench/compare.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <set>
#include <unordered_map>

#include "core/check.h"
#include "core/progress.h"
#include "eval/error_stats.h"
#include "eval/tensor_match.h"
#include "eval/value_histogram.h"
#include "quench/evaluate.h"
#include "quench/passes.h"

namespace quench {
namespace {

std::string io_list(const std::vector<IoInfo>& io) {
  std::string s;
  for (const IoInfo& i : io) {
    if (!s.empty()) s += ", ";
    s += i.name + " " + std::string(dtype_name(i.dtype)) + " " + shape_str(i.shape);
  }
  return "[" + s + "]";
}

bool same_shape(const SymbolicShape& x, const SymbolicShape& y) {
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].known() && y[i].known() && x[i].value != y[i].value) return false;
  }
  return true;
}

void check_same_io(const Session& a, const Session& b) {
  const auto &ia = a.inputs(), &ib = b.inputs();
  bool same = ia.size() == ib.size();
  for (size_t i = 0; same && i < ia.size(); ++i) {
    same = ia[i].name == ib[i].name && ia[i].dtype == ib[i].dtype &&
           same_shape(ia[i].shape, ib[i].shape);
  }
  QUENCH_CHECK(same, ErrorKind::kInvalidArgument,
               "the models' inputs differ: A has {}, B has {}; compare needs the same inputs",
               io_list(ia), io_list(ib));
  QUENCH_CHECK(a.outputs().size() == b.outputs().size(), ErrorKind::kInvalidArgument,
               "the models' outputs differ: A has {}, B has {}; compare needs as many outputs",
               io_list(a.outputs()), io_list(b.outputs()));
}

// Records the element type of every value a run reports.
std::map<std::string, DType> reported_values(const Session& s, const std::vector<Tensor>& feeds) {
  std::map<std::string, DType> seen;
  RunOptions ro;
  ro.on_tensor = [&](const std::string& name, const Tensor& t) { seen[name] = t.dtype(); };
  s.run(feeds, ro);
  return seen;
}

// One shared tensor being compared.
struct Row {
  TensorMatch match;
  ErrorStats stats;
  bool shape_mismatch = false;
  ValueHistogram histogram;
  bool histogram_ready = false;
};

// The histogram's range: B's quantization range widened by half its width on each side, else
// the range of the first values seen widened by a tenth.
void start_histogram(Row& row, const Tensor& a, int bins) {
  double lo, hi;
  if (row.match.has_range) {
    const double w = row.match.range_hi - row.match.range_lo;
    lo = row.match.range_lo - w / 2;
    hi = row.match.range_hi + w / 2;
  } else {
    const auto [mn, mx] = std::minmax_element(a.data<float>(), a.data<float>() + a.numel());
    const double w = std::max(double(*mx) - double(*mn), 1e-6);
    lo = *mn - w / 10;
    hi = *mx + w / 10;
  }
  reset_histogram(row.histogram, lo, hi, bins);
  row.histogram_ready = true;
}

// The model with its constant DequantizeLinear nodes (quantized weights) replaced by their float
// values: exactly what they compute, as constants the fast float kernels accept.
Model with_constant_weights(Model m) {
  FoldOptions fo;
  fo.keep_op_types = {"QuantizeLinear", "DynamicQuantizeLinear"};
  fold_constants(m.graph, fo);
  return m;
}

int64_t argmax(const float* row, int64_t n) { return std::max_element(row, row + n) - row; }

}  // namespace

CompareResult compare_models(const Model& model_a, const Model& model_b, const Dataset& data,
                             const CompareOptions& options) {
  QUENCH_CHECK(options.batch > 0, ErrorKind::kInvalidArgument, "batch size must be positive");
  const Session a(with_constant_weights(model_a), options.session);
  const Session b(with_constant_weights(model_b), options.session);
  check_same_io(a, b);
  const DataBinding binding_a(a, data, "the dataset");
  const DataBinding binding_b(b, data, "the dataset");
  CompareResult r;
  r.n = data.size();
  r.has_labels = data.has_labels();
  const auto start = std::chrono::steady_clock::now();

  // Which values to compare: found on one sample, before the timed loop.
  std::vector<Row> rows;
  if (r.n > 0) {
    const Batch first = data.batch(0, 1);
    const auto a_values = reported_values(a, binding_a.feeds(first));
    const auto b_values = reported_values(b, binding_b.feeds(first));
    const std::set<std::string> a_outputs(a.graph().outputs.begin(), a.graph().outputs.end());
    for (TensorMatch& m : match_tensors(a_values, b_values, a.graph(), b.graph())) {
      if (!a_outputs.count(m.a_name)) rows.push_back({std::move(m), {}, false, {}, false});
    }
  }
  std::unordered_map<std::string, size_t> row_of_a, row_of_b;
  for (size_t i = 0; i < rows.size(); ++i) {
    row_of_a[rows[i].match.a_name] = i;
    row_of_b[rows[i].match.b_name] = i;
  }

  const size_t n_out = a.outputs().size();
  std::vector<ErrorStats> out_stats(n_out);
  std::vector<int64_t> agree(n_out, 0), agree_count(n_out, 0);
  int64_t correct_a = 0, correct_b = 0;
  std::vector<Tensor> held(rows.size());       // A's values of the current batch
  std::vector<char> held_now(rows.size(), 0);  // set when A computed it in this batch
  std::vector<float> scratch;

  RunOptions ra;
  ra.on_tensor = [&](const std::string& name, const Tensor& t) {
    const auto it = row_of_a.find(name);
    if (it == row_of_a.end()) return;
    held_now[it->second] = 1;
    Tensor& h = held[it->second];
    // The buffer of the last batch when the shape is the same: no fresh pages per batch.
    if (h.defined() && h.dtype() == t.dtype() && h.shape() == t.shape()) {
      std::memcpy(h.raw_data(), t.raw_data(), t.nbytes());
    } else {
      h = t.clone();
    }
  };
  RunOptions rb;
  rb.on_tensor = [&](const std::string& name, const Tensor& t) {
    const auto it = row_of_b.find(name);
    if (it == row_of_b.end()) return;
    Row& row = rows[it->second];
    const Tensor& x = held[it->second];
    if (!held_now[it->second] || x.numel() != t.numel() || x.dtype() != DType::kFloat32) {
      row.shape_mismatch = true;
      return;
    }
    const float* y = nullptr;
    if (row.match.dequantize) {
      scratch.resize(static_cast<size_t>(t.numel()));
      const float s = row.match.scale;
      const int32_t z = row.match.zero_point;
      if (t.dtype() == DType::kUInt8) {
        const uint8_t* q = t.data<uint8_t>();
        for (int64_t i = 0; i < t.numel(); ++i) scratch[size_t(i)] = s * float(int32_t(q[i]) - z);
      } else {
        const int8_t* q = t.data<int8_t>();
        for (int64_t i = 0; i < t.numel(); ++i) scratch[size_t(i)] = s * float(int32_t(q[i]) - z);
      }
      y = scratch.data();
    } else {
      if (t.dtype() != DType::kFloat32) return;
      y = t.data<float>();
    }
    row.stats.add(x.data<float>(), y, t.numel());
    if (options.histogram_bins > 0 && x.numel() > 0) {
      if (!row.histogram_ready) start_histogram(row, x, options.histogram_bins);
      add_to_histogram(row.histogram, x.data<float>(), x.numel());
    }
  };

  Progress progress("comparing", r.n, options.progress);
  for (int64_t first = 0; first < r.n; first += options.batch) {
    const int64_t count = std::min(options.batch, r.n - first);
    const Batch batch = data.batch(first, count);
    std::fill(held_now.begin(), held_now.end(), 0);
    const std::vector<Tensor> oa = a.run(binding_a.feeds(batch), rows.empty() ? RunOptions{} : ra);
    const std::vector<Tensor> ob = b.run(binding_b.feeds(batch), rows.empty() ? RunOptions{} : rb);
    for (size_t o = 0; o < n_out; ++o) {
      const Tensor &x = oa.at(o), &y = ob.at(o);
      QUENCH_CHECK(
          x.dtype() == DType::kFloat32 && y.dtype() == DType::kFloat32 && x.shape() == y.shape(),
          ErrorKind::kInvalidArgument,
          "output {} of A ('{}': {} {}) and of B ('{}': {} {}) differ: compare needs "
          "float outputs of the same shape",
          o, a.outputs()[o].name, dtype_name(x.dtype()), shape_str(x.shape()), b.outputs()[o].name,
          dtype_name(y.dtype()), shape_str(y.shape()));
      out_stats[o].add(x.data<float>(), y.data<float>(), x.numel());
      if (x.rank() == 2 && x.dim(0) == count && x.dim(1) > 0) {
        const int64_t classes = x.dim(1);
        for (int64_t i = 0; i < count; ++i) {
          const int64_t pa = argmax(x.data<float>() + i * classes, classes);
          const int64_t pb = argmax(y.data<float>() + i * classes, classes);
          agree[o] += pa == pb ? 1 : 0;
          ++agree_count[o];
          if (o == 0 && r.has_labels) {
            const int64_t label = batch.labels.at(static_cast<size_t>(i));
            correct_a += pa == label ? 1 : 0;
            correct_b += pb == label ? 1 : 0;
          }
        }
      }
    }
    progress.update(first + count);
  }
  progress.finish();

  for (const Row& row : rows) {
    if (row.shape_mismatch || row.stats.count() == 0) continue;
    TensorComparison c;
    c.name = row.match.a_name;
    c.b_name = row.match.b_name;
    c.has_range = row.match.has_range;
    c.range_lo = row.match.range_lo;
    c.range_hi = row.match.range_hi;
    c.histogram = row.histogram;
    row.stats.finish(c);
    r.tensors.push_back(std::move(c));
  }
  std::stable_sort(r.tensors.begin(), r.tensors.end(),
                   [](const TensorComparison& x, const TensorComparison& y) {
                     if (x.sqnr_db != y.sqnr_db) return x.sqnr_db < y.sqnr_db;
                     return x.name < y.name;
                   });
  for (size_t o = 0; o < n_out; ++o) {
    OutputComparison c;
    c.name = a.outputs()[o].name;
    c.b_name = b.outputs()[o].name;
    out_stats[o].finish(c);
    if (agree_count[o] > 0) {
      c.top1_agreement = static_cast<double>(agree[o]) / static_cast<double>(agree_count[o]);
    }
    r.outputs.push_back(std::move(c));
  }
  if (r.has_labels && agree_count.at(0) > 0) {
    r.accuracy_a = static_cast<double>(correct_a) / static_cast<double>(r.n);
    r.accuracy_b = static_cast<double>(correct_b) / static_cast<double>(r.n);
  } else {
    r.has_labels = false;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace quench
