#include "kernels/onednn/qbinary.h"

#include "kernels/onednn/context.h"
#include "kernels/onednn/layout.h"
#include "kernels/onednn/qlayout.h"
#include "kernels/onednn/qloops.h"
#include "ops/quant_ops.h"

namespace quench::onednn {
namespace {

// Input positions: A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point.
constexpr size_t kA = 0, kB = 3;

struct ConvertState final : KernelState {
  dnnl::memory from, to;
};

// The constant parameters of one QLinearAdd / QLinearMul, in the form its loop takes.
struct BinaryParams {
  bool add = true;
  int32_t a_zero_point = 0, b_zero_point = 0, y_zero_point = 0;
  float a_ratio = 0.f, b_ratio = 0.f;  // add: s_a / s_y, s_b / s_y (eq. (38))
  float multiplier = 0.f;              // mul: (s_a · s_b) / s_y (eq. (36))
};

template <class Q>
class QLinearBinaryKernel final : public Kernel {
 public:
  QLinearBinaryKernel(BinaryParams params, int64_t count, size_t kept, LayoutStep convert)
      : params_(params), count_(count), kept_(kept), convert_(std::move(convert)) {}

  void run(const KernelArgs& args) const override {
    const void* a = args.inputs[kA];
    const void* b = args.inputs[kB];
    if (convert_.active()) {
      auto* s = static_cast<ConvertState*>(args.state);
      const void*& converted = kept_ == kA ? b : a;
      convert_.run(converted, args.scratch, s->from, s->to);
      converted = args.scratch;
    }
    const BinaryParams& p = params_;
    Q* y = static_cast<Q*>(args.outputs[0]);
    if (p.add) {
      add_requantize_loop(static_cast<const Q*>(a), static_cast<const Q*>(b), y, count_,
                          p.a_zero_point, p.a_ratio, p.b_zero_point, p.b_ratio, p.y_zero_point);
    } else {
      mul_requantize_loop(static_cast<const Q*>(a), static_cast<const Q*>(b), y, count_,
                          p.a_zero_point, p.b_zero_point, p.multiplier, p.y_zero_point);
    }
  }
  std::unique_ptr<KernelState> make_state() const override {
    if (!convert_.active()) return nullptr;
    auto s = std::make_unique<ConvertState>();
    convert_.make_memories(s->from, s->to);
    return s;
  }
  size_t scratch_bytes() const override {
    return convert_.active() ? static_cast<size_t>(count_) * sizeof(Q) : 0;
  }
  // Each output element depends only on the operand elements at its own position.
  int inplace_input() const override { return static_cast<int>(kept_); }
  std::string impl() const override { return "onednn:int8_loop"; }

 private:
  BinaryParams params_;
  int64_t count_;
  size_t kept_;         // the operand read in its own layout, which the output shares
  LayoutStep convert_;  // the other operand into that layout, when it is stored otherwise
};

}  // namespace

std::unique_ptr<Kernel> make_qlinear_binary(KernelContext& ctx) {
  const TensorDesc& a = ctx.input(kA);
  const TensorDesc& b = ctx.input(kB);
  const TensorDesc& y = ctx.outputs.at(0);
  const DType type = a.dtype;
  if (!is_quant_type(type) || b.dtype != type || y.dtype != type) return nullptr;
  if (a.shape != b.shape || a.shape != y.shape || !rounds_half_even()) return nullptr;
  const QuantParamSource a_params = quant::tensor_params(ctx, 1, 2, type, "A");
  const QuantParamSource b_params = quant::tensor_params(ctx, 4, 5, type, "B");
  const QuantParamSource y_params = quant::tensor_params(ctx, 6, 7, type, "C");
  if (!a_params.known() || !b_params.known() || !y_params.known()) return nullptr;

  BinaryParams p;
  p.add = ctx.node.op_type == "QLinearAdd";
  const KernelArgs none{};
  const float a_scale = a_params.scale(none, 0), b_scale = b_params.scale(none, 0);
  const float y_scale = y_params.scale(none, 0);
  p.a_zero_point = a_params.zero_point(none, 0);
  p.b_zero_point = b_params.zero_point(none, 0);
  p.y_zero_point = y_params.zero_point(none, 0);
  p.a_ratio = a_scale / y_scale;
  p.b_ratio = b_scale / y_scale;
  p.multiplier = requant_multiplier(a_scale, b_scale, y_scale);

  // Keep A's layout if a flat loop can read it, else B's; convert the other operand if needed.
  size_t kept = kA;
  if (!dense_layout(a)) {
    if (!dense_layout(b)) return nullptr;  // both padded: the runtime offers plain inputs
    kept = kB;
  }
  const TensorDesc& kept_value = ctx.input(kept);
  const TensorDesc& other = ctx.input(kept == kA ? kB : kA);
  LayoutStep convert;
  if (!same_layout(kept_value.layout, other.layout)) {
    const dnnl::memory::desc plain = plain_desc(type, a.shape);
    convert = LayoutStep(desc_of(other.layout, plain), desc_of(kept_value.layout, plain));
  }
  ctx.outputs[0].layout = kept_value.layout;
  return quant::visit_quant_type(type, [&](auto q) -> std::unique_ptr<Kernel> {
    using Q = typename decltype(q)::type;
    return std::make_unique<QLinearBinaryKernel<Q>>(p, a.numel(), kept, std::move(convert));
  });
}

}  // namespace quench::onednn
