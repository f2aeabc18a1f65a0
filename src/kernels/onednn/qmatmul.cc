// Integer matrix products on oneDNN's int8 matmul: QLinearMatMul, QFusedMatMul, com.microsoft
// QGemm, MatMulInteger and com.microsoft MatMulIntegerToFloat. The requantization is Int8Requant's
// (qconv.h, eq. (47)); B is s8 for oneDNN, a u8 B is shifted by −128 (eq. (49)).
#include "kernels/onednn/qmatmul.h"

#include <cstring>

#include "core/requantize.h"
#include "ir/shape_util.h"
#include "kernels/onednn/context.h"
#include "kernels/onednn/qconv.h"
#include "kernels/onednn/runtime_zero_point.h"
#include "ops/fused.h"
#include "ops/linalg.h"
#include "ops/quantized/integer_products.h"
#include "ops/quantized/params.h"
#include "ops/quantized/qfused.h"

namespace quench::onednn {
namespace {

using dnnl::memory;
using dt = memory::data_type;

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

// Eq. (155) on oneDNN's exact int32 sums, in place: y = float(Σ) · scale[n] + bias[n] over rows of
// `columns` (scale[0] for all when `scale_count` is 1; no addition without a bias), the
// reference's floats in its order. quench's loop (compiled for AVX-512, AVX2 and the baseline,
// picked at load) rather than oneDNN's output scales given at run time, which its 2.6 brgemm
// kernels do not take (they fall back to a gemm: 2.20 against 1.09 ms for vit's 17 at batch 32).
typedef int32_t AliasedInt32 __attribute__((may_alias));
typedef float AliasedFloat __attribute__((may_alias));
__attribute__((target_clones("avx512f", "avx2", "default"))) void sums_to_float(
    void* y, int64_t columns, int64_t scale_count, const float* scale, const float* bias,
    int64_t count) {
  const auto* sums = static_cast<const AliasedInt32*>(y);
  auto* out = static_cast<AliasedFloat*>(y);
  for (int64_t start = 0; start < count; start += columns) {
    if (scale_count == 1 && bias == nullptr) {
      const float s = scale[0];
      for (int64_t c = 0; c < columns; ++c)
        out[start + c] = static_cast<float>(sums[start + c]) * s;
    } else if (scale_count == 1) {
      const float s = scale[0];
      for (int64_t c = 0; c < columns; ++c) {
        out[start + c] = static_cast<float>(sums[start + c]) * s + bias[c];
      }
    } else if (bias == nullptr) {
      for (int64_t c = 0; c < columns; ++c) {
        out[start + c] = static_cast<float>(sums[start + c]) * scale[c];
      }
    } else {
      for (int64_t c = 0; c < columns; ++c) {
        out[start + c] = static_cast<float>(sums[start + c]) * scale[c] + bias[c];
      }
    }
  }
}

// Everything a matmul kernel is built from.
struct QMatMulSpec {
  memory::desc src, weights, dst;  // weights: s8, in the layout B is stored in
  // B when it is constant: s8 values in `weights`' layout, packed once.
  std::vector<int8_t> constant_weights;
  bool shift_b = false;       // B is u8 read at run time: b − 128 into scratch at every run
  std::vector<int32_t> bias;  // one per column, or empty
  Int8Requant requant;
  size_t a_input = 0, b_input = 0;
  int sum_input = -1;
  RuntimeZeroPoint src_zero_point;  // with requant.src_zero_point_at_run_time
  // Eq. (155) (MatMulIntegerToFloat): oneDNN writes the int32 sums into the float output, which
  // sums_to_float then turns into floats in place, with the scales s_a · s_b[n] formed from these
  // inputs at every run and the float bias input (-1 for none).
  struct RuntimeScales {
    size_t a_scale = 0, b_scale = 0;
    int64_t b_count = 1;  // b_scale's values: 1 or one per column
    int bias = -1;
  };
  std::optional<RuntimeScales> runtime_scales;
};

// The memory objects of one execution state and the argument map that holds them.
struct QMatMulState final : KernelState {
  memory src, weights, dst, scratchpad;
  std::unordered_map<int, memory> args;
};

class QMatMulKernel final : public Kernel {
 public:
  void run(const KernelArgs& a) const override {
    auto* s = static_cast<QMatMulState*>(a.state);
    char* scratch = static_cast<char*>(a.scratch);
    s->src.set_data_handle(const_cast<void*>(a.inputs[a_input_]));
    s->dst.set_data_handle(a.outputs[0]);
    s->scratchpad.set_data_handle(scratch);
    if (sum_input_ >= 0 && a.inputs[sum_input_] != a.outputs[0]) {
      // The sum post-op adds what dst holds (both plain, one byte per element).
      std::memcpy(a.outputs[0], a.inputs[sum_input_], dst_bytes_);
    }
    if (!packed_weights_) {
      const void* b = a.inputs[b_input_];
      if (shift_b_) {
        // Eq. (49): u8 b − 128 is b with its top bit flipped, read as s8. The count is a local:
        // byte stores may alias the kernel's members, which would keep the loop scalar.
        const auto* from = static_cast<const uint8_t*>(b);
        auto* to = reinterpret_cast<int8_t*>(scratch + shifted_b_offset_);
        const size_t bytes = b_bytes_;
        for (size_t i = 0; i < bytes; ++i) to[i] = static_cast<int8_t>(from[i] ^ 0x80);
        b = to;
      }
      s->weights.set_data_handle(const_cast<void*>(b));
    }
    src_zero_point_.load(a, s->args);
    execute(prim_, s->args);
    if (runtime_scales_) {
      const QMatMulSpec::RuntimeScales& r = *runtime_scales_;
      const float a_scale = *static_cast<const float*>(a.inputs[r.a_scale]);
      const auto* b_scale = static_cast<const float*>(a.inputs[r.b_scale]);
      auto* scales = reinterpret_cast<float*>(scratch + scales_offset_);
      for (int64_t i = 0; i < r.b_count; ++i) scales[i] = a_scale * b_scale[i];
      const auto* bias = r.bias >= 0 ? static_cast<const float*>(a.inputs[r.bias]) : nullptr;
      sums_to_float(a.outputs[0], columns_, r.b_count, scales, bias, dst_elements_);
    }
  }

