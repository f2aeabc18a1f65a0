#include "kernels/onednn/qsoftmax.h"

#include <array>
#include <cmath>
#include <cstring>

#include "ir/shape_util.h"
#include "kernels/onednn/qlayout.h"
#include "kernels/x86/qloops.h"
#include "ops/quantized/integer_products.h"

namespace quench::onednn {
namespace {

// 16 8-bit values as one GCC vector (lowered to whatever the target has).
template <class Q>
struct ByteChunk;
template <>
struct ByteChunk<uint8_t> {
  typedef uint8_t type __attribute__((vector_size(16)));
};
template <>
struct ByteChunk<int8_t> {
  typedef int8_t type __attribute__((vector_size(16)));
};

// Softmax over `reduced` elements `stride` apart, for `outer` × `stride` groups.
struct SoftmaxShape {
  int64_t outer = 1, reduced = 1, stride = 1;
};

// Scratch: rows (stride 1): [exponentials of a block of rows, float | their rows' factors, float |
// their table offsets, int32];
// groups (stride > 1): [max per group of one outer index, int32 | sums, double].
template <class Q>
class QLinearSoftmaxKernel final : public Kernel {
 public:
  QLinearSoftmaxKernel(SoftmaxShape shape, float x_scale, float y_scale, int32_t y_zero_point)
      : shape_(shape), y_scale_(y_scale), y_zero_point_(static_cast<float>(y_zero_point)) {
    // The reference's float exponentials, one per possible x − max x in [−255, 0].
    for (int32_t difference = -255; difference <= 0; ++difference) {
      exponentials_[difference + 255] = std::exp(x_scale * static_cast<float>(difference));
    }
    sums_offset_ = align64(static_cast<size_t>(shape.stride) * sizeof(int32_t));
  }

  void run(const KernelArgs& a) const override {
    const Q* x = static_cast<const Q*>(a.inputs[0]);
    Q* y = static_cast<Q*>(a.outputs[0]);
    if (shape_.stride == 1) {
      run_rows(x, y, a.scratch);
      return;
    }
    const int64_t group = shape_.reduced * shape_.stride;
    for (int64_t outer = 0; outer < shape_.outer; ++outer) {
      run_strided(x + outer * group, y + outer * group, a.scratch);
    }
  }
  size_t scratch_bytes() const override {
    if (shape_.stride == 1) {
      return 3 * block_factors_offset();
    }
    return sums_offset_ + static_cast<size_t>(shape_.stride) * sizeof(double);
  }
  std::string impl() const override { return "onednn:int8_loop"; }

 private:
  static constexpr int64_t kRows = 8;

  // Eq. (60)'s margin, relative to v: the float v and the reference's (E / Σ E) / s_y are within
  // about 2^-22 · v of each other; 2^-20 leaves room for the sums' order.
  static constexpr float kTieMargin = 0x1p-20f;

  size_t block_factors_offset() const {
    return align64(static_cast<size_t>(kRows * shape_.reduced) * sizeof(float));
  }

  // The exponentials and output parameters as local values: stores to the 8-bit output may alias
  // any object the kernel holds (char-type aliasing), which would keep the loops from vectorizing.
  struct Locals {
    std::array<float, 256> exponentials;
    float y_scale, y_zero_point;

    // exp(s_x · d) for d = x − max x in [−255, 0].
    float exponential(int32_t difference) const { return exponentials[difference + 255]; }
    // The reference's float p = e / Σ e, quantized (eq. (31)).
    Q output(float e, double sum) const {
      const float p = static_cast<float>(e / sum);
      return x86::saturate_rounded<Q>(std::nearbyint(p / y_scale) + y_zero_point);
    }
  };
  Locals locals() const { return Locals{exponentials_, y_scale_, y_zero_point_}; }

