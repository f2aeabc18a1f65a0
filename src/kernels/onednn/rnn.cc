// RNN, GRU and LSTM as GEMMs: X·Wᵀ for every time step at once, then a small H·Rᵀ per step
// followed by the element-wise cell update (kernels/x86/rnn_cell.h).
#include "kernels/onednn/rnn.h"
#include "core/check.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "kernels/onednn/context.h"
#include "kernels/x86/float_gemv.h"
#include "kernels/x86/rnn_cell.h"
#include "ops/rnn.h"

namespace quench::onednn {
namespace {

using dnnl::memory;
using dt = memory::data_type;
using Args = std::unordered_map<int, memory>;

// Scratch regions start on 64-byte boundaries.
int64_t align_floats(int64_t n) { return (n + 15) / 16 * 16; }

// dst [M, N] = src [M, K] · weights (+ bias [N]), with one set of packed weights per direction.
struct Gemm {
  dnnl::matmul prim;
  memory::desc src, dst, scratchpad;
  std::vector<memory> weights;
  memory bias;
  std::string impl;
};

// `weights[d]` holds N rows of K floats (rows of W or R): the [K, N] operand transposed.
std::optional<Gemm> make_gemm(int64_t m, int64_t k, int64_t n,
                              const std::vector<const float*>& weights,
                              const std::vector<float>* bias) {
  Gemm g;
  g.src = memory::desc({m, k}, dt::f32, memory::dims{k, 1});
  g.dst = memory::desc({m, n}, dt::f32, memory::dims{n, 1});
  const memory::desc packed({k, n}, dt::f32, memory::format_tag::any);
  const memory::desc user({k, n}, dt::f32, memory::dims{1, k});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::matmul::primitive_desc pd;
  try {
    if (bias) {
      const memory::desc bias_md({1, n}, dt::f32, memory::dims{n, 1});
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(g.src, packed, bias_md, g.dst), attr,
                                        engine());
      g.bias = memory(pd.bias_desc(), engine());
      std::memcpy(g.bias.get_data_handle(), bias->data(), n * sizeof(float));
    } else {
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(g.src, packed, g.dst), attr, engine());
    }
  } catch (const dnnl::error&) {
    return std::nullopt;
  }
  g.prim = dnnl::matmul(pd);
  g.scratchpad = pd.scratchpad_desc();
  g.impl = pd.impl_info_str();
  for (const float* w : weights) {
    memory from(user, engine(), const_cast<float*>(w));
    memory& to = g.weights.emplace_back(pd.weights_desc(), engine());
    dnnl::reorder(from, to).execute(stream(), from, to);
  }
  stream().wait();
  return g;
}

// Memory objects bound to the run's buffers, and the argument lists of every matmul call.
struct RnnState final : KernelState {
  memory x, xw, input_scratchpad;
  memory hidden, gates, recurrent_scratchpad;
  memory reset_hidden, hidden_product, reset_scratchpad;  // GRU, linear_before_reset = 0
  Args input_args;
  std::vector<Args> recurrent_args, reset_args;  // per direction
};

struct Sizes {
  int64_t seq_length, batch, input_size, hidden, gates, directions;
};

class RnnKernel final : public Kernel {
 public:
  static std::unique_ptr<Kernel> make(KernelContext& ctx);

  void run(const KernelArgs& a) const override {
    auto& s = *static_cast<RnnState*>(a.state);
    float* scratch = static_cast<float*>(a.scratch);
    const Buffers b{scratch + xw_offset_,           scratch + gates_offset_,
                    scratch + hidden_offset_,       scratch + cell_offset_,
                    scratch + reset_hidden_offset_, scratch + hidden_product_offset_};
    const int32_t* lengths =
        has_sequence_lens_ ? static_cast<const int32_t*>(a.inputs[kRnnSequenceLens]) : nullptr;
    const int64_t steps = lengths ? longest(lengths) : sizes_.seq_length;
    bind(s, a, b);
    execute(input_.prim, s.input_args);
    for (int64_t direction = 0; direction < sizes_.directions; ++direction) {
      run_direction(a, s, b, direction, lengths, steps);
    }
  }

