#include "kernels/x86/erf.h"

#include "kernels/x86/cpu_features.h"

namespace quench::x86 {
namespace baseline {
ErfLoop erf_loop();
}  // namespace baseline
namespace avx2 {
ErfLoop erf_loop();
}  // namespace avx2

namespace {

class ErfKernel final : public Kernel {
 public:
  ErfKernel(ErfLoop loop, int64_t count) : loop_(loop), count_(count) {}

  void run(const KernelArgs& a) const override {
    loop_(static_cast<const float*>(a.inputs[0]), static_cast<float*>(a.outputs[0]), count_);
  }
  int inplace_input() const override { return 0; }
  std::string impl() const override { return "x86:erf_loop"; }

 private:
  ErfLoop loop_;
  int64_t count_;
};

}  // namespace

ErfLoop erf_loop() {
  static const ErfLoop chosen = cpu_features().avx2 ? avx2::erf_loop() : baseline::erf_loop();
  return chosen;
}

std::unique_ptr<Kernel> make_erf(KernelContext& ctx) {
  if (ctx.input(0).dtype != DType::kFloat32) return nullptr;
  return std::make_unique<ErfKernel>(erf_loop(), ctx.input(0).numel());
}

}  // namespace quench::x86
