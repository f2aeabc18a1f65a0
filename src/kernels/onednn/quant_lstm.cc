// DynamicQuantizeLSTM as int8 matmuls around the float LSTM cell: oneDNN's where its products are
// exact (VNNI, AMX), else quench's AVX2 ones (kernels/x86/int8_matmul.h). The integer sums are
// those of the reference kernel (kernels/ref/quant_lstm.cc), and the float operations that turn
// them into gates are written in the same order, so only the cell's Sigmoid and Tanh
// approximations (rnn_cell.h, a few float ulps) separate the outputs.
#include "kernels/onednn/quant_lstm.h"
#include "core/check.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "core/requantize.h"
#include "kernels/onednn/context.h"
#include "kernels/onednn/qconv.h"
#include "kernels/ref/dynamic_rows.h"
#include "kernels/x86/cpu_features.h"
#include "kernels/x86/int8_gemv.h"
#include "kernels/x86/int8_matmul.h"
#include "kernels/x86/qloops.h"
#include "kernels/x86/rnn_cell.h"
#include "ops/quantized/integer_products.h"
#include "ops/quantized/params.h"
#include "ops/rnn.h"

namespace quench::onednn {
namespace {

using dnnl::memory;
using dt = memory::data_type;
using Args = std::unordered_map<int, memory>;

enum : size_t { kWScale = 8, kWZeroPoint, kRScale, kRZeroPoint, kInputCount };

// Up to this batch the recurrent product runs on quench's VNNI loop (x86::PackedInt8Gemv, 4 rows
// per pass over R), beyond it on oneDNN's matmul. The fmnist LSTM (hidden 128), 1 thread, against
// oneDNN's brgemm for the same product: batch 4 199 vs 241 us, 8 379 vs 412, 16 761-769 vs 771,
// 32 1621-1634 vs 1562-1595.
constexpr int64_t kGemvBatch = 16;

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

// [M, K] u8 (zero point at run time) x [K, N] s8 (constant zero point) -> [M, N] s32, with one set
// of packed weights per direction.
struct Product {
  dnnl::matmul prim;
  memory::desc src, dst, scratchpad;
  std::vector<memory> weights;
  std::string impl;
};

// `w` holds `dirs` row-major [k, n] s8 matrices. nullopt when oneDNN offers only its reference
// implementation.
std::optional<Product> make_product(int64_t m, int64_t k, int64_t n, const int8_t* w, int64_t dirs,
                                    int32_t w_zero_point) {
  Int8Requant r;
  r.scales = {1.f};  // no scaling: the s32 sum itself
  r.src_zero_point_at_run_time = true;
  r.weights_zero_point = w_zero_point;
  Product p;
  p.src = memory::desc({m, k}, dt::u8, memory::dims{k, 1});
  p.dst = memory::desc({m, n}, dt::s32, memory::dims{n, 1});
  const memory::desc user({k, n}, dt::s8, memory::dims{n, 1});
  const memory::desc any({k, n}, dt::s8, memory::format_tag::any);
  dnnl::matmul::primitive_desc pd;
  try {
    pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(p.src, any, p.dst), r.attr(1 << 1),
                                      engine());
  } catch (const dnnl::error&) {
    return std::nullopt;
  }
  p.impl = pd.impl_info_str();
  if (p.impl.rfind("ref", 0) == 0) return std::nullopt;
  p.prim = dnnl::matmul(pd);
  p.scratchpad = pd.scratchpad_desc();
  for (int64_t d = 0; d < dirs; ++d) {
    memory from(user, engine(), const_cast<int8_t*>(w + d * k * n));
    memory& to = p.weights.emplace_back(pd.weights_desc(), engine());
    dnnl::reorder(from, to).execute(stream(), from, to);
  }
  stream().wait();
  return p;
}

struct QuantLstmState final : KernelState {
  memory x_q, x_acc, h_q, h_acc, x_scratchpad, h_scratchpad;  // scratchpads share memory
  memory x_zero_point, h_zero_point;             // one s32 each, set before every product
  std::vector<Args> input_args, recurrent_args;  // per direction
};

struct Sizes {
  int64_t seq_length = 0, batch = 0, input = 0, hidden = 0, dirs = 0;
};

class QuantLstmKernel final : public Kernel {
 public:
  void run(const KernelArgs& a) const override;
  std::unique_ptr<KernelState> make_state() const override;
  size_t scratch_bytes() const override { return scratch_bytes_; }
  std::string impl() const override {
    if (!recurrent_gemv_.empty()) return "onednn:quant_lstm/vnni_gemv";
    if (!recurrent_gemv_avx2_.empty()) return "onednn:quant_lstm/x86_avx2_gemm+gemv";
    if (!recurrent_) return "onednn:quant_lstm/x86_avx2_gemm";
    return "onednn:quant_lstm/" + recurrent_->impl;
  }