  std::unique_ptr<KernelState> make_state() const override {
    auto s = std::make_unique<RnnState>();
    auto unbound = [](const memory::desc& md) { return memory(md, engine(), DNNL_MEMORY_NONE); };
    s->x = unbound(input_.src);
    s->xw = unbound(input_.dst);
    s->input_scratchpad = unbound(input_.scratchpad);
    s->input_args = {{DNNL_ARG_SRC, s->x},
                     {DNNL_ARG_WEIGHTS, input_.weights[0]},
                     {DNNL_ARG_DST, s->xw},
                     {DNNL_ARG_SCRATCHPAD, s->input_scratchpad}};
    if (input_.bias) s->input_args.emplace(DNNL_ARG_BIAS, input_.bias);
    if (recurrent_) {
      s->hidden = unbound(recurrent_->src);
      s->gates = unbound(recurrent_->dst);
      s->recurrent_scratchpad = unbound(recurrent_->scratchpad);
      for (const memory& weights : recurrent_->weights) {
        s->recurrent_args.push_back({{DNNL_ARG_SRC, s->hidden},
                                     {DNNL_ARG_WEIGHTS, weights},
                                     {DNNL_ARG_DST, s->gates},
                                     {DNNL_ARG_SCRATCHPAD, s->recurrent_scratchpad}});
      }
    }
    if (reset_) {
      s->reset_hidden = unbound(reset_->src);
      s->hidden_product = unbound(reset_->dst);
      s->reset_scratchpad = unbound(reset_->scratchpad);
      for (const memory& weights : reset_->weights) {
        s->reset_args.push_back({{DNNL_ARG_SRC, s->reset_hidden},
                                 {DNNL_ARG_WEIGHTS, weights},
                                 {DNNL_ARG_DST, s->hidden_product},
                                 {DNNL_ARG_SCRATCHPAD, s->reset_scratchpad}});
      }
    }
    return s;
  }

  size_t scratch_bytes() const override { return scratch_floats_ * sizeof(float); }
  std::string impl() const override {
    return "onednn:rnn/" + (recurrent_ ? recurrent_->impl : std::string("packed_gemv"));
  }

 private:
  // Scratch regions (float offsets into the run's scratch).
  struct Buffers {
    float* xw;              // [rows of X, directions * gates * hidden]: X·Wᵀ + fused bias
    float* gates;           // [batch, recurrent_.dst's N]: H·Rᵀ of the current step
    float* hidden;          // [batch, hidden]: Ht of the direction being computed
    float* cell;            // [batch, hidden]: Ct (LSTM)
    float* reset_hidden;    // [batch, hidden]: rt (.) Ht-1 (GRU, linear_before_reset = 0)
    float* hidden_product;  // [batch, hidden]: (rt (.) Ht-1)·Rhᵀ (same)
  };

  void bind(RnnState& s, const KernelArgs& a, const Buffers& b) const {
    void* matmul_scratchpad = a.scratch;
    s.x.set_data_handle(const_cast<void*>(a.inputs[kRnnX]));
    s.xw.set_data_handle(b.xw);
    s.input_scratchpad.set_data_handle(matmul_scratchpad);
    if (recurrent_) {
      s.hidden.set_data_handle(b.hidden);
      s.gates.set_data_handle(b.gates);
      s.recurrent_scratchpad.set_data_handle(matmul_scratchpad);
    }
    if (reset_) {
      s.reset_hidden.set_data_handle(b.reset_hidden);
      s.hidden_product.set_data_handle(b.hidden_product);
      s.reset_scratchpad.set_data_handle(matmul_scratchpad);
    }
  }

