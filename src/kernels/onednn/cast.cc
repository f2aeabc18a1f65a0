#include "kernels/onednn/cast.h"

#include "kernels/onednn/context.h"
#include "kernels/onednn/layout.h"
#include "kernels/onednn/qlayout.h"

namespace quench::onednn {
namespace {

struct CastState final : KernelState {
  dnnl::memory from, to;
};

class CastKernel final : public Kernel {
 public:
  explicit CastKernel(LayoutStep step) : step_(std::move(step)) {}

  void run(const KernelArgs& a) const override {
    auto* s = static_cast<CastState*>(a.state);
    step_.run(a.inputs[0], a.outputs[0], s->from, s->to);
  }
  std::unique_ptr<KernelState> make_state() const override {
    auto s = std::make_unique<CastState>();
    step_.make_memories(s->from, s->to);
    return s;
  }
  std::string impl() const override { return "onednn:reorder"; }

 private:
  LayoutStep step_;
};

// Conversions a reorder does as Cast does: exact ones, and float32 <-> bfloat16 (to nearest
// even, as core/half.h; a float32 below bfloat16's smallest normal may flush to zero, which no
// activation of a network reaches).
bool reorder_matches_cast(DType from, DType to) {
  const bool integer_source =
      from == DType::kUInt8 || from == DType::kInt8 || from == DType::kInt32;
  const bool bf16 = (from == DType::kFloat32 && to == DType::kBFloat16) ||
                    (from == DType::kBFloat16 && to == DType::kFloat32);
  return bf16 || (integer_source && (to == DType::kFloat32 || (to == DType::kInt32 && from != to)));
}

}  // namespace

std::unique_ptr<Kernel> make_cast(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  const TensorDesc& y = ctx.outputs[0];
  if (!reorder_matches_cast(x.dtype, y.dtype) || x.numel() == 0 || x.shape.empty()) return nullptr;
  try {
    const dnnl::memory::desc from = desc_of(x.layout, plain_desc(x.dtype, x.shape));
    const dnnl::memory::desc plain_y = plain_desc(y.dtype, y.shape);
    // Between float32 and bfloat16 the value keeps the producer's layout (a convolution's
    // blocked output read by the next one); integer results become plain.
    const bool keep_layout = y.dtype == DType::kBFloat16 || x.dtype == DType::kBFloat16;
    const dnnl::memory::desc to = keep_layout ? retyped(from, to_dnnl(y.dtype)) : plain_y;
    auto k = std::make_unique<CastKernel>(LayoutStep(from, to));
    ctx.outputs[0].layout = layout_from_desc(to, plain_y);
    return k;
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

}  // namespace quench::onednn