  // Contiguous rows, kRows at a time (rows are often shorter than a vector loop's step, so the
  // element-wise steps run flat over the block). Eq. (60): each row's sum in any order, then
  // v = E · factor in float; a row holding a near tie is redone by eq. (41) with its sum formed in
  // index order, as the reference adds.
  void run_rows(const Q* x, Q* y, void* scratch) const {
    const int64_t n = shape_.reduced;
    const Locals l = locals();
    float* block_exponentials = static_cast<float*>(scratch);
    float* block_factors =
        reinterpret_cast<float*>(static_cast<char*>(scratch) + block_factors_offset());
    int32_t* block_offsets =
        reinterpret_cast<int32_t*>(static_cast<char*>(scratch) + 2 * block_factors_offset());
    for (int64_t first = 0; first < shape_.outer; first += kRows) {
      const int64_t rows = std::min(kRows, shape_.outer - first);
      const Q* block = x + first * n;
      // Each element's table index x − max x + 255, as an offset from x staged per element.
      for (int64_t r = 0; r < rows; ++r) {
        std::fill_n(block_offsets + r * n, n, 255 - row_max(block + r * n, n));
      }
      for (int64_t k = 0; k < rows * n; ++k) {
        block_exponentials[k] = l.exponentials[block[k] + block_offsets[k]];
      }
      for (int64_t r = 0; r < rows; ++r) {
        const double sum = unordered_sum(block_exponentials + r * n, n);
        std::fill_n(block_factors + r * n, n, static_cast<float>(1.0 / (sum * l.y_scale)));
      }
      Q* out = y + first * n;
      if (output_loop(block_exponentials, block_factors, out, rows * n, l.y_zero_point) == 0)
        continue;
      for (int64_t r = 0; r < rows; ++r) {
        const float* exponentials = block_exponentials + r * n;
        Q* row_out = out + r * n;
        if (output_loop(exponentials, block_factors + r * n, row_out, n, l.y_zero_point) == 0)
          continue;
        double sum = 0;
        for (int64_t i = 0; i < n; ++i) sum += exponentials[i];
        for (int64_t i = 0; i < n; ++i) row_out[i] = l.output(exponentials[i], sum);
      }
    }
  }

  // The largest of `n` values: rows of 16 or more in chunks of 16 (a GCC vector type: the
  // compiler does not vectorize a byte-wise max reduction itself), the last chunk overlapping the
  // one before (max does not mind), so that no scalar remainder loop runs.
  static int32_t row_max(const Q* row, int64_t n) {
    constexpr int64_t kChunk = 16;
    if (n < kChunk) {
      int32_t largest = kQuantMin<Q>;
      for (int64_t i = 0; i < n; ++i) largest = std::max<int32_t>(largest, row[i]);
      return largest;
    }
    using Chunk = typename ByteChunk<Q>::type;
    Chunk largest, chunk;
    std::memcpy(&largest, row, kChunk);
    for (int64_t start = kChunk; start < n; start += kChunk) {
      std::memcpy(&chunk, row + std::min(start, n - kChunk), kChunk);
      largest = largest > chunk ? largest : chunk;
    }
    int32_t result = largest[0];
    for (int64_t lane = 1; lane < kChunk; ++lane) result = std::max<int32_t>(result, largest[lane]);
    return result;
  }

  // Σ e in double, eight partial sums (they vectorize): all terms are positive, so the result is
  // within (n − 1) · 2^-53 of the in-order sum, relatively (eq. (60)).
  static double unordered_sum(const float* e, int64_t n) {
    constexpr int64_t kLanes = 8;
    double partial[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
      for (int64_t lane = 0; lane < kLanes; ++lane) partial[lane] += e[i + lane];
    }
    for (; i < n; ++i) partial[0] += e[i];
    double sum = 0;
    for (double p : partial) sum += p;
    return sum;
  }

  // Eq. (60) for `count` elements: y = saturate(round(E · factor) + z_y); returns how many lie
  // within the margin of a half-integer, where the reference may round otherwise.
  static int32_t output_loop(const float* exponentials, const float* factors, Q* out, int64_t count,
                             float y_zero_point) {
    int32_t near_ties = 0;
    for (int64_t k = 0; k < count; ++k) {
      const float v = exponentials[k] * factors[k];
      const float rounded = std::nearbyint(v);
      // v <= factor (E <= 1), so the margin is at least 2^-20 · v.
      near_ties += std::fabs(v - rounded) > 0.5f - kTieMargin * factors[k];
      out[k] = x86::saturate_rounded<Q>(rounded + y_zero_point);
    }
    return near_ties;
  }

