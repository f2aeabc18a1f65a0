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

bool exact_conversion(DType from, DType to) {
  const bool integer_source =
      from == DType::kUInt8 || from == DType::kInt8 || from == DType::kInt32;
  return integer_source && (to == DType::kFloat32 || (to == DType::kInt32 && from != to));
}

}  // namespace

std::unique_ptr<Kernel> make_cast(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  const TensorDesc& y = ctx.outputs[0];
  if (!exact_conversion(x.dtype, y.dtype) || x.numel() == 0 || x.shape.empty()) return nullptr;
  try {
    return std::make_unique<CastKernel>(
        LayoutStep(desc_of(x.layout, plain_desc(x.dtype, x.shape)), plain_desc(y.dtype, y.shape)));
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

}  // namespace quench::onednn
