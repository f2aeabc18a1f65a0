#include "kernels/x86/quant_gru.h"

#include <algorithm>
#include <cstring>

#include "core/requantize.h"
#include "kernels/ref/dynamic_rows.h"
#include "kernels/x86/cpu_features.h"
#include "kernels/x86/int8_gemv.h"
#include "kernels/x86/int8_matmul.h"
#include "kernels/x86/qloops.h"
#include "kernels/x86/rnn_cell.h"
#include "ops/quantized/dynamic_gru.h"

namespace quench::x86 {
namespace {

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

// Rows [first, first + count) of one direction's W or R [3h, k] as the [k, count] B of a product.
std::vector<int8_t> transposed_rows(const int8_t* w, int64_t first, int64_t count, int64_t k) {
  std::vector<int8_t> out(static_cast<size_t>(k * count));
  for (int64_t row = 0; row < count; ++row) {
    for (int64_t col = 0; col < k; ++col) out[col * count + row] = w[(first + row) * k + col];
  }
  return out;
}

// u8 rows [m, k] (one run-time zero point) times a constant s8 [k, n] (zero point 0) into exact
// int32 sums: the packed AVX-512 VNNI loop where the CPU has it; else for one row the packed AVX2
// GEMV (eq. (135)), and the AVX2 GEMM for more.
class Product {
 public:
  Product(int64_t m, int64_t k, int64_t n, const std::vector<int8_t>& b, int threads) : m_(m) {
    if (n % 16 == 0 && PackedInt8Gemv::available() && k <= PackedInt8Gemv::kMaxTaps) {
      vnni_.emplace_back(b.data(), k, n, 0);
    } else if (m == 1 && n % 16 == 0 && k <= PackedInt8GemvAvx2::kMaxTaps) {
      avx2_.emplace_back(b.data(), k, n, 0);
    } else {
      plan_.push_back(constant_b_plan(m, k, n, false, b.data(), 0, threads));
    }
  }
  // The name of the loop, for impl().
  std::string loop() const {
    return !vnni_.empty() ? "vnni" : !avx2_.empty() ? "avx2_gemv" : "avx2_gemm";
  }
  size_t scratch_bytes() const { return plan_.empty() ? 0 : avx2::matmul_scratch_bytes(plan_[0]); }
  void multiply(const uint8_t* a, int32_t a_zero_point, int32_t* sums, void* scratch) const {
    if (!vnni_.empty()) return vnni_[0].multiply_rows(a, m_, a_zero_point, sums);
    if (!avx2_.empty()) return avx2_[0].multiply(a, a_zero_point, sums);
    const Epilogue exact;  // kS32: the sums themselves
    avx2::matmul(plan_[0], a, a_zero_point, nullptr, 0, exact, sums, scratch);
  }

 private:
  int64_t m_;
  std::vector<PackedInt8Gemv> vnni_;      // one, or
  std::vector<PackedInt8GemvAvx2> avx2_;  // one, or
  std::vector<MatMulPlan> plan_;          // one
};

// The products of one direction: X·Wᵀ, H·R[rows]ᵀ (z and r rows without linear_before_reset,
// else all three), and (rt (.) H)·Rhᵀ without it.
struct DirectionProducts {
  std::unique_ptr<Product> input, recurrent, reset;
};

class QuantGruKernel final : public Kernel {
 public:
  explicit QuantGruKernel(DynamicGruPlan p, int threads);
  void run(const KernelArgs& a) const override;
  size_t scratch_bytes() const override { return scratch_bytes_; }
  std::string impl() const override {
    // The loops of the input product and of the recurrent one ("vnni" when both are).
    const std::string input = products_[0].input->loop(),
                      recurrent = products_[0].recurrent->loop();
    return "x86:quant_gru/" + input + (recurrent == input ? "" : "+" + recurrent);
  }

