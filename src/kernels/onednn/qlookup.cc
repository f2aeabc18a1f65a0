#include "kernels/onednn/qlookup.h"

#include <array>
#include <cstring>

#include "kernels/onednn/context.h"
#include "kernels/onednn/layout.h"
#include "kernels/onednn/qlayout.h"
#include "ops/quant_ops.h"

#if defined(__AVX512VBMI__) && defined(__AVX512BW__)
#include <immintrin.h>
#define QUENCH_QLOOKUP_VBMI 1
#endif

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
    const auto* x = static_cast<const uint8_t*>(a.inputs[0]);
    auto* y = static_cast<uint8_t*>(a.outputs[0]);
    int64_t i = 0;
#ifdef QUENCH_QLOOKUP_VBMI
    // vpermi2b picks from 128 entries by an index's low 7 bits; its top bit chooses the half.
    const __m512i t0 = _mm512_loadu_si512(table_.data()), t1 = _mm512_loadu_si512(&table_[64]);
    const __m512i t2 = _mm512_loadu_si512(&table_[128]), t3 = _mm512_loadu_si512(&table_[192]);
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(index_flip_));
    for (; i + 64 <= count_; i += 64) {
      const __m512i index = _mm512_xor_si512(_mm512_loadu_si512(x + i), flip);
      const __m512i low = _mm512_permutex2var_epi8(t0, index, t1);
      const __m512i high = _mm512_permutex2var_epi8(t2, index, t3);
      _mm512_storeu_si512(y + i, _mm512_mask_blend_epi8(_mm512_movepi8_mask(index), low, high));
    }
#endif
    for (; i < count_; ++i) y[i] = table_[x[i] ^ index_flip_];
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