  // The longest sequence; kInvalidArgument when a length is out of [0, seq_length].
  int64_t longest(const int32_t* lengths) const {
    int64_t longest = 0;
    for (int64_t batch = 0; batch < sizes_.batch; ++batch) {
      QUENCH_CHECK(lengths[batch] >= 0 && lengths[batch] <= sizes_.seq_length,
                   ErrorKind::kInvalidArgument,
                   "{}: sequence_lens[{}] is {}, expected a value in [0, {}] (seq_length)", node_,
                   batch, lengths[batch], sizes_.seq_length);
      longest = std::max<int64_t>(longest, lengths[batch]);
    }
    return longest;
  }

  // Row of X (and of xw) holding time step `time` of batch row `batch`.
  int64_t x_row(int64_t time, int64_t batch) const {
    return attrs_.layout == 0 ? time * sizes_.batch + batch : batch * sizes_.seq_length + time;
  }
  // Offset of [time, direction, batch] in Y and of [direction, batch] in the state tensors.
  int64_t y_offset(int64_t time, int64_t direction, int64_t batch) const {
    const int64_t dirs = sizes_.directions, hidden = sizes_.hidden;
    return attrs_.layout == 0 ? ((time * dirs + direction) * sizes_.batch + batch) * hidden
                              : ((batch * sizes_.seq_length + time) * dirs + direction) * hidden;
  }
  int64_t state_offset(int64_t direction, int64_t batch) const {
    return (attrs_.layout == 0 ? direction * sizes_.batch + batch
                               : batch * sizes_.directions + direction) *
           sizes_.hidden;
  }

  // Ht-1·Rᵀ into b.gates (only z and r rows for GRU with linear_before_reset = 0).
  void recurrent_product(RnnState& s, const Buffers& b, int64_t direction) const {
    if (recurrent_) {
      execute(recurrent_->prim, s.recurrent_args[direction]);
    } else {
      recurrent_gemv_[direction].multiply(b.hidden, b.gates);
    }
  }
  // (rt (.) Ht-1)·Rhᵀ into b.hidden_product.
  void reset_product(RnnState& s, const Buffers& b, int64_t direction) const {
    if (reset_) {
      execute(reset_->prim, s.reset_args[direction]);
    } else {
      reset_gemv_[direction].multiply(b.reset_hidden, b.hidden_product);
    }
  }

