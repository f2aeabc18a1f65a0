#include "kernels/onednn/qsoftmax.h"

#include <array>
#include <cmath>

#include "ir/shape_util.h"
#include "kernels/onednn/qlayout.h"
#include "kernels/onednn/qloops.h"
#include "ops/quant_ops.h"

namespace quench::onednn {
namespace {

// Softmax over `reduced` elements `stride` apart, for `outer` × `stride` groups.
struct SoftmaxShape {
  int64_t outer = 1, reduced = 1, stride = 1;
};

// Scratch: rows (stride 1): [exponentials of a block of rows, float | their rows' sums, double];
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
      return block_sums_offset() + static_cast<size_t>(kRows * shape_.reduced) * sizeof(double);
    }
    return sums_offset_ + static_cast<size_t>(shape_.stride) * sizeof(double);
  }
  std::string impl() const override { return "onednn:int8_loop"; }

 private:
  static constexpr int64_t kRows = 8;

  size_t block_sums_offset() const {
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
      return saturate_rounded<Q>(std::nearbyint(p / y_scale) + y_zero_point);
    }
  };
  Locals locals() const { return Locals{exponentials_, y_scale_, y_zero_point_}; }

  // Contiguous rows, kRows at a time. Each row's sum is formed in order, as the reference adds (a
  // reordered double sum could round otherwise); the rows' sums are independent chains that the
  // CPU overlaps. The outputs of the block then go through one flat loop (rows are often shorter
  // than the vector loop's step), from each element's exponential and its row's sum staged in
  // scratch.
  void run_rows(const Q* x, Q* y, void* scratch) const {
    const int64_t n = shape_.reduced;
    const Locals l = locals();
    float* block_exponentials = static_cast<float*>(scratch);
    double* block_sums =
        reinterpret_cast<double*>(static_cast<char*>(scratch) + block_sums_offset());
    for (int64_t first = 0; first < shape_.outer; first += kRows) {
      const int64_t rows = std::min(kRows, shape_.outer - first);
      const Q* block = x + first * n;
      int32_t x_max[kRows];
      double sums[kRows];
      for (int64_t r = 0; r < rows; ++r) {
        x_max[r] = kQuantMin<Q>;
        for (int64_t i = 0; i < n; ++i) x_max[r] = std::max<int32_t>(x_max[r], block[r * n + i]);
        sums[r] = 0;
      }
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t r = 0; r < rows; ++r) sums[r] += l.exponential(block[r * n + i] - x_max[r]);
      }
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i = 0; i < n; ++i) {
          block_exponentials[r * n + i] = l.exponential(block[r * n + i] - x_max[r]);
          block_sums[r * n + i] = sums[r];
        }
      }
      Q* out = y + first * n;
      for (int64_t k = 0; k < rows * n; ++k) {
        out[k] = l.output(block_exponentials[k], block_sums[k]);
      }
    }
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
  if (!rounds_half_even()) return nullptr;
  const QuantParamSource x_params = quant::tensor_params(ctx, 1, 2, x.dtype, "X");
  const QuantParamSource y_params = quant::tensor_params(ctx, 3, 4, x.dtype, "Y");
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
  return quant::visit_quant_type(x.dtype, [&](auto q) -> std::unique_ptr<Kernel> {
    using Q = typename decltype(q)::type;
    return std::make_unique<QLinearSoftmaxKernel<Q>>(shape, x_scale, y_scale, y_zero_point);
  });
}

}  // namespace quench::onednn
