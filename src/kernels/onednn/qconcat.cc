#include "kernels/onednn/qconcat.h"

#include <array>
#include <cstring>

#include "ir/shape_util.h"
#include "ops/quantized/integer_products.h"

namespace quench::onednn {
namespace {

// One input's share of each output row: `block` elements, copied or mapped through `table`.
template <class Q>
struct ConcatPart {
  size_t input = 0;
  int64_t block = 0;
  bool copy = true;
  std::array<Q, 256> table{};
};

template <class Q>
class QLinearConcatKernel final : public Kernel {
 public:
  QLinearConcatKernel(int64_t outer, std::vector<ConcatPart<Q>> parts)
      : outer_(outer), parts_(std::move(parts)) {}

  void run(const KernelArgs& a) const override {
    Q* y = static_cast<Q*>(a.outputs[0]);
    for (int64_t row = 0; row < outer_; ++row) {
      for (const ConcatPart<Q>& part : parts_) {
        const Q* x = static_cast<const Q*>(a.inputs[part.input]) + row * part.block;
        if (part.copy) {
          std::memcpy(y, x, static_cast<size_t>(part.block) * sizeof(Q));
        } else {
          for (int64_t i = 0; i < part.block; ++i) y[i] = part.table[x[i] - kQuantMin<Q>];
        }
        y += part.block;
      }
    }
  }
  std::string impl() const override { return "onednn:int8_loop"; }

 private:
  int64_t outer_;
  std::vector<ConcatPart<Q>> parts_;
};

template <class Q>
std::unique_ptr<Kernel> make_concat(const KernelContext& ctx, size_t count, int64_t axis) {
  const DType type = ctx.input(1).dtype;
  const QuantParamSource y_params = tensor_params(ctx, 0, 1, type, "Y");
  if (!y_params.known()) return nullptr;
  const KernelArgs none{};
  const float y_scale = y_params.scale(none, 0);
  const int32_t y_zero_point = y_params.zero_point(none, 0);
  const Shape& out = ctx.outputs.at(0).shape;
  std::vector<ConcatPart<Q>> parts(count);
  for (size_t i = 0; i < count; ++i) {
    const size_t data = 2 + 3 * i;
    const TensorDesc& x = ctx.input(data);
    if (x.dtype != type || x.rank() != static_cast<int>(out.size())) return nullptr;
    const QuantParamSource x_params = tensor_params(ctx, data + 1, data + 2, type, "X");
    if (!x_params.known()) return nullptr;
    ConcatPart<Q>& part = parts[i];
    part.input = data;
    part.block = shape_numel(std::span(x.shape).subspan(axis));
    fill_table<Q>(
        x_params.scale(none, 0), x_params.zero_point(none, 0), y_scale, y_zero_point,
        [](float v) { return v; }, part.table.data());
    for (int32_t q = kQuantMin<Q>; q <= kQuantMax<Q>; ++q) {
      part.copy = part.copy && part.table[q - kQuantMin<Q>] == q;
    }
  }
  return std::make_unique<QLinearConcatKernel<Q>>(shape_numel(std::span(out).first(axis)),
                                                  std::move(parts));
}

}  // namespace

std::unique_ptr<Kernel> make_qlinear_concat(KernelContext& ctx) {
  const size_t n = ctx.node.inputs.size();
  if (n < 5 || (n - 2) % 3 != 0) return nullptr;  // the reference reports it
  const DType type = ctx.input(1).dtype;
  if (!is_quant_type(type) || ctx.outputs.at(0).dtype != type) return nullptr;
  const Shape& out = ctx.outputs[0].shape;
  const int64_t axis = normalize_axis(ctx.node.require_int("axis"), out.size(), ctx.node);
  return visit_quant_type(type, [&](auto q) -> std::unique_ptr<Kernel> {
    using Q = typename decltype(q)::type;
    return make_concat<Q>(ctx, (n - 2) / 3, axis);
  });
}

}  // namespace quench::onednn