  void run_direction(const KernelArgs& a, RnnState& s, const Buffers& b, int64_t direction,
                     const int32_t* lengths, int64_t steps) const {
    const int64_t hidden = sizes_.hidden, batch_size = sizes_.batch;
    const int64_t gate_stride = sizes_.gates * hidden;
    const int64_t xw_stride = sizes_.directions * gate_stride;
    const int64_t product_stride = split_ ? 2 * hidden : gate_stride;  // row of b.gates
    const x86::CellMath& m = math_[direction];
    const float* peephole =
        has_peepholes_ ? static_cast<const float*>(a.inputs[kRnnP]) + direction * 3 * hidden
                       : nullptr;
    const float* rbh = recurrent_hidden_bias_.data() + direction * hidden;
    float* y = has_y_ ? static_cast<float*>(a.outputs[kRnnY]) : nullptr;
    load_state(has_initial_h_ ? a.inputs[kRnnInitialH] : nullptr, direction, b.hidden);
    if (attrs_.cell == RnnCell::kLstm) {
      load_state(has_initial_c_ ? a.inputs[kRnnInitialC] : nullptr, direction, b.cell);
    }
    // Rows past their sequence keep their state but still go through the products: give them
    // zeros rather than whatever the shared scratch held (possibly slow denormals).
    if (split_) std::fill(b.reset_hidden, b.reset_hidden + batch_size * hidden, 0.f);

    for (int64_t step = 0; step < steps; ++step) {
      recurrent_product(s, b, direction);
      auto for_each_row = [&](auto&& update) {
        for (int64_t batch = 0; batch < batch_size; ++batch) {
          const int64_t length = lengths ? lengths[batch] : sizes_.seq_length;
          if (step >= length) continue;
          const int64_t time = attrs_.reversed(direction) ? length - 1 - step : step;
          update(batch, time, b.xw + x_row(time, batch) * xw_stride + direction * gate_stride,
                 b.gates + batch * product_stride, b.hidden + batch * hidden);
        }
      };
      switch (attrs_.cell) {
        case RnnCell::kRnn:
          for_each_row([&](int64_t, int64_t, const float* xw, float* gates, float* h) {
            x86::rnn_row(m, xw, gates, h);
          });
          break;
        case RnnCell::kLstm:
          for_each_row([&](int64_t batch, int64_t, const float* xw, float* gates, float* h) {
            x86::lstm_row(m, xw, peephole, gates, h, b.cell + batch * hidden);
          });
          break;
        case RnnCell::kGru:
          if (split_) {
            for_each_row([&](int64_t batch, int64_t, const float* xw, float* gates, float* h) {
              x86::gru_gates_row(m, xw, gates, h, b.reset_hidden + batch * hidden);
            });
            reset_product(s, b, direction);
            for_each_row([&](int64_t batch, int64_t, const float* xw, float* gates, float* h) {
              x86::gru_update_row(m, xw + 2 * hidden, b.hidden_product + batch * hidden, gates,
                                  nullptr, nullptr, h);
            });
          } else {
            for_each_row([&](int64_t, int64_t, const float* xw, float* gates, float* h) {
              x86::gru_gates_row(m, xw, gates, h, nullptr);
              x86::gru_update_row(m, xw + 2 * hidden, gates + 2 * hidden, gates, gates + hidden,
                                  rbh, h);
            });
          }
          break;
      }
      if (y) {
        for_each_row([&](int64_t batch, int64_t time, const float*, float*, const float* h) {
          std::copy(h, h + hidden, y + y_offset(time, direction, batch));
        });
      }
    }
    finish_direction(a, b, direction, lengths);
  }

  // `initial`: initial_h or initial_c, nullptr when absent (zeros).
  void load_state(const void* initial_state, int64_t direction, float* state) const {
    const auto* initial = static_cast<const float*>(initial_state);
    for (int64_t batch = 0; batch < sizes_.batch; ++batch) {
      float* row = state + batch * sizes_.hidden;
      if (initial) {
        const float* from = initial + state_offset(direction, batch);
        std::copy(from, from + sizes_.hidden, row);
      } else {
        std::fill(row, row + sizes_.hidden, 0.f);
      }
    }
  }

  // Zeros in Y past each sequence's end, final states out (zeros for empty sequences), as the
  // reference kernel does.
  void finish_direction(const KernelArgs& a, const Buffers& b, int64_t direction,
                        const int32_t* lengths) const {
    const int64_t hidden = sizes_.hidden;
    for (int64_t batch = 0; batch < sizes_.batch; ++batch) {
      const int64_t length = lengths ? lengths[batch] : sizes_.seq_length;
      if (has_y_) {
        float* y = static_cast<float*>(a.outputs[kRnnY]);
        for (int64_t time = length; time < sizes_.seq_length; ++time) {
          float* row = y + y_offset(time, direction, batch);
          std::fill(row, row + hidden, 0.f);
        }
      }
      auto store = [&](int output, const float* state) {
        float* to = static_cast<float*>(a.outputs[output]) + state_offset(direction, batch);
        if (length > 0) {
          std::copy(state + batch * hidden, state + (batch + 1) * hidden, to);
        } else {
          std::fill(to, to + hidden, 0.f);
        }
      };
      if (has_y_h_) store(kRnnYH, b.hidden);
      if (has_y_c_) store(kRnnYC, b.cell);
    }
  }

