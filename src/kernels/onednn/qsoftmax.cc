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

// Scratch, for stride > 1: [max per group of one outer index, int32 | sums, double].
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
    const int64_t group = shape_.reduced * shape_.stride;
    for (int64_t outer = 0; outer < shape_.outer; ++outer) {
      if (shape_.stride == 1) {
        run_row(x + outer * group, y + outer * group);
      } else {
        run_strided(x + outer * group, y + outer * group, a.scratch);
      }
    }
  }
  size_t scratch_bytes() const override {
    if (shape_.stride == 1) return 0;
    return sums_offset_ + static_cast<size_t>(shape_.stride) * sizeof(double);
  }
  std::string impl() const override { return "onednn:int8_loop"; }

 private:
  // exp(s_x · d) for d = x − max x in [−255, 0].
  float exponential(int32_t difference) const { return exponentials_[difference + 255]; }

  // The reference's float p = e / Σ e, quantized (eq. (31)).
  Q output(float e, double sum) const {
    const float p = static_cast<float>(e / sum);
    return saturate_rounded<Q>(std::nearbyint(p / y_scale_) + y_zero_point_);
  }

  // Contiguous elements.
  void run_row(const Q* x, Q* y) const {
    int32_t x_max = kQuantMin<Q>;
    for (int64_t i = 0; i < shape_.reduced; ++i) x_max = std::max<int32_t>(x_max, x[i]);
    // In order, as the reference adds (a reordered double sum could round otherwise).
    double sum = 0;
    for (int64_t i = 0; i < shape_.reduced; ++i) sum += exponential(x[i] - x_max);
    for (int64_t i = 0; i < shape_.reduced; ++i) y[i] = output(exponential(x[i] - x_max), sum);
  }

  // Groups `stride` apart: each group's max and sum advance together, reduced index by reduced
  // index, so every sum is still formed in the reference's order.
  void run_strided(const Q* x, Q* y, void* scratch) const {
    const int64_t stride = shape_.stride;
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
      for (int64_t s = 0; s < stride; ++s) sums[s] += exponential(values[s] - x_max[s]);
    }
    for (int64_t i = 0; i < shape_.reduced; ++i) {
      const Q* values = x + i * stride;
      Q* out = y + i * stride;
      for (int64_t s = 0; s < stride; ++s)
        out[s] = output(exponential(values[s] - x_max[s]), sums[s]);
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