  std::unique_ptr<KernelState> make_state() const override {
    auto s = std::make_unique<QMatMulState>();
    s->src = memory(src_, engine(), DNNL_MEMORY_NONE);
    s->dst = memory(dst_, engine(), DNNL_MEMORY_NONE);
    s->scratchpad = memory(scratchpad_, engine(), DNNL_MEMORY_NONE);
    if (!packed_weights_) s->weights = memory(weights_, engine(), DNNL_MEMORY_NONE);
    s->args = {{DNNL_ARG_SRC, s->src},
               {DNNL_ARG_WEIGHTS, packed_weights_ ? packed_weights_ : s->weights},
               {DNNL_ARG_DST, s->dst},
               {DNNL_ARG_SCRATCHPAD, s->scratchpad}};
    if (bias_) s->args.emplace(DNNL_ARG_BIAS, bias_);
    src_zero_point_.add_to(s->args);
    return s;
  }
  size_t scratch_bytes() const override { return scratch_bytes_; }
  // A sum of another type in the same bytes is still right: the sum post-op reads it as its type.
  int inplace_input() const override { return sum_input_; }
  std::string impl() const override { return "onednn:" + impl_; }

  static std::unique_ptr<Kernel> make(const QMatMulSpec& spec);

 private:
  dnnl::matmul prim_;
  memory::desc src_, weights_, dst_, scratchpad_;
  memory packed_weights_, bias_;
  size_t a_input_ = 0, b_input_ = 0;
  int sum_input_ = -1;
  RuntimeZeroPoint src_zero_point_;
  std::optional<QMatMulSpec::RuntimeScales> runtime_scales_;
  int64_t columns_ = 0, dst_elements_ = 0;
  size_t scales_offset_ = 0;
  bool shift_b_ = false;
  size_t shifted_b_offset_ = 0;
  size_t b_bytes_ = 0, dst_bytes_ = 0;
  size_t scratch_bytes_ = 0;
  std::string impl_;
};

std::unique_ptr<Kernel> QMatMulKernel::make(const QMatMulSpec& spec) {
  if (!spec.requant.finite()) return nullptr;
  const bool pack = !spec.constant_weights.empty();
  const memory::desc w_md =
      pack ? memory::desc(spec.weights.dims(), dt::s8, memory::format_tag::any) : spec.weights;
  const int rank = static_cast<int>(spec.dst.dims().size());
  memory::dims bias_dims(rank, 1);
  bias_dims.back() = spec.dst.dims().back();
  const memory::desc bias_md(bias_dims, dt::s32,
                             to_dims(strides_of(Shape(bias_dims.begin(), bias_dims.end()))));
  // Per-column scales run along dst's last dim.
  const dnnl::primitive_attr attr = spec.requant.attr(1 << (rank - 1));
  dnnl::matmul::primitive_desc pd;
  try {
    const dnnl::matmul::desc d = spec.bias.empty()
                                     ? dnnl::matmul::desc(spec.src, w_md, spec.dst)
                                     : dnnl::matmul::desc(spec.src, w_md, bias_md, spec.dst);
    pd = dnnl::matmul::primitive_desc(d, attr, engine());
  } catch (const dnnl::error&) {
    return nullptr;
  }
  auto k = std::make_unique<QMatMulKernel>();
  k->prim_ = dnnl::matmul(pd);
  k->impl_ = pd.impl_info_str();
  k->src_ = spec.src;
  k->dst_ = spec.dst;
  k->weights_ = spec.weights;
  k->scratchpad_ = pd.scratchpad_desc();
  k->a_input_ = spec.a_input;
  k->b_input_ = spec.b_input;
  k->sum_input_ = spec.requant.has_sum ? spec.sum_input : -1;
  k->src_zero_point_ = spec.src_zero_point;
  k->runtime_scales_ = spec.runtime_scales;
  k->shift_b_ = spec.shift_b;
  k->b_bytes_ = spec.weights.get_size();
  k->dst_bytes_ = spec.dst.get_size();
  k->shifted_b_offset_ = align64(k->scratchpad_.get_size());
  k->scales_offset_ = align64(k->shifted_b_offset_ + (spec.shift_b ? spec.weights.get_size() : 0));
  k->scratch_bytes_ = k->scales_offset_;
  if (spec.runtime_scales) {
    const memory::dims dims = spec.dst.dims();
    k->columns_ = dims.back();
    k->dst_elements_ = static_cast<int64_t>(spec.dst.get_size() / sizeof(int32_t));
    k->scratch_bytes_ += static_cast<size_t>(spec.runtime_scales->b_count) * sizeof(float);
  }
  if (pack) {
    memory user(spec.weights, engine(), const_cast<int8_t*>(spec.constant_weights.data()));
    k->packed_weights_ = memory(pd.weights_desc(), engine());
    dnnl::reorder(user, k->packed_weights_).execute(stream(), user, k->packed_weights_);
    stream().wait();
  }
  if (!spec.bias.empty()) {
    k->bias_ = memory(bias_md, engine());
    std::memcpy(k->bias_.get_data_handle(), spec.bias.data(), spec.bias.size() * sizeof(int32_t));
  }
  return k;
}

// A's and B's parameters as oneDNN takes them: A per tensor, its zero point constant or (without
// a scale: MatMulInteger) at run time; B's scales per tensor or per column (`columns` values along
// B's last dim), its zero point per tensor (oneDNN has no per-column weight zero points), −128
// for a u8 B (eq. (49)). nullopt otherwise, or when B's parameters are not constant.
struct OperandParams {
  float a_scale = 1.f;
  int32_t a_zero_point = 0;
  RuntimeZeroPoint a_zero_point_at_run_time;
  std::vector<float> b_scales;
  int32_t b_zero_point = 0;
};

std::optional<OperandParams> read_operand_params(const KernelContext& ctx, const MatMulInputs& in,
                                                 int64_t columns) {
  const DType a_type = ctx.input(in.a).dtype, b_type = ctx.input(in.b).dtype;
  const QuantParamSource a_params(ctx, in.a_scale, in.a_zero_point, a_type);
  const QuantParamSource b_params(ctx, in.b_scale, in.b_zero_point, b_type);
  OperandParams p;
  if (!a_params.known()) {
    if (in.a_scale != QuantParamSource::kNoScale || ctx.input(in.a_zero_point).numel() != 1) {
      return std::nullopt;
    }
    p.a_zero_point_at_run_time = RuntimeZeroPoint{static_cast<int>(in.a_zero_point), a_type};
  } else if (a_params.size() != 1) {
    return std::nullopt;
  } else {
    p.a_scale = a_params.params().scale(0);
    p.a_zero_point = a_params.params().zero_point(0);
  }
  if (!b_params.known()) return std::nullopt;
  if (b_params.size() != 1) {
    if (b_params.size() != columns) return std::nullopt;
    for (size_t i : {in.b_scale, in.b_zero_point}) {
      const Shape& shape = ctx.has_input(i) ? ctx.input(i).shape : Shape{};
      if (shape_numel(shape) != 1 && (shape.empty() || shape.back() != columns)) {
        return std::nullopt;
      }
    }
  }
  for (int64_t column = 0; column < b_params.size(); ++column) {
    p.b_scales.push_back(b_params.params().scale(column));
  }
  const std::vector<int32_t>& zero_points = b_params.params().zero_points;
  for (int32_t zero_point : zero_points) {
    if (zero_point != zero_points[0]) return std::nullopt;
  }
  p.b_zero_point = zero_points[0] - (b_type == DType::kUInt8 ? 128 : 0);
  return p;
}

// A row-major [cols, rows] matrix read as [rows, cols] when `transposed`.
memory::desc matrix_desc(int64_t rows, int64_t cols, bool transposed, dt type) {
  return transposed ? memory::desc({rows, cols}, type, memory::dims{1, rows})
                    : memory::desc({rows, cols}, type, memory::dims{cols, 1});
}

// The operands of a [..., M, K] x [..., K, N] product in `spec`, dst of y's type or `dst_type`.
void set_matmul_operands(QMatMulSpec& spec, const TensorDesc& a, const TensorDesc& b,
                         const TensorDesc& y, std::optional<dt> dst_type = std::nullopt) {
  const dt y_type = dst_type.value_or(to_dnnl(y.dtype));
  const int64_t k = a.shape.back(), n = b.shape.back();
  if (b.constant != nullptr && b.rank() == 2) {
    // [..., M, K] x [K, N]: every leading dim of A folds into M; B is packed once.
    const int64_t rows = a.numel() / std::max<int64_t>(k, 1);
    spec.src = matrix_desc(rows, k, false, to_dnnl(a.dtype));
    spec.weights = matrix_desc(k, n, false, dt::s8);
    spec.dst = matrix_desc(rows, n, false, y_type);
    spec.constant_weights = s8_values(*b.constant);
  } else {
    // Batched, B at run time (attention): equal ranks, batch dims broadcast by oneDNN.
    const size_t rank = y.shape.size();
    auto padded = [rank](const Shape& s) {
      Shape out(rank - s.size(), 1);
      out.insert(out.end(), s.begin(), s.end());
      return out;
    };
    spec.src = plain_desc(a.dtype, padded(a.shape));
    spec.weights = plain_desc(DType::kInt8, padded(b.shape));
    spec.dst = memory::desc(to_dims(y.shape), y_type, to_dims(strides_of(y.shape)));
    spec.shift_b = b.dtype == DType::kUInt8;
  }
}

// The exact int32 sums of A and B (MatMulInteger's product) with their zero points: no scaling.
QMatMulSpec int32_sums_spec(const OperandParams& params, size_t a_input, size_t b_input) {
  QMatMulSpec spec;
  spec.requant.scales = {1.f};  // the default: oneDNN adds no scaling
  spec.requant.src_zero_point = params.a_zero_point;
  spec.requant.src_zero_point_at_run_time = params.a_zero_point_at_run_time.present();
  spec.requant.weights_zero_point = params.b_zero_point;
  spec.src_zero_point = params.a_zero_point_at_run_time;
  spec.a_input = a_input;
  spec.b_input = b_input;
  return spec;
}

}  // namespace

std::unique_ptr<Kernel> make_qmatmul(KernelContext& ctx) {
  if (!int8_products_exact()) return nullptr;
  // QLinearMatMul's inputs; QFusedMatMul adds the bias and the sum triple (QFusedInputs).
  enum : size_t { kA = 0, kB = 3 };
  using In = QFusedInputs;
  constexpr size_t kYScale = In::kYScale, kYZeroPoint = In::kYZeroPoint, kBias = In::kBias,
                   kSum = In::kSum;
  const TensorDesc& a = ctx.input(kA);
  const TensorDesc& b = ctx.input(kB);
  const TensorDesc& y = ctx.outputs[0];
  if (!is_quant_type(a.dtype) || !is_quant_type(b.dtype) || !is_quant_type(y.dtype) ||
      a.rank() < 2 || b.rank() < 2 || y.rank() > 6 || a.numel() == 0 || b.numel() == 0 ||
      !ctx.has_input(kYZeroPoint)) {
    return nullptr;
  }
  const int64_t n = b.shape.back();
  const std::optional<OperandParams> params =
      read_operand_params(ctx, {kA, kA + 1, kA + 2, kB, kB + 1, kB + 2}, n);
  const QuantParamSource y_params(ctx, kYScale, kYZeroPoint, y.dtype);
  if (!params || !y_params.known() || y_params.size() != 1) return nullptr;
  QMatMulSpec spec;
  Int8Requant& r = spec.requant;
  const float y_scale = y_params.params().scale(0);
  for (float b_scale : params->b_scales) {
    r.scales.push_back(requant_multiplier(params->a_scale, b_scale, y_scale));
  }
  r.src_zero_point = params->a_zero_point;
  r.weights_zero_point = params->b_zero_point;
  r.dst_zero_point = y_params.params().zero_point(0);
  if (ctx.node.domain == kInternalDomain) {
    if (!read_fused_epilogue(ctx, y_scale, r) || r.function.active()) return nullptr;
    if (ctx.has_input(kBias)) {
      const TensorDesc& bias = ctx.input(kBias);
      if (bias.dtype != DType::kInt32 || bias.constant == nullptr || bias.numel() != n) {
        return nullptr;
      }
      const auto values = bias.constant->values<int32_t>();
      spec.bias.assign(values.begin(), values.end());
    }
  }
  spec.a_input = kA;
  spec.b_input = kB;
  spec.sum_input = kSum;
  set_matmul_operands(spec, a, b, y);
  return QMatMulKernel::make(spec);
}

std::unique_ptr<Kernel> make_matmul_integer(KernelContext& ctx) {
  if (!int8_products_exact()) return nullptr;
  constexpr size_t kNoScale = QuantParamSource::kNoScale;
  constexpr MatMulInputs kInputs{0, kNoScale, 2, 1, kNoScale, 3};
  const TensorDesc& a = ctx.input(kInputs.a);
  const TensorDesc& b = ctx.input(kInputs.b);
  const TensorDesc& y = ctx.outputs[0];
  if (!is_quant_type(a.dtype) || !is_quant_type(b.dtype) || y.dtype != DType::kInt32 ||
      a.rank() < 2 || b.rank() < 2 || y.rank() > 6 || a.numel() == 0 || b.numel() == 0) {
    return nullptr;
  }
  const int64_t k = a.shape.back(), n = b.shape.back();
  const std::optional<OperandParams> params = read_operand_params(ctx, kInputs, n);
  if (!params) return nullptr;
  QMatMulSpec spec = int32_sums_spec(*params, kInputs.a, kInputs.b);
  set_matmul_operands(spec, a, b, y);
  // Eq. (61) per column of a constant [K, N] B; else for any B.
  const int8_t* columns = spec.constant_weights.empty() ? nullptr : spec.constant_weights.data();
  if (!int32_output_exact(columns, n, k, 1, n, params->b_zero_point)) return nullptr;
  return QMatMulKernel::make(spec);
}

std::unique_ptr<Kernel> make_matmul_integer_to_float(KernelContext& ctx) {
  if (!int8_products_exact()) return nullptr;
  enum : size_t { kA, kB, kAScale, kBScale, kAZeroPoint, kBZeroPoint, kBias };
  constexpr size_t kNoScale = QuantParamSource::kNoScale;
  const TensorDesc& a = ctx.input(kA);
  const TensorDesc& b = ctx.input(kB);
  const TensorDesc& y = ctx.outputs[0];
  if (!is_quant_type(a.dtype) || !is_quant_type(b.dtype) || y.dtype != DType::kFloat32 ||
      a.rank() < 2 || b.rank() < 2 || y.rank() > 6 || a.numel() == 0 || b.numel() == 0) {
    return nullptr;
  }
  const int64_t k = a.shape.back(), n = b.shape.back();
  const TensorDesc& a_scale = ctx.input(kAScale);
  const TensorDesc& b_scale = ctx.input(kBScale);
  if (a_scale.dtype != DType::kFloat32 || a_scale.numel() != 1 ||
      b_scale.dtype != DType::kFloat32 || (b_scale.numel() != 1 && b_scale.shape != Shape{n})) {
    return nullptr;
  }
  // The zero points only: the scales are read at every run.
  const std::optional<OperandParams> params =
      read_operand_params(ctx, {kA, kNoScale, kAZeroPoint, kB, kNoScale, kBZeroPoint}, n);
  if (!params) return nullptr;
  QMatMulSpec spec = int32_sums_spec(*params, kA, kB);
  spec.runtime_scales = QMatMulSpec::RuntimeScales{kAScale, kBScale, b_scale.numel(), -1};
  // int32 sums into the float output's bytes (the same layout, four bytes an element).
  set_matmul_operands(spec, a, b, y, dt::s32);
  if (ctx.has_input(kBias)) {
    const TensorDesc& bias = ctx.input(kBias);
    if (bias.dtype != DType::kFloat32 || bias.shape != Shape{n}) return nullptr;
    spec.runtime_scales->bias = static_cast<int>(kBias);
  }
  // Eq. (61) per column of a constant [K, N] B; else for any B.
  const int8_t* columns = spec.constant_weights.empty() ? nullptr : spec.constant_weights.data();
  if (!int32_output_exact(columns, n, k, 1, n, params->b_zero_point)) return nullptr;
  return QMatMulKernel::make(spec);
}

std::unique_ptr<Kernel> make_qgemm(KernelContext& ctx) {
  if (!int8_products_exact()) return nullptr;
  enum : size_t { kA, kAScale, kAZeroPoint, kB, kBScale, kBZeroPoint, kC, kYScale, kYZeroPoint };
  const TensorDesc& a = ctx.input(kA);
  const TensorDesc& b = ctx.input(kB);
  const TensorDesc& y = ctx.outputs[0];
  const bool quantized = ctx.has_input(kYScale);
  if (!is_quant_type(a.dtype) || !is_quant_type(b.dtype) || a.rank() != 2 || b.rank() != 2 ||
      a.numel() == 0 || b.numel() == 0 || quantized != ctx.has_input(kYZeroPoint) ||
      y.dtype != (quantized ? ctx.input(kYZeroPoint).dtype : DType::kFloat32)) {
    return nullptr;
  }
  const GemmAttrs attrs = gemm_attrs(ctx.node);
  const int64_t m = a.shape[attrs.trans_a ? 1 : 0];
  const int64_t k = a.shape[attrs.trans_a ? 0 : 1];
  const int64_t n = b.shape[attrs.trans_b ? 0 : 1];
  if (b.shape[attrs.trans_b ? 1 : 0] != k) return nullptr;
  const std::optional<OperandParams> params =
      read_operand_params(ctx, {kA, kAScale, kAZeroPoint, kB, kBScale, kBZeroPoint}, n);
  if (!params) return nullptr;
  QMatMulSpec spec;
  Int8Requant& r = spec.requant;
  // Eq. (39): M[n] = ((alpha · s_a) · s_b[n]) / s_y, or (alpha · s_a) · s_b[n] for a float output.
  const float a_scale = attrs.alpha * params->a_scale;
  if (quantized) {
    if (!is_quant_type(y.dtype)) return nullptr;
    const QuantParamSource y_params(ctx, kYScale, kYZeroPoint, y.dtype);
    if (!y_params.known() || y_params.size() != 1) return nullptr;
    for (float b_scale : params->b_scales) {
      r.scales.push_back(requant_multiplier(a_scale, b_scale, y_params.params().scale(0)));
    }
    r.dst_zero_point = y_params.params().zero_point(0);
  } else {
    for (float b_scale : params->b_scales) r.scales.push_back(a_scale * b_scale);
  }
  r.src_zero_point = params->a_zero_point;
  r.weights_zero_point = params->b_zero_point;
  if (ctx.has_input(kC)) {
    // C as a bias: one value, or one per column; per-row C runs on the reference.
    const TensorDesc& c = ctx.input(kC);
    const bool row = c.rank() <= 1 || (c.rank() == 2 && c.shape[0] == 1);
    if (c.dtype != DType::kInt32 || c.constant == nullptr || !row ||
        (c.numel() != n && c.numel() != 1)) {
      return nullptr;
    }
    const auto values = c.constant->values<int32_t>();
    for (int64_t column = 0; column < n; ++column) {
      spec.bias.push_back(values[values.size() == 1 ? 0 : column]);
    }
  }
  spec.a_input = kA;
  spec.b_input = kB;
  spec.src = matrix_desc(m, k, attrs.trans_a, to_dnnl(a.dtype));
  spec.weights = matrix_desc(k, n, attrs.trans_b, dt::s8);
  spec.dst = matrix_desc(m, n, false, to_dnnl(y.dtype));
  if (b.constant != nullptr) {
    spec.constant_weights = s8_values(*b.constant);
  } else {
    spec.shift_b = b.dtype == DType::kUInt8;
  }
  return QMatMulKernel::make(spec);
}

}  // namespace quench::onednn