  RnnAttributes attrs_;
  Sizes sizes_{};
  // Optional inputs present (a.inputs is only as long as the node's input list).
  bool has_sequence_lens_ = false, has_initial_h_ = false, has_initial_c_ = false;
  bool has_peepholes_ = false;
  bool has_y_ = false, has_y_h_ = false, has_y_c_ = false;
  // GRU with linear_before_reset = 0: rt is needed before the h gate's product (rt (.) H)·Rhᵀ,
  // so the z and r rows of R and its h rows make two products.
  bool split_ = false;
  Gemm input_;
  // The per-step products: oneDNN matmuls, or at batch 1 packed GEMVs (one per direction).
  std::optional<Gemm> recurrent_, reset_;
  std::vector<x86::PackedFloatGemv> recurrent_gemv_, reset_gemv_;
  std::vector<float> recurrent_hidden_bias_;  // [directions, hidden]: GRU's Rbh (else zeros)
  x86::CellMath math_[2];
  int64_t xw_offset_ = 0, gates_offset_ = 0, hidden_offset_ = 0, cell_offset_ = 0;
  int64_t reset_hidden_offset_ = 0, hidden_product_offset_ = 0, scratch_floats_ = 0;
  std::string node_;
};

std::unique_ptr<Kernel> RnnKernel::make(KernelContext& ctx) {
  const Node& node = ctx.node;
  const int max_inputs = node.op_type == "LSTM" ? kRnnP + 1 : kRnnInitialH + 1;
  if (ctx.inputs.size() < 3 || ctx.inputs.size() > static_cast<size_t>(max_inputs)) return nullptr;
  std::vector<SymbolicShape> shapes(max_inputs);
  std::vector<const SymbolicShape*> shape_ptrs(max_inputs, nullptr);
  for (int i = 0; i < max_inputs; ++i) {
    if (!ctx.has_input(i)) continue;
    const DType want = i == kRnnSequenceLens ? DType::kInt32 : DType::kFloat32;
    if (ctx.inputs[i].dtype != want) return nullptr;  // the reference kernel reports it
    shapes[i] = symbolic(ctx.inputs[i].shape);
    shape_ptrs[i] = &shapes[i];
  }
  const TensorDesc& w = ctx.inputs[kRnnW];
  const TensorDesc& r = ctx.inputs[kRnnR];
  const bool has_bias = ctx.has_input(kRnnB);
  if (w.constant == nullptr || r.constant == nullptr ||
      (has_bias && ctx.inputs[kRnnB].constant == nullptr)) {
    return nullptr;
  }
  auto k = std::make_unique<RnnKernel>();
  k->attrs_ = parse_rnn_attributes(node, ctx.opset);
  const RnnAttributes& attrs = k->attrs_;
  const RnnDims dims = check_rnn_shapes(node, attrs, shape_ptrs);
  Sizes& sizes = k->sizes_;
  sizes = {dims.seq_length.value,  dims.batch.value, dims.input_size.value,
           dims.hidden_size.value, attrs.gates(),    attrs.num_directions()};
  if (sizes.seq_length == 0 || sizes.batch == 0 || sizes.input_size == 0) return nullptr;
  const int64_t hidden = sizes.hidden, gate_rows = sizes.gates * hidden;
  const bool gru = attrs.cell == RnnCell::kGru;

  // Fused bias per direction: Wb + Rb, except Rbh kept apart for linear_before_reset.
  std::vector<float> bias(sizes.directions * gate_rows, 0.f);
  k->recurrent_hidden_bias_.assign(sizes.directions * hidden, 0.f);
  if (has_bias) {
    const float* b = ctx.inputs[kRnnB].constant->data<float>();
    for (int64_t direction = 0; direction < sizes.directions; ++direction) {
      const float* input_bias = b + direction * 2 * gate_rows;
      const float* recurrent_bias = input_bias + gate_rows;
      for (int64_t row = 0; row < gate_rows; ++row) {
        const bool apart = gru && attrs.linear_before_reset && row >= 2 * hidden;
        bias[direction * gate_rows + row] = input_bias[row] + (apart ? 0.f : recurrent_bias[row]);
      }
      if (gru) {
        std::copy(recurrent_bias + 2 * hidden, recurrent_bias + 3 * hidden,
                  k->recurrent_hidden_bias_.begin() + direction * hidden);
      }
    }
  }

  const float* w_data = w.constant->data<float>();
  const float* r_data = r.constant->data<float>();
  auto input = make_gemm(sizes.seq_length * sizes.batch, sizes.input_size,
                         sizes.directions * gate_rows, {w_data}, has_bias ? &bias : nullptr);
  // GRU without linear_before_reset needs rt before the h gate's product: z and r rows first.
  const bool split = gru && !attrs.linear_before_reset;
  std::vector<const float*> recurrent_weights, reset_weights;
  for (int64_t direction = 0; direction < sizes.directions; ++direction) {
    const float* rd = r_data + direction * gate_rows * hidden;
    recurrent_weights.push_back(rd);
    reset_weights.push_back(rd + 2 * hidden * hidden);
  }
  if (!input) return nullptr;
  k->input_ = std::move(*input);
  k->split_ = split;
  const int64_t recurrent_rows = split ? 2 * hidden : gate_rows;
  if (sizes.batch == 1) {
    for (int64_t direction = 0; direction < sizes.directions; ++direction) {
      k->recurrent_gemv_.emplace_back(recurrent_weights[direction], recurrent_rows, hidden);
      if (split) k->reset_gemv_.emplace_back(reset_weights[direction], hidden, hidden);
    }
  } else {
    k->recurrent_ = make_gemm(sizes.batch, hidden, recurrent_rows, recurrent_weights, nullptr);
    if (!k->recurrent_) return nullptr;
    if (split) {
      k->reset_ = make_gemm(sizes.batch, hidden, hidden, reset_weights, nullptr);
      if (!k->reset_) return nullptr;
    }
  }

  for (int64_t direction = 0; direction < sizes.directions; ++direction) {
    x86::CellMath& m = k->math_[direction];
    m.hidden = hidden;
    m.clip = attrs.clip;
    m.input_forget = attrs.input_forget;
    m.f = attrs.activation(direction, 0);
    if (attrs.activations_per_direction() > 1) m.g = attrs.activation(direction, 1);
    if (attrs.activations_per_direction() > 2) m.h = attrs.activation(direction, 2);
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

  // Scratch: the matmuls' shared scratchpad first, then the buffers.
  int64_t at = 0;
  auto region = [&](int64_t floats) {
    const int64_t offset = at;
    at += align_floats(floats);
    return offset;
  };
  size_t scratchpad = k->input_.scratchpad.get_size();
  if (k->recurrent_) scratchpad = std::max(scratchpad, k->recurrent_->scratchpad.get_size());
  if (k->reset_) scratchpad = std::max(scratchpad, k->reset_->scratchpad.get_size());
  region(static_cast<int64_t>((scratchpad + sizeof(float) - 1) / sizeof(float)));
  k->xw_offset_ = region(sizes.seq_length * sizes.batch * sizes.directions * gate_rows);
  k->gates_offset_ = region(sizes.batch * gate_rows);
  k->hidden_offset_ = region(sizes.batch * hidden);
  k->cell_offset_ = region(attrs.cell == RnnCell::kLstm ? sizes.batch * hidden : 0);
  k->reset_hidden_offset_ = region(split ? sizes.batch * hidden : 0);
  k->hidden_product_offset_ = region(split ? sizes.batch * hidden : 0);
  k->scratch_floats_ = at;
  return k;
}

}  // namespace

std::unique_ptr<Kernel> make_rnn(KernelContext& ctx) { return RnnKernel::make(ctx); }

}  // namespace quench::onednn
