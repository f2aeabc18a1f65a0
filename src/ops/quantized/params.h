// Scales and zero points of quantized tensors as ops read them (docs/quantization.md, eqs. (4)-(5)
// and (30)-(38); the QuantParams struct is core/quant_params.h), parsed once and shared by the
// reference kernels, the oneDNN int8 kernels and the QDQ-lowering pass, so that all of them accept
// the same parameter shapes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/quant_params.h"
#include "ops/op_registry.h"
#include "quench/graph.h"

namespace quench {

// Whether `t` is a type quantized tensors may have (u8, s8 and, where `allow_int32`, s32).
bool is_quant_type(DType t, bool allow_int32 = false);

// Element `index` of a zero-point buffer of type u8, s8 or s32.
int32_t zero_point_at(const void* data, DType type, int64_t index);

// Checks the shapes of a scale and its zero point (`zero_point` nullptr when absent or of unknown
// rank; `scale` likewise when unknown): per tensor, each is a scalar or holds one element; per
// axis (`axis_size` not nullptr), each is 1-D with axis_size elements (or one, which applies to
// all). The zero point must have the scale's shape. kInvalidModel naming the node and `what`.
void check_quant_param_shapes(const Node& node, std::string_view what, const SymbolicShape* scale,
                              const SymbolicShape* zero_point, const Dim* axis_size);

// Every scale finite and positive, else kInvalidModel naming the node, the index and the value.
void check_quant_scales(const Node& node, const Tensor& scale);

// Reads constant parameters: `zero_point` may be nullptr (zeros of type `type`). `axis` is
// recorded as given (-1 for per tensor).
QuantParams read_quant_params(const Tensor& scale, const Tensor* zero_point, DType type,
                              int64_t axis);

// A scale / zero-point input pair of a node as its kernel reads it: prepared at build time when
// the scale is constant and the zero point constant or absent, else read from the inputs at run
// time. Values are flattened; the op decides which value an element uses.
class QuantParamSource {
 public:
  // For ops without scales (ConvInteger, MatMulInteger): every scale is 1.
  static constexpr size_t kNoScale = static_cast<size_t>(-1);

  QuantParamSource() = default;
  // `zero_point_input` may be absent from the node (zeros of `type`).
  QuantParamSource(const KernelContext& ctx, size_t scale_input, size_t zero_point_input,
                   DType type);

  bool known() const { return known_; }
  // The number of values (a list of one applies to every index).
  int64_t size() const { return size_; }
  // The prepared values (valid when known()).
  const QuantParams& params() const { return params_; }

  // Run-time access; cheap, but meant for per-channel use, not for the innermost loop.
  float scale(const KernelArgs& args, int64_t index) const {
    if (known_) return params_.scale(index);
    return static_cast<const float*>(args.inputs[scale_input_])[scale_count_ == 1 ? 0 : index];
  }
  int32_t zero_point(const KernelArgs& args, int64_t index) const;

 private:
  bool known_ = false;
  int64_t size_ = 1;
  int64_t scale_count_ = 1;
  int64_t zero_point_count_ = 1;
  size_t scale_input_ = 0;
  int zero_point_input_ = -1;  // -1 when absent
  DType zero_point_type_ = DType::kUInt8;
  QuantParams params_;
};

}  // namespace quench