  // Groups `stride` apart: each group's max and sum advance together, reduced index by reduced
  // index, so every sum is still formed in the reference's order.
  void run_strided(const Q* x, Q* y, void* scratch) const {
    const int64_t stride = shape_.stride;
    const Locals l = locals();
    int32_t* x_max = static_cast<int32_t*>(scratch);
    double* sums = reinterpret_cast<double*>(static_cast<char*>(scratch) + sums_offset_);
    for (int64_t s = 0; s < stride; ++s) {
      x_max[s] = kQuantMin<Q>;
      sums[s] = 0;
    }
    for (int64_t i = 0; i < shape_.reduced; ++i) {
      const Q* values = x + i * stride;
      for (int64_t s = 0; s < stride; ++s) x_max[s] = std::max<int32_t>(x_max[s], values[s]);
    }
    for (int64_t i = 0; i < shape_.reduced; ++i) {
      const Q* values = x + i * stride;
      for (int64_t s = 0; s < stride; ++s) sums[s] += l.exponential(values[s] - x_max[s]);
    }
    for (int64_t i = 0; i < shape_.reduced; ++i) {
      const Q* values = x + i * stride;
      Q* out = y + i * stride;
      for (int64_t s = 0; s < stride; ++s)
        out[s] = l.output(l.exponential(values[s] - x_max[s]), sums[s]);
    }
  }

  SoftmaxShape shape_;
  float y_scale_;
  float y_zero_point_;
  std::array<float, 256> exponentials_{};
  size_t sums_offset_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_qlinear_softmax(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  if (!is_quant_type(x.dtype) || ctx.outputs.at(0).dtype != x.dtype || x.rank() == 0) {
    return nullptr;
  }
  if (!x86::rounds_half_even()) return nullptr;
  const QuantParamSource x_params = tensor_params(ctx, 1, 2, x.dtype, "X");
  const QuantParamSource y_params = tensor_params(ctx, 3, 4, x.dtype, "Y");
  if (!x_params.known() || !y_params.known()) return nullptr;
  // The axis as the reference reads it: the `opset` attribute decides the default axis and
  // whether the dims after it are coerced into the reduced one.
  const int64_t opset = ctx.node.require_int("opset");
  const int64_t axis =
      normalize_axis(ctx.node.attr_int("axis", opset < 13 ? 1 : -1), x.rank(), ctx.node);
  const std::span<const int64_t> dims(x.shape);
  SoftmaxShape shape;
  shape.outer = shape_numel(dims.first(axis));
  if (opset < 13) {
    shape.reduced = shape_numel(dims.subspan(axis));
  } else {
    shape.reduced = x.shape[axis];
    shape.stride = shape_numel(dims.subspan(axis + 1));
  }
  const KernelArgs none{};
  const float x_scale = x_params.scale(none, 0), y_scale = y_params.scale(none, 0);
  const int32_t y_zero_point = y_params.zero_point(none, 0);
  // Eq. (60)'s error bound needs normal floats throughout: 1 / (Σ E · s_y) and the products.
  if (!(y_scale >= 0x1p-60f && y_scale <= 0x1p60f)) return nullptr;
  // ... and rows short enough for any order of their sums: (n − 1) · 2^-53 <= 2^-23.
  if (shape.reduced > (int64_t{1} << 30)) return nullptr;
  return visit_quant_type(x.dtype, [&](auto q) -> std::unique_ptr<Kernel> {
    using Q = typename decltype(q)::type;
    return std::make_unique<QLinearSoftmaxKernel<Q>>(shape, x_scale, y_scale, y_zero_point);
  });
}

}  // namespace quench::onednn
