#include "kernels/onednn/qlookup.h"

#include <array>
#include <cstring>

#include "kernels/onednn/context.h"
#include "kernels/onednn/layout.h"
#include "kernels/onednn/qlayout.h"
#include "kernels/x86/byte_lookup.h"
#include "ops/quantized/integer_products.h"

namespace quench::onednn {
namespace {

constexpr int64_t kTableSize = 256;

// The table as bytes (u8 and s8 entries alike) and the index of x as a byte: x itself for u8,
// x − (−128) = x XOR 0x80 for s8.
class QLookupKernel final : public Kernel {
 public:
  QLookupKernel(const void* table, int64_t count, bool signed_x)
      : count_(count), index_flip_(signed_x ? 0x80 : 0) {
    std::memcpy(table_.data(), table, table_.size());
  }

  void run(const KernelArgs& a) const override {
    x86::byte_lookup(table_.data(), static_cast<const uint8_t*>(a.inputs[0]),
                     static_cast<uint8_t*>(a.outputs[0]), count_, index_flip_);
  }
  int inplace_input() const override { return 0; }
  std::string impl() const override { return "onednn:int8_loop"; }

 private:
  std::array<uint8_t, kTableSize> table_;
  int64_t count_;
  uint8_t index_flip_;
};

}  // namespace

std::unique_ptr<Kernel> make_qlookup(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  const TensorDesc& table = ctx.input(1);
  if (!is_quant_type(x.dtype) || !is_quant_type(table.dtype) || table.constant == nullptr ||
      table.shape != Shape{kTableSize} || !dense_layout(x)) {
    return nullptr;
  }
  TensorDesc& y = ctx.outputs[0];
  if (x.layout.plain() || y.dtype == x.dtype) {
    y.layout = x.layout;
  } else {
    // The same byte layout, typed as y (u8 and s8 store alike).
    dnnl::memory::desc typed = desc_of(x.layout, plain_desc(x.dtype, x.shape));
    typed.data.data_type = static_cast<dnnl_data_type_t>(to_dnnl(y.dtype));
    y.layout = layout_from_desc(typed, plain_desc(y.dtype, y.shape));
  }
  return std::make_unique<QLookupKernel>(table.constant->raw_data(), x.numel(),
                                         x.dtype == DType::kInt8);
}

}  // namespace quench::onednn
