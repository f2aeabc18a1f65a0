#include "ops/quantized/params.h"

#include <cmath>

#include "core/check.h"
#include "ops/conv.h"

namespace quench {

bool is_quant_type(DType t, bool allow_int32) {
  return t == DType::kUInt8 || t == DType::kInt8 || (allow_int32 && t == DType::kInt32);
}

int32_t zero_point_at(const void* data, DType type, int64_t index) {
  switch (type) {
    case DType::kUInt8:
      return static_cast<const uint8_t*>(data)[index];
    case DType::kInt8:
      return static_cast<const int8_t*>(data)[index];
    case DType::kInt32:
      return static_cast<const int32_t*>(data)[index];
    default:
      fail(ErrorKind::kInternal, "zero points of type {} are not supported", dtype_name(type));
  }
}

namespace {

// Elements of a shape when all dims are known, else -1.
int64_t known_numel(const SymbolicShape& shape) {
  int64_t n = 1;
  for (const Dim& d : shape) {
    if (!d.known()) return -1;
    n *= d.value;
  }
  return n;
}

void check_one_shape(const Node& node, std::string_view what, const SymbolicShape& shape,
                     const Dim* axis_size) {
  const int64_t n = known_numel(shape);
  if (axis_size == nullptr) {
    if (shape.size() > 1 || (n >= 0 && n != 1)) {
      fail_node(node, "{} has shape {}, expected a scalar (per-tensor quantization)", what,
                shape_str(shape));
    }
    return;
  }
  if (shape.size() > 1) {
    fail_node(node, "{} has shape {}, expected a scalar or a 1-D tensor (per-axis quantization)",
              what, shape_str(shape));
  }
  if (shape.size() == 1 && n > 1 && axis_size->known() && n != axis_size->value) {
    fail_node(node, "{} has {} values, expected {} (one per index along the quantized axis)", what,
              n, axis_size->value);
  }
}

}  // namespace

void check_quant_param_shapes(const Node& node, std::string_view what, const SymbolicShape* scale,
                              const SymbolicShape* zero_point, const Dim* axis_size) {
  if (scale) check_one_shape(node, fmt::format("{} scale", what), *scale, axis_size);
  if (zero_point) check_one_shape(node, fmt::format("{} zero point", what), *zero_point, axis_size);
  // The zero point must have the scale's shape; a scalar and a one-element list both mean per
  // tensor.
  if (scale && zero_point) {
    const int64_t scales = known_numel(*scale), zero_points = known_numel(*zero_point);
    if (scales >= 0 && zero_points >= 0 && scales != zero_points) {
      fail_node(node, "{} zero point has shape {} but its scale has shape {}", what,
                shape_str(*zero_point), shape_str(*scale));
    }
  }
}

void check_quant_scales(const Node& node, const Tensor& scale) {
  const auto scales = scale.values<float>();
  for (size_t i = 0; i < scales.size(); ++i) {
    if (!(scales[i] > 0.f) || !std::isfinite(scales[i])) {
      fail_node(node, "scale {} at index {}; expected a finite positive number", scales[i], i);
    }
  }
}

QuantParams read_quant_params(const Tensor& scale, const Tensor* zero_point, DType type,
                              int64_t axis) {
  QuantParams p;
  p.type = type;
  p.axis = axis;
  const auto scales = scale.values<float>();
  p.scales.assign(scales.begin(), scales.end());
  p.zero_points.assign(p.scales.size(), 0);
  if (zero_point != nullptr) {
    p.zero_points.resize(static_cast<size_t>(zero_point->numel()));
    for (int64_t i = 0; i < zero_point->numel(); ++i) {
      p.zero_points[i] = zero_point_at(zero_point->raw_data(), zero_point->dtype(), i);
    }
  }
  return p;
}

QuantParamSource::QuantParamSource(const KernelContext& ctx, size_t scale_input,
                                   size_t zero_point_input, DType type)
    : scale_input_(scale_input), zero_point_type_(type) {
  const bool has_scale = scale_input != kNoScale;
  const Tensor* scale_value = nullptr;
  if (has_scale) {
    const TensorDesc& scale = ctx.input(scale_input);
    if (scale.dtype != DType::kFloat32) {
      ctx.fail(ErrorKind::kInvalidModel, "input {} (a scale) is {}, expected float", scale_input,
               dtype_name(scale.dtype));
    }
    scale_count_ = scale.numel();
    scale_value = scale.constant;
  }
  const bool has_zero_point = ctx.has_input(zero_point_input);
  const Tensor* zero_point_value = nullptr;
  if (has_zero_point) {
    const TensorDesc& zp = ctx.inputs[zero_point_input];
    if (zp.dtype != type) {
      ctx.fail(ErrorKind::kInvalidModel, "input {} (a zero point) is {}, expected {}",
               zero_point_input, dtype_name(zp.dtype), dtype_name(type));
    }
    zero_point_count_ = zp.numel();
    zero_point_value = zp.constant;
    zero_point_input_ = static_cast<int>(zero_point_input);
  }
  if (scale_count_ != zero_point_count_ && scale_count_ != 1 && zero_point_count_ != 1) {
    ctx.fail(ErrorKind::kInvalidModel, "a zero point has {} values but its scale has {}",
             zero_point_count_, scale_count_);
  }
  size_ = std::max(scale_count_, zero_point_count_);
  known_ =
      (!has_scale || scale_value != nullptr) && (!has_zero_point || zero_point_value != nullptr);
  if (scale_value != nullptr) check_quant_scales(ctx.node, *scale_value);
  if (known_) {
    const Tensor one = Tensor::scalar(1.f);
    params_ = read_quant_params(has_scale ? *scale_value : one, zero_point_value, type, -1);
  }
}

int32_t QuantParamSource::zero_point(const KernelArgs& args, int64_t index) const {
  if (known_) return params_.zero_point(index);
  if (zero_point_input_ < 0) return 0;
  const void* data = args.inputs[zero_point_input_];
  // A single zero point applies to every index.
  return zero_point_at(data, zero_point_type_, zero_point_count_ == 1 ? 0 : index);
}

}  // namespace quench
