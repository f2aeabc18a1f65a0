#include "kernels/x86/softmax.h"

#include "kernels/x86/cpu_features.h"
#include "ops/norm.h"

namespace quench::x86 {
namespace baseline {
SoftmaxLoop softmax_loop();
ExpLoop exp_loop();
}  // namespace baseline
namespace avx2 {
SoftmaxLoop softmax_loop();
ExpLoop exp_loop();
}  // namespace avx2
namespace avx512 {
SoftmaxLoop softmax_loop();
ExpLoop exp_loop();
}  // namespace avx512

namespace {

class SoftmaxKernel final : public Kernel {
 public:
  SoftmaxKernel(SoftmaxLoop loop, const SoftmaxGeometry& g) : loop_(loop), g_(g) {}

  void run(const KernelArgs& a) const override {
    loop_(static_cast<const float*>(a.inputs[0]), static_cast<float*>(a.outputs[0]), g_.outer,
          g_.axis, g_.inner);
  }
  // Rows read every value before writing over it; 16-column blocks overlap at the end.
  int inplace_input() const override { return g_.inner == 1 ? 0 : -1; }
  std::string impl() const override {
    return g_.inner == 1 ? "x86:softmax_rows" : "x86:softmax_columns";
  }

 private:
  SoftmaxLoop loop_;
  SoftmaxGeometry g_;
};

}  // namespace

SoftmaxLoop softmax_loop() {
  static const SoftmaxLoop chosen = cpu_features().avx512 ? avx512::softmax_loop()
                                    : cpu_features().avx2 ? avx2::softmax_loop()
                                                          : baseline::softmax_loop();
  return chosen;
}

ExpLoop exp_loop() {
  static const ExpLoop chosen = cpu_features().avx512 ? avx512::exp_loop()
                                : cpu_features().avx2 ? avx2::exp_loop()
                                                      : baseline::exp_loop();
  return chosen;
}

std::unique_ptr<Kernel> make_softmax(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  if (ctx.node.op_type != "Softmax" || x.dtype != DType::kFloat32 || x.numel() == 0) {
    return nullptr;
  }
  const SoftmaxGeometry g = softmax_geometry(ctx.node, ctx.opset, x.shape);
  if (g.inner > 1 && g.inner < 16) return nullptr;
  return std::make_unique<SoftmaxKernel>(softmax_loop(), g);
}

}  // namespace quench::x86
