#include "kernels/x86/swish.h"

#include "kernels/layout.h"
#include "kernels/x86/cpu_features.h"

namespace quench::x86 {
namespace baseline {
SwishLoop swish_loop();
}  // namespace baseline
namespace avx2 {
SwishLoop swish_loop();
}  // namespace avx2
namespace avx512 {
SwishLoop swish_loop();
}  // namespace avx512

namespace {

class SwishKernel final : public Kernel {
 public:
  SwishKernel(SwishLoop loop, int64_t count) : loop_(loop), count_(count) {}
  void run(const KernelArgs& a) const override {
    loop_(static_cast<const float*>(a.inputs[0]), static_cast<float*>(a.outputs[0]), count_);
  }
  int inplace_input() const override { return 0; }
  std::string impl() const override { return "x86:swish"; }

 private:
  SwishLoop loop_;
  int64_t count_;
};

}  // namespace

SwishLoop swish_loop() {
  static const SwishLoop chosen = cpu_features().avx512 ? avx512::swish_loop()
                                  : cpu_features().avx2 ? avx2::swish_loop()
                                                        : baseline::swish_loop();
  return chosen;
}

std::unique_ptr<Kernel> make_swish(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  if (ctx.node.op_type != "Swish" || x.dtype != DType::kFloat32) return nullptr;
  // Element by element: any layout without padding, kept for the output.
  if (!x.layout.plain() && !is_channels_last(x.layout, x.shape)) return nullptr;
  ctx.outputs[0].layout = x.layout;
  return std::make_unique<SwishKernel>(swish_loop(), x.numel());
}

}  // namespace quench::x86