  // With oneDNN's products, or quench's AVX2 ones (nullptr where neither applies).
  static std::unique_ptr<Kernel> make(KernelContext& ctx, bool onednn_products);

 private:
  struct Buffers {
    void* scratchpad;
    uint8_t* x_q;         // [seq * batch, input]: the quantized input rows
    int32_t* x_acc;       // [seq * batch, 4h]: their sums with W of one direction
    float* gates;         // [batch, 4h]: the gates of one step
    uint8_t* h_q;         // [batch, hidden]: the quantized hidden state
    int32_t* h_acc;       // [batch, 4h]
    float* h_seen;        // [batch, hidden]: the hidden state the quantization sees
    float* hidden;        // [batch, hidden]
    float* cell;          // [batch, hidden]
    float* x_multiplier;  // [4h]: s_x · s_W[row]
    float* h_multiplier;  // [4h]: s_h · s_R[row] of one step
  };
  Buffers carve(void* scratch) const;
  void run_direction(const KernelArgs& a, QuantLstmState& s, const Buffers& b, int64_t d,
                     const int32_t* lengths, int64_t max_length, DynamicQuantParams x) const;

  RnnAttributes attrs_;
  Sizes sizes_;
  std::optional<Product> input_, recurrent_;                  // oneDNN's products, or
  std::vector<x86::MatMulPlan> x86_input_, x86_recurrent_;    // quench's, per direction
  std::vector<x86::PackedInt8Gemv> recurrent_gemv_;           // per direction, small batches
  std::vector<x86::PackedInt8GemvAvx2> recurrent_gemv_avx2_;  // the same without VNNI
  std::vector<float> w_scales_, r_scales_;                    // [dirs, 4h]
  std::vector<float> bias_;  // [dirs, 4h]: Wb + Rb, or zeros without B
  x86::CellMath math_[2];
  bool has_sequence_lens_ = false, has_initial_h_ = false, has_initial_c_ = false;
  bool has_peepholes_ = false, has_y_ = false, has_y_h_ = false, has_y_c_ = false;
  size_t offsets_[11] = {};
  size_t scratch_bytes_ = 0;
  std::string node_;
};

QuantLstmKernel::Buffers QuantLstmKernel::carve(void* scratch) const {
  char* at = static_cast<char*>(scratch);
  auto p = [&](int i) { return static_cast<void*>(at + offsets_[i]); };
  return {p(0),
          static_cast<uint8_t*>(p(1)),
          static_cast<int32_t*>(p(2)),
          static_cast<float*>(p(3)),
          static_cast<uint8_t*>(p(4)),
          static_cast<int32_t*>(p(5)),
          static_cast<float*>(p(6)),
          static_cast<float*>(p(7)),
          static_cast<float*>(p(8)),
          static_cast<float*>(p(9)),
          static_cast<float*>(p(10))};
}

std::unique_ptr<KernelState> QuantLstmKernel::make_state() const {
  auto s = std::make_unique<QuantLstmState>();
  if (!input_) return s;
  auto unbound = [](const memory::desc& md) { return memory(md, engine(), DNNL_MEMORY_NONE); };
  s->x_q = unbound(input_->src);
  s->x_acc = unbound(input_->dst);
  s->h_q = unbound(recurrent_->src);
  s->h_acc = unbound(recurrent_->dst);
  s->x_scratchpad = unbound(input_->scratchpad);
  s->h_scratchpad = unbound(recurrent_->scratchpad);
  const memory::desc one({1}, dt::s32, memory::dims{1});
  s->x_zero_point = memory(one, engine());
  s->h_zero_point = memory(one, engine());
  for (int64_t d = 0; d < sizes_.dirs; ++d) {
    s->input_args.push_back({{DNNL_ARG_SRC, s->x_q},
                             {DNNL_ARG_WEIGHTS, input_->weights[d]},
                             {DNNL_ARG_DST, s->x_acc},
                             {DNNL_ARG_SCRATCHPAD, s->x_scratchpad},
                             {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, s->x_zero_point}});
    s->recurrent_args.push_back({{DNNL_ARG_SRC, s->h_q},
                                 {DNNL_ARG_WEIGHTS, recurrent_->weights[d]},
                                 {DNNL_ARG_DST, s->h_acc},
                                 {DNNL_ARG_SCRATCHPAD, s->h_scratchpad},
                                 {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, s->h_zero_point}});
  }
  return s;
}

void QuantLstmKernel::run(const KernelArgs& a) const {
  auto& s = *static_cast<QuantLstmState*>(a.state);
  const Buffers b = carve(a.scratch);
  const Sizes& z = sizes_;
  const int32_t* lengths =
      has_sequence_lens_ ? static_cast<const int32_t*>(a.inputs[kRnnSequenceLens]) : nullptr;
  int64_t max_length = lengths ? 0 : z.seq_length;
  for (int64_t batch = 0; lengths && batch < z.batch; ++batch) {
    QUENCH_CHECK(lengths[batch] >= 0 && lengths[batch] <= z.seq_length, ErrorKind::kInvalidArgument,
                 "{}: sequence_lens[{}] is {}, expected a value in [0, {}] (seq_length)", node_,
                 batch, lengths[batch], z.seq_length);
    max_length = std::max<int64_t>(max_length, lengths[batch]);
  }
  if (input_) {
    s.x_q.set_data_handle(b.x_q);
    s.x_acc.set_data_handle(b.x_acc);
    s.h_q.set_data_handle(b.h_q);
    s.h_acc.set_data_handle(b.h_acc);
    s.x_scratchpad.set_data_handle(b.scratchpad);
    s.h_scratchpad.set_data_handle(b.scratchpad);
  }

  // Eq. (44): the rows of the first max_length steps quantized together (eq. (37)), shared by both
  // directions. The product runs over every row; those past max_length are zeros, never read.
  const int64_t rows = max_length * z.batch, all_rows = z.seq_length * z.batch;
  const float* x = static_cast<const float*>(a.inputs[kRnnX]);
  float min = 0.f, max = 0.f;
  x86::range_with_zero(x, rows * z.input, min, max);
  const DynamicQuantParams p = dynamic_quant_params(min, max);
  x86::quantize_loop(x, b.x_q, rows * z.input, p.scale, p.zero_point);
  std::memset(b.x_q + rows * z.input, 0, (all_rows - rows) * z.input);
  if (input_) *static_cast<int32_t*>(s.x_zero_point.get_data_handle()) = p.zero_point;
  for (int64_t d = 0; d < z.dirs; ++d) {
    run_direction(a, s, b, d, lengths, max_length, p);
  }
}

void QuantLstmKernel::run_direction(const KernelArgs& a, QuantLstmState& s, const Buffers& b,
                                    int64_t d, const int32_t* lengths, int64_t max_length,
                                    DynamicQuantParams x) const {
  const Sizes& z = sizes_;
  const int64_t hidden = z.hidden, gate_rows = 4 * hidden, states = z.batch * hidden;
  auto length_of = [&](int64_t batch) { return lengths ? lengths[batch] : z.seq_length; };

  // The sums of eq. (44) with W for every step; each step scales its own (below).
  const x86::Epilogue sums;  // kS32: the sums themselves
  if (input_) {
    execute(input_->prim, s.input_args[d]);
  } else {
    x86::avx2::matmul(x86_input_[d], b.x_q, x.zero_point, nullptr, 0, sums, b.x_acc, b.scratchpad);
  }
  const float* w_scales = w_scales_.data() + d * gate_rows;
  for (int64_t row = 0; row < gate_rows; ++row) b.x_multiplier[row] = x.scale * w_scales[row];

  const int64_t state_at = d * states;
  auto load = [&](bool present, size_t input, float* to) {
    if (present) {
      const float* from = static_cast<const float*>(a.inputs[input]) + state_at;
      std::copy(from, from + states, to);
    } else {
      std::fill(to, to + states, 0.f);
    }
  };
  load(has_initial_h_, kRnnInitialH, b.hidden);
  load(has_initial_c_, kRnnInitialC, b.cell);

  const float* r_scales = r_scales_.data() + d * gate_rows;
  const float* bias = bias_.data() + d * gate_rows;
  const float* peephole =
      has_peepholes_ ? static_cast<const float*>(a.inputs[kRnnP]) + d * 3 * hidden : nullptr;
  float* y = has_y_ ? static_cast<float*>(a.outputs[kRnnY]) : nullptr;
  const int64_t y_time_stride = z.dirs * states;
  const x86::CellMath& m = math_[d];
  for (int64_t step = 0; step < max_length; ++step) {
    // As the reference: when Y is an output, a sequence that ended before the previous step
    // contributes zeros to the quantization of the batch's hidden state (eq. (37)).
    const float* seen = b.hidden;
    for (int64_t batch = 0; y && step > 0 && batch < z.batch; ++batch) {
      if (step - 1 < length_of(batch)) continue;
      if (seen == b.hidden) {
        std::copy(b.hidden, b.hidden + states, b.h_seen);
        seen = b.h_seen;
      }
      std::fill(b.h_seen + batch * hidden, b.h_seen + (batch + 1) * hidden, 0.f);
    }
    float min = 0.f, max = 0.f;
    x86::range_with_zero(seen, states, min, max);
    const DynamicQuantParams p = dynamic_quant_params(min, max);
    x86::quantize_loop(seen, b.h_q, states, p.scale, p.zero_point);
    if (!recurrent_gemv_.empty()) {
      recurrent_gemv_[d].multiply_rows(b.h_q, z.batch, p.zero_point, b.h_acc);
    } else if (!recurrent_gemv_avx2_.empty()) {
      recurrent_gemv_avx2_[d].multiply(b.h_q, p.zero_point, b.h_acc);
    } else if (recurrent_) {
      *static_cast<int32_t*>(s.h_zero_point.get_data_handle()) = p.zero_point;
      execute(recurrent_->prim, s.recurrent_args[d]);
    } else {
      x86::avx2::matmul(x86_recurrent_[d], b.h_q, p.zero_point, nullptr, 0, sums, b.h_acc,
                        b.scratchpad);
    }
    for (int64_t row = 0; row < gate_rows; ++row) b.h_multiplier[row] = p.scale * r_scales[row];

    for (int64_t batch = 0; batch < z.batch; ++batch) {
      const int64_t length = length_of(batch);
      if (step >= length) continue;
      const int64_t time = attrs_.reversed(d) ? length - 1 - step : step;
      // gates = (G_x + G_h) + (Wb + Rb) with G = float(Σ) · (s · s_W[row]) (eq. (44)): the
      // sum here, the bias added by x86::lstm_row (as `xw`, zeros without B), the reference's
      // order.
      float* gates = b.gates + batch * gate_rows;
      const int32_t* x_acc = b.x_acc + (time * z.batch + batch) * gate_rows;
      const int32_t* h_acc = b.h_acc + batch * gate_rows;
      x86::integer_gates(x_acc, b.x_multiplier, h_acc, b.h_multiplier, gate_rows, gates);
      float* h = b.hidden + batch * hidden;
      x86::lstm_row(m, bias, peephole, gates, h, b.cell + batch * hidden);
      if (y) std::copy(h, h + hidden, y + time * y_time_stride + state_at + batch * hidden);
    }
  }

  // Zeros past each sequence's end; final states out, zeros for empty sequences (the reference).
  float* y_h = has_y_h_ ? static_cast<float*>(a.outputs[kRnnYH]) + state_at : nullptr;
  float* y_c = has_y_c_ ? static_cast<float*>(a.outputs[kRnnYC]) + state_at : nullptr;
  ref::finish_sequences(lengths, z.batch, z.seq_length, hidden, y ? y + state_at : nullptr,
                        y_time_stride, {{b.hidden, y_h}, {b.cell, y_c}});
}

// One zero point for every direction and gate row of W (or R), as oneDNN takes it: −128 added for
// u8 weights made s8 (eq. (49)). nullopt when they differ or are not constant.
std::optional<int32_t> weights_zero_point(const KernelContext& ctx, size_t input,
                                          size_t zero_point) {
  const DType type = ctx.input(input).dtype;
  const QuantParamSource source(ctx, QuantParamSource::kNoScale, zero_point, type);
  if (!source.known()) return std::nullopt;
  const std::vector<int32_t>& values = source.params().zero_points;
  if (values.empty()) return std::nullopt;
  for (int32_t v : values) {
    if (v != values[0]) return std::nullopt;
  }
  return values[0] - (type == DType::kUInt8 ? 128 : 0);
}

// The constant scales of W or R per (direction, gate row), from [dirs] or [dirs, 4h]; empty when
// not constant or of another count (the reference reports it).
std::vector<float> gate_scales(const KernelContext& ctx, size_t input, int64_t dirs,
                               int64_t gate_rows) {
  const TensorDesc& t = ctx.input(input);
  if (t.dtype != DType::kFloat32 || t.constant == nullptr) return {};
  const int64_t count = t.numel();
  if (count != dirs && count != dirs * gate_rows) return {};
  const float* values = t.constant->data<float>();
  const int64_t per_direction = count / dirs;
  std::vector<float> out(static_cast<size_t>(dirs * gate_rows));
  for (int64_t d = 0; d < dirs; ++d) {
    for (int64_t row = 0; row < gate_rows; ++row) {
      out[d * gate_rows + row] = values[d * per_direction + (per_direction == 1 ? 0 : row)];
    }
  }
  return out;
}

std::unique_ptr<Kernel> QuantLstmKernel::make(KernelContext& ctx, bool onednn_products) {
  const Node& node = ctx.node;
  if (ctx.inputs.size() != kInputCount || ctx.outputs.size() > 3) return nullptr;
  if (node.has_attr("layout") || !x86::rounds_half_even()) return nullptr;
  for (size_t i :
       {size_t{kRnnX}, size_t{kRnnB}, size_t{kRnnInitialH}, size_t{kRnnInitialC}, size_t{kRnnP}}) {
    if (ctx.has_input(i) && ctx.inputs[i].dtype != DType::kFloat32) return nullptr;
  }
  if (ctx.has_input(kRnnSequenceLens) && ctx.inputs[kRnnSequenceLens].dtype != DType::kInt32) {
    return nullptr;
  }
  for (size_t i : {size_t{kRnnW}, size_t{kRnnR}, size_t{kWScale}, size_t{kRScale}}) {
    if (!ctx.has_input(i) || ctx.inputs[i].constant == nullptr) return nullptr;
  }
  const TensorDesc& w = ctx.inputs[kRnnW];
  const TensorDesc& r = ctx.inputs[kRnnR];
  if (!is_quant_type(w.dtype) || !is_quant_type(r.dtype) || w.rank() != 3 || r.rank() != 3) {
    return nullptr;
  }
  const bool has_bias = ctx.has_input(kRnnB);
  if (has_bias && ctx.inputs[kRnnB].constant == nullptr) return nullptr;

  auto k = std::make_unique<QuantLstmKernel>();
  Node lstm = node;  // parse_rnn_attributes reads ONNX's LSTM node
  lstm.op_type = "LSTM";
  lstm.domain.clear();
  k->attrs_ = parse_rnn_attributes(lstm, 7);
  std::vector<SymbolicShape> storage(kRnnP + 1);
  std::vector<const SymbolicShape*> shapes(kRnnP + 1, nullptr);
  for (size_t i = 0; i <= kRnnP; ++i) {
    if (!ctx.has_input(i)) continue;
    storage[i] = symbolic(ctx.inputs[i].shape);
    if (i == kRnnW || i == kRnnR) {
      // Stored [dirs, K, 4h]; check_rnn_shapes reads ONNX's [dirs, 4h, K].
      storage[i] = SymbolicShape{storage[i][0], storage[i][2], storage[i][1]};
    }
    shapes[i] = &storage[i];
  }
  const RnnDims dims = check_rnn_shapes(node, k->attrs_, shapes);
  Sizes& z = k->sizes_;
  z = {dims.seq_length.value, dims.batch.value, dims.input_size.value, dims.hidden_size.value,
       k->attrs_.num_directions()};
  if (z.seq_length == 0 || z.batch == 0 || z.input == 0 || z.hidden == 0) return nullptr;
  const int64_t gate_rows = 4 * z.hidden;

  k->w_scales_ = gate_scales(ctx, kWScale, z.dirs, gate_rows);
  k->r_scales_ = gate_scales(ctx, kRScale, z.dirs, gate_rows);
  if (k->w_scales_.empty() || k->r_scales_.empty()) return nullptr;
  const std::optional<int32_t> w_zero_point = weights_zero_point(ctx, kRnnW, kWZeroPoint);
  const std::optional<int32_t> r_zero_point = weights_zero_point(ctx, kRnnR, kRZeroPoint);
  if (!w_zero_point || !r_zero_point) return nullptr;
  const std::vector<int8_t> w_s8 = s8_values(*w.constant);
  const std::vector<int8_t> r_s8 = s8_values(*r.constant);
  // Eq. (61) per gate row (column of [K, 4h]) of every direction: else oneDNN's s32 output,
  // converted through float, could differ from the reference's exact sum.
  for (int64_t d = 0; onednn_products && d < z.dirs; ++d) {
    if (!int32_output_exact(w_s8.data() + d * z.input * gate_rows, gate_rows, z.input, 1, gate_rows,
                            *w_zero_point) ||
        !int32_output_exact(r_s8.data() + d * z.hidden * gate_rows, gate_rows, z.hidden, 1,
                            gate_rows, *r_zero_point)) {
      return nullptr;
    }
  }
  size_t product_scratch = 0;
  if (onednn_products) {
    k->input_ = make_product(z.seq_length * z.batch, z.input, gate_rows, w_s8.data(), z.dirs,
                             *w_zero_point);
    k->recurrent_ = make_product(z.batch, z.hidden, gate_rows, r_s8.data(), z.dirs, *r_zero_point);
    if (!k->input_ || !k->recurrent_) return nullptr;
    product_scratch =
        std::max(k->input_->scratchpad.get_size(), k->recurrent_->scratchpad.get_size());
  } else {
    for (int64_t d = 0; d < z.dirs; ++d) {
      k->x86_input_.push_back(x86::constant_b_plan(z.seq_length * z.batch, z.input, gate_rows,
                                                   false, w_s8.data() + d * z.input * gate_rows,
                                                   *w_zero_point, ctx.threads));
      k->x86_recurrent_.push_back(x86::constant_b_plan(z.batch, z.hidden, gate_rows, false,
                                                       r_s8.data() + d * z.hidden * gate_rows,
                                                       *r_zero_point, ctx.threads));
    }
    product_scratch = std::max(x86::avx2::matmul_scratch_bytes(k->x86_input_[0]),
                               x86::avx2::matmul_scratch_bytes(k->x86_recurrent_[0]));
  }
  if (x86::PackedInt8Gemv::available() && z.batch <= kGemvBatch && gate_rows % 16 == 0 &&
      z.hidden <= x86::PackedInt8Gemv::kMaxTaps) {
    for (int64_t d = 0; d < z.dirs; ++d) {
      k->recurrent_gemv_.emplace_back(r_s8.data() + d * z.hidden * gate_rows, z.hidden, gate_rows,
                                      *r_zero_point);
    }
  } else if (x86::PackedInt8GemvAvx2::available() && z.batch == 1 && gate_rows % 16 == 0 &&
             z.hidden <= x86::PackedInt8GemvAvx2::kMaxTaps) {
    // At batch 1 the recurrent product reads all of R every step: R kept as int8 (eq. (135)).
    for (int64_t d = 0; d < z.dirs; ++d) {
      k->recurrent_gemv_avx2_.emplace_back(r_s8.data() + d * z.hidden * gate_rows, z.hidden,
                                           gate_rows, *r_zero_point);
    }
  }

  // Wb + Rb per gate row, as the reference fuses them.
  k->bias_.assign(static_cast<size_t>(z.dirs * gate_rows), 0.f);
  if (has_bias) {
    const float* bias = ctx.inputs[kRnnB].constant->data<float>();
    for (int64_t d = 0; d < z.dirs; ++d) {
      const float* input_bias = bias + d * 2 * gate_rows;
      for (int64_t row = 0; row < gate_rows; ++row) {
        k->bias_[d * gate_rows + row] = input_bias[row] + input_bias[gate_rows + row];
      }
    }
  }
  for (int64_t d = 0; d < z.dirs; ++d) {
    x86::CellMath& m = k->math_[d];
    m.hidden = z.hidden;
    m.clip = k->attrs_.clip;
    m.input_forget = k->attrs_.input_forget;
    m.f = k->attrs_.activation(d, 0);
    m.g = k->attrs_.activation(d, 1);
    m.h = k->attrs_.activation(d, 2);
  }
  k->has_sequence_lens_ = ctx.has_input(kRnnSequenceLens);
  k->has_initial_h_ = ctx.has_input(kRnnInitialH);
  k->has_initial_c_ = ctx.has_input(kRnnInitialC);
  k->has_peepholes_ = ctx.has_input(kRnnP);
  auto has_output = [&](size_t i) { return i < ctx.outputs.size() && ctx.outputs[i].present(); };
  k->has_y_ = has_output(kRnnY);
  k->has_y_h_ = has_output(kRnnYH);
  k->has_y_c_ = has_output(kRnnYC);
  k->node_ = node.describe();

  const size_t all_rows = static_cast<size_t>(z.seq_length * z.batch);
  const size_t states = static_cast<size_t>(z.batch * z.hidden);
  const size_t gates = static_cast<size_t>(gate_rows);
  const size_t sizes[11] = {product_scratch,
                            all_rows * z.input,
                            all_rows * gates * sizeof(int32_t),
                            z.batch * gates * sizeof(float),
                            states,
                            z.batch * gates * sizeof(int32_t),
                            states * sizeof(float),
                            states * sizeof(float),
                            states * sizeof(float),
                            gates * sizeof(float),
                            gates * sizeof(float)};
  size_t at = 0;
  for (int i = 0; i < 11; ++i) {
    k->offsets_[i] = at;
    at += align64(sizes[i]);
  }
  k->scratch_bytes_ = at;
  return k;
}

}  // namespace

std::unique_ptr<Kernel> make_quant_lstm(KernelContext& ctx) {
  if (int8_products_exact()) return QuantLstmKernel::make(ctx, true);
  return x86::cpu_features().avx2 ? QuantLstmKernel::make(ctx, false) : nullptr;
}

}  // namespace quench::onednn
