#include "kernels/onednn/round_bfloat16.h"

#include <cstring>

#include "core/half.h"
#include "kernels/onednn/context.h"
#include "kernels/onednn/layout.h"

namespace quench::onednn {
namespace {

typedef int32_t Lanes __attribute__((vector_size(16)));  // SSE2, every x86-64 CPU

// eq. (69) on four floats' bits, kept float32: round to nearest even in the upper 16 bits, NaN
// made quiet (as float_to_bfloat16).
inline Lanes round_lanes(Lanes bits) {
  const Lanes nan = (bits & 0x7fffffff) > 0x7f800000;
  const Lanes rounded = (bits + 0x7fff + ((bits >> 16) & 1)) & static_cast<int32_t>(0xffff0000);
  const Lanes quiet = (bits | 0x00400000) & static_cast<int32_t>(0xffff0000);
  return nan ? quiet : rounded;
}

class RoundBFloat16Kernel final : public Kernel {
 public:
  explicit RoundBFloat16Kernel(int64_t count) : count_(count) {}

  void run(const KernelArgs& a) const override {
    const auto* x = static_cast<const float*>(a.inputs[0]);
    auto* y = static_cast<float*>(a.outputs[0]);
    int64_t i = 0;
    for (; i + 4 <= count_; i += 4) {
      Lanes v;
      std::memcpy(&v, x + i, sizeof(v));
      v = round_lanes(v);
      std::memcpy(y + i, &v, sizeof(v));
    }
    for (; i < count_; ++i) y[i] = bfloat16_to_float(float_to_bfloat16(x[i]));
  }
  int inplace_input() const override { return 0; }
  std::string impl() const override { return "onednn:round_bfloat16_loop"; }

 private:
  int64_t count_;
};

}  // namespace

std::unique_ptr<Kernel> make_round_bfloat16(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  if (x.dtype != DType::kFloat32 || x.numel() == 0 || x.shape.empty()) return nullptr;
  const dnnl::memory::desc stored = desc_of(x.layout, plain_desc(x.dtype, x.shape));
  ctx.outputs[0].layout = x.layout;
  return std::make_unique<RoundBFloat16Kernel>(
      static_cast<int64_t>(stored.get_size() / sizeof(float)));
}

}  // namespace quench::onednn