 private:
  struct Buffers {
    void* product_scratch;
    uint8_t* x_q;         // [seq * batch, input]: the quantized input rows
    int32_t* x_acc;       // [seq * batch, 3h]: their sums with W of one direction
    uint8_t* h_q;         // [batch, hidden]: the quantized hidden state
    int32_t* h_acc;       // [batch, recurrent rows]
    float* gates;         // [batch, 3h]
    float* hidden;        // [batch, hidden]
    float* reset_hidden;  // [batch, hidden]: rt (.) Ht-1 (linear_before_reset = 0)
    uint8_t* rh_q;        // [batch, hidden]: its quantization
    int32_t* rh_acc;      // [batch, hidden]
    float* x_multiplier;  // [3h]: s_x · s_W[row]
    float* h_multiplier;  // [3h]: s_h · s_R[row] of one step
    float* candidate_xw;  // [hidden]: G_x + bias of the h rows of one batch row
  };
  static constexpr int kBuffers = 13;
  Buffers carve(void* scratch) const;
  void run_direction(const KernelArgs& a, const Buffers& b, int64_t d, const int32_t* lengths,
                     int64_t max_length, DynamicQuantParams x) const;

  DynamicGruPlan p_;
  int64_t recurrent_rows_ = 0;
  std::vector<DirectionProducts> products_;
  CellMath math_[2];
  size_t offsets_[kBuffers] = {};
  size_t scratch_bytes_ = 0;
};

QuantGruKernel::QuantGruKernel(DynamicGruPlan p, int threads) : p_(std::move(p)) {
  const int64_t hidden = p_.hidden_size, gate_rows = 3 * hidden;
  const bool linear_before_reset = p_.attrs.linear_before_reset;
  recurrent_rows_ = linear_before_reset ? gate_rows : 2 * hidden;
  size_t product_scratch = 0;
  for (int64_t d = 0; d < p_.dirs; ++d) {
    const int8_t* w = p_.w + d * gate_rows * p_.input_size;
    const int8_t* r = p_.r + d * gate_rows * hidden;
    DirectionProducts& dp = products_.emplace_back();
    dp.input = std::make_unique<Product>(p_.seq_length * p_.batch, p_.input_size, gate_rows,
                                         transposed_rows(w, 0, gate_rows, p_.input_size), threads);
    dp.recurrent = std::make_unique<Product>(
        p_.batch, hidden, recurrent_rows_, transposed_rows(r, 0, recurrent_rows_, hidden), threads);
    if (!linear_before_reset) {
      dp.reset = std::make_unique<Product>(p_.batch, hidden, hidden,
                                           transposed_rows(r, 2 * hidden, hidden, hidden), threads);
    }
    for (const Product* product : {dp.input.get(), dp.recurrent.get(), dp.reset.get()}) {
      if (product) product_scratch = std::max(product_scratch, product->scratch_bytes());
    }
    CellMath& m = math_[d];
    m.hidden = hidden;
    m.clip = p_.attrs.clip;
    m.f = p_.attrs.activation(d, 0);
    m.g = p_.attrs.activation(d, 1);
  }
  const size_t all_rows = static_cast<size_t>(p_.seq_length * p_.batch);
  const size_t states = static_cast<size_t>(p_.batch * hidden);
  const size_t gates = static_cast<size_t>(gate_rows);
  const size_t sizes[kBuffers] = {product_scratch,
                                  all_rows * p_.input_size,
                                  all_rows * gates * sizeof(int32_t),
                                  states,
                                  p_.batch * recurrent_rows_ * sizeof(int32_t),
                                  p_.batch * gates * sizeof(float),
                                  states * sizeof(float),
                                  states * sizeof(float),
                                  states,
                                  states * sizeof(int32_t),
                                  gates * sizeof(float),
                                  gates * sizeof(float),
                                  hidden * sizeof(float)};
  size_t at = 0;
  for (int i = 0; i < kBuffers; ++i) {
    offsets_[i] = at;
    at += align64(sizes[i]);
  }
  scratch_bytes_ = at;
}

QuantGruKernel::Buffers QuantGruKernel::carve(void* scratch) const {
  char* at = static_cast<char*>(scratch);
  auto p = [&](int i) { return static_cast<void*>(at + offsets_[i]); };
  return {p(0),
          static_cast<uint8_t*>(p(1)),
          static_cast<int32_t*>(p(2)),
          static_cast<uint8_t*>(p(3)),
          static_cast<int32_t*>(p(4)),
          static_cast<float*>(p(5)),
          static_cast<float*>(p(6)),
          static_cast<float*>(p(7)),
          static_cast<uint8_t*>(p(8)),
          static_cast<int32_t*>(p(9)),
          static_cast<float*>(p(10)),
          static_cast<float*>(p(11)),
          static_cast<float*>(p(12))};
}

// Eq. (37) of `count` floats into u8 `q`; returns the parameters.
DynamicQuantParams quantize_dynamic(const float* x, int64_t count, uint8_t* q) {
  float min = 0.f, max = 0.f;
  range_with_zero(x, count, min, max);
  const DynamicQuantParams p = dynamic_quant_params(min, max);
  quantize_loop(x, q, count, p.scale, p.zero_point);
  return p;
}

void QuantGruKernel::run(const KernelArgs& a) const {
  const Buffers b = carve(a.scratch);
  const int32_t* lengths =
      p_.has_sequence_lens ? static_cast<const int32_t*>(a.inputs[kRnnSequenceLens]) : nullptr;
  const int64_t max_length = check_gru_lengths(p_, lengths);
  // Eq. (136): the rows of the first max_length steps quantized together, shared by both
  // directions; the product runs over every row, those past max_length zeros, never read.
  const int64_t rows = max_length * p_.batch, all_rows = p_.seq_length * p_.batch;
  const DynamicQuantParams x =
      quantize_dynamic(static_cast<const float*>(a.inputs[kRnnX]), rows * p_.input_size, b.x_q);
  std::memset(b.x_q + rows * p_.input_size, 0, (all_rows - rows) * p_.input_size);
  for (int64_t d = 0; d < p_.dirs; ++d) run_direction(a, b, d, lengths, max_length, x);
}

void QuantGruKernel::run_direction(const KernelArgs& a, const Buffers& b, int64_t d,
                                   const int32_t* lengths, int64_t max_length,
                                   DynamicQuantParams x) const {
  const int64_t hidden = p_.hidden_size, gate_rows = 3 * hidden, states = p_.batch * hidden;
  const bool linear_before_reset = p_.attrs.linear_before_reset;
  auto length_of = [&](int64_t batch) { return lengths ? lengths[batch] : p_.seq_length; };
  const DirectionProducts& products = products_[d];
  products.input->multiply(b.x_q, x.zero_point, b.x_acc, b.product_scratch);
  const float* w_scales = p_.w_scales.data() + d * gate_rows;
  const float* r_scales = p_.r_scales.data() + d * gate_rows;
  for (int64_t row = 0; row < gate_rows; ++row) b.x_multiplier[row] = x.scale * w_scales[row];

  const int64_t state_at = d * states;
  if (p_.has_initial_h) {
    const float* from = static_cast<const float*>(a.inputs[kRnnInitialH]) + state_at;
    std::copy(from, from + states, b.hidden);
  } else {
    std::fill(b.hidden, b.hidden + states, 0.f);
  }
  const float* bias = p_.bias.data() + d * gate_rows;
  const float* rbh = p_.recurrent_hidden_bias.data() + d * hidden;
  float* y = p_.has_y ? static_cast<float*>(a.outputs[kRnnY]) : nullptr;
  const int64_t y_time_stride = p_.dirs * states;
  const CellMath& m = math_[d];
  auto time_of = [&](int64_t batch, int64_t step) {
    return p_.attrs.reversed(d) ? length_of(batch) - 1 - step : step;
  };
  // G_x + bias of the h rows of one batch row, as the reference adds them.
  auto candidate_input = [&](const int32_t* x_acc) {
    for (int64_t unit = 0; unit < hidden; ++unit) {
      const int64_t row = 2 * hidden + unit;
      b.candidate_xw[unit] = static_cast<float>(x_acc[row]) * b.x_multiplier[row] + bias[row];
    }
    return b.candidate_xw;
  };
  for (int64_t step = 0; step < max_length; ++step) {
    // Eq. (137): the batch's whole hidden state quantized together.
    const DynamicQuantParams h = quantize_dynamic(b.hidden, states, b.h_q);
    products.recurrent->multiply(b.h_q, h.zero_point, b.h_acc, b.product_scratch);
    for (int64_t row = 0; row < gate_rows; ++row) b.h_multiplier[row] = h.scale * r_scales[row];
    for (int64_t batch = 0; batch < p_.batch; ++batch) {
      float* reset_hidden = b.reset_hidden + batch * hidden;
      if (step >= length_of(batch)) {
        std::fill(reset_hidden, reset_hidden + hidden, 0.f);  // as the reference
        continue;
      }
      const int32_t* x_acc = b.x_acc + (time_of(batch, step) * p_.batch + batch) * gate_rows;
      const int32_t* h_acc = b.h_acc + batch * recurrent_rows_;
      float* gates = b.gates + batch * gate_rows;
      integer_gates(x_acc, b.x_multiplier, h_acc, b.h_multiplier, 2 * hidden, gates);
      float* h_row = b.hidden + batch * hidden;
      if (!linear_before_reset) {
        gru_gates_row(m, bias, gates, h_row, reset_hidden);
        continue;
      }
      integer_gates(nullptr, nullptr, h_acc + 2 * hidden, b.h_multiplier + 2 * hidden, hidden,
                    gates + 2 * hidden);
      gru_gates_row(m, bias, gates, h_row, nullptr);
      gru_update_row(m, candidate_input(x_acc), gates + 2 * hidden, gates, gates + hidden, rbh,
                     h_row);
    }
    if (!linear_before_reset) {
      // Eq. (138): rt (.) Ht-1 of the batch quantized together, then times Rh.
      const DynamicQuantParams rh = quantize_dynamic(b.reset_hidden, states, b.rh_q);
      products.reset->multiply(b.rh_q, rh.zero_point, b.rh_acc, b.product_scratch);
      const float* h_scales = r_scales + 2 * hidden;
      for (int64_t batch = 0; batch < p_.batch; ++batch) {
        if (step >= length_of(batch)) continue;
        const int32_t* x_acc = b.x_acc + (time_of(batch, step) * p_.batch + batch) * gate_rows;
        const int32_t* rh_acc = b.rh_acc + batch * hidden;
        float* gates = b.gates + batch * gate_rows;
        float* recurrent = gates + 2 * hidden;
        for (int64_t unit = 0; unit < hidden; ++unit) {
          recurrent[unit] = static_cast<float>(rh_acc[unit]) * (rh.scale * h_scales[unit]);
        }
        gru_update_row(m, candidate_input(x_acc), recurrent, gates, nullptr, nullptr,
                       b.hidden + batch * hidden);
      }
    }
    for (int64_t batch = 0; y && batch < p_.batch; ++batch) {
      if (step >= length_of(batch)) continue;
      const float* h_row = b.hidden + batch * hidden;
      std::copy(h_row, h_row + hidden,
                y + time_of(batch, step) * y_time_stride + state_at + batch * hidden);
    }
  }

  // Zeros past each sequence's end; the final state out, zeros for empty sequences.
  float* y_h = p_.has_y_h ? static_cast<float*>(a.outputs[kRnnYH]) + state_at : nullptr;
  ref::finish_sequences(lengths, p_.batch, p_.seq_length, hidden, y ? y + state_at : nullptr,
                        y_time_stride, {{b.hidden, y_h}});
}

}  // namespace

std::unique_ptr<Kernel> make_quant_gru(KernelContext& ctx) {
  if (!cpu_features().avx2 || !rounds_half_even()) return nullptr;
  DynamicGruPlan p = plan_dynamic_gru(ctx);
  if (p.seq_length == 0 || p.batch == 0 || p.input_size == 0 || p.hidden_size == 0) {
    return nullptr;
  }
  return std::make_unique<QuantGruKernel>(std::move(p), ctx.threads);
}

}  // namespace quench::x86
