// Shape-manipulation ops: Shape, Size, Identity, Dropout, Constant, ConstantOfShape, Range, and
// the helpers the other shape_ops_*.cc files share. The ops move bytes, so their kernels work on
// the element size and serve every fixed-size element type.
#include "ops/shape_ops.h"

#include "core/check.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/half.h"
#include "ir/shape_util.h"
#include "kernels/ref/ref_kernel.h"
#include "kernels/ref/shape_ops_copy.h"
#include "ops/op_registry.h"
#include "ops/register.h"

namespace quench {
namespace shape_ops {

std::optional<std::vector<int64_t>> constant_ints(const InferContext& ctx, size_t i) {
  if (!ctx.has_input(i)) return std::nullopt;
  const Tensor* t = ctx.constant(i);
  if (t == nullptr || dtype_info(t->dtype()).is_float || t->dtype() == DType::kBool) {
    return std::nullopt;
  }
  return t->to_int64_vector();
}

std::optional<std::vector<int64_t>> constant_ints(const KernelContext& ctx, size_t i) {
  if (!ctx.has_input(i)) return std::nullopt;
  const Tensor* t = ctx.inputs[i].constant;
  if (t == nullptr || dtype_info(t->dtype()).is_float || t->dtype() == DType::kBool) {
    return std::nullopt;
  }
  return t->to_int64_vector();
}

SymbolicShape unknown_dims(size_t rank) { return SymbolicShape(rank, Dim()); }

Dim dims_product(std::span<const Dim> dims) {
  int64_t known = 1;
  const Dim* symbolic_dim = nullptr;
  int unknown = 0;
  for (const Dim& d : dims) {
    if (d.known()) {
      known *= d.value;
    } else {
      ++unknown;
      symbolic_dim = &d;
    }
  }
  if (unknown == 0) return Dim(known);
  if (known == 0) return Dim(int64_t{0});
  if (unknown == 1 && known == 1) return *symbolic_dim;
  return Dim();
}

size_t element_bytes(const KernelContext& ctx, DType dtype) {
  const size_t bytes = dtype_size(dtype);
  if (bytes != 1 && bytes != 2 && bytes != 4 && bytes != 8) {
    ctx.fail(ErrorKind::kUnsupported, "elements of type {} are not supported", dtype_name(dtype));
  }
  return bytes;
}

Tensor scalar_of_type(double value, DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return Tensor::scalar(static_cast<float>(value));
    case DType::kFloat64:
      return Tensor::scalar(value);
    case DType::kInt8:
      return Tensor::scalar(static_cast<int8_t>(value));
    case DType::kUInt8:
      return Tensor::scalar(static_cast<uint8_t>(value));
    case DType::kInt16:
      return Tensor::scalar(static_cast<int16_t>(value));
    case DType::kUInt16:
      return Tensor::scalar(static_cast<uint16_t>(value));
    case DType::kInt32:
      return Tensor::scalar(static_cast<int32_t>(value));
    case DType::kUInt32:
      return Tensor::scalar(static_cast<uint32_t>(value));
    case DType::kInt64:
      return Tensor::scalar(static_cast<int64_t>(value));
    case DType::kUInt64:
      return Tensor::scalar(static_cast<uint64_t>(value));
    case DType::kBool:
      return Tensor::scalar(value != 0);
    case DType::kFloat16:
    case DType::kBFloat16: {
      Tensor t = Tensor::empty(dtype, {});
      const float f = static_cast<float>(value);
      *static_cast<uint16_t*>(t.raw_data()) =
          dtype == DType::kFloat16 ? float_to_half(f) : float_to_bfloat16(f);
      return t;
    }
    default:
      fail(ErrorKind::kUnsupported, "no scalar of type {}", dtype_name(dtype));
  }
}

int64_t load_int(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::kInt8:
      return static_cast<const int8_t*>(data)[i];
    case DType::kUInt8:
      return static_cast<const uint8_t*>(data)[i];
    case DType::kInt16:
      return static_cast<const int16_t*>(data)[i];
    case DType::kUInt16:
      return static_cast<const uint16_t*>(data)[i];
    case DType::kInt32:
      return static_cast<const int32_t*>(data)[i];
    case DType::kUInt32:
      return static_cast<const uint32_t*>(data)[i];
    case DType::kInt64:
      return static_cast<const int64_t*>(data)[i];
    case DType::kUInt64:
      return static_cast<int64_t>(static_cast<const uint64_t*>(data)[i]);
    case DType::kBool:
      return static_cast<const uint8_t*>(data)[i] != 0;
    default:
      fail(ErrorKind::kUnsupported, "cannot read {} as an integer", dtype_name(dtype));
  }
}

double load_double(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::kFloat32:
      return static_cast<const float*>(data)[i];
    case DType::kFloat64:
      return static_cast<const double*>(data)[i];
    case DType::kFloat16:
      return half_to_float(static_cast<const uint16_t*>(data)[i]);
    case DType::kBFloat16:
      return bfloat16_to_float(static_cast<const uint16_t*>(data)[i]);
    default:
      return static_cast<double>(load_int(data, dtype, i));
  }
}

bool has_duplicates(std::vector<int64_t> values) {
  std::sort(values.begin(), values.end());
  return std::adjacent_find(values.begin(), values.end()) != values.end();
}

}  // namespace shape_ops

namespace {

using namespace shape_ops;

// Shape (opset 15 adds start/end, clamped into [0, rank]).
std::pair<int64_t, int64_t> shape_range(const Node& node, int64_t rank) {
  auto clamp = [rank](int64_t v) {
    if (v < 0) v += rank;
    return std::clamp<int64_t>(v, 0, rank);
  };
  const int64_t start = clamp(node.attr_int("start", 0));
  const int64_t end = clamp(node.attr_int("end", rank));
  return {start, std::max(start, end)};
}

void infer_shape(InferContext& ctx) {
  ctx.set_output_type(0, DType::kInt64);
  const SymbolicShape* s = ctx.input_shape(0);
  if (s == nullptr) return;
  auto [start, end] = shape_range(ctx.node(), static_cast<int64_t>(s->size()));
  ctx.output(0).shape = SymbolicShape{Dim(end - start)};
}

std::unique_ptr<Kernel> ref_shape(KernelContext& ctx) {
  const Tensor value = evaluate_shape_op(ctx.node, ctx.input(0).shape);
  return ref::make_kernel([value](const KernelArgs& a) {
    std::memcpy(a.outputs[0], value.raw_data(), value.nbytes());
  });
}

void infer_size(InferContext& ctx) { ctx.set_output(0, DType::kInt64, {}); }

std::unique_ptr<Kernel> ref_size(KernelContext& ctx) {
  const int64_t count = ctx.input(0).numel();
  return ref::make_kernel([count](const KernelArgs& a) { *ref::out<int64_t>(a, 0) = count; });
}

void infer_identity(InferContext& ctx) { ctx.output(0) = ctx.input(0); }

std::unique_ptr<Kernel> ref_identity(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  return ref::make_inplace_copy_kernel(static_cast<size_t>(x.numel()) *
                                       element_bytes(ctx, x.dtype));
}

// Dropout at inference is a copy; its mask output keeps every element (all true; before opset 10
// the mask has the data's type and holds ones). Training mode with a nonzero ratio drops elements
// at random, which quench does not do.
constexpr float kDefaultDropoutRatio = 0.5f;

void infer_dropout(InferContext& ctx) {
  const ValueInfo& x = ctx.input(0);
  ctx.output(0) = ValueInfo{x.dtype, x.shape, ""};
  if (ctx.num_outputs() > 1) {
    ctx.output(1) = ValueInfo{ctx.opset() >= 10 ? DType::kBool : x.dtype, x.shape, ""};
  }
}

std::unique_ptr<Kernel> ref_dropout(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  const size_t bytes = static_cast<size_t>(x.numel()) * element_bytes(ctx, x.dtype);
  const bool has_mask = ctx.outputs.size() > 1 && ctx.outputs[1].present();
  Tensor one;
  if (has_mask) one = scalar_of_type(1.0, ctx.outputs[1].dtype);
  const int64_t mask_count = has_mask ? ctx.outputs[1].numel() : 0;

  // Opset 12 turned ratio and training_mode into inputs; training_mode may be known only at run
  // time, so the kernel checks it there.
  const bool training_input = ctx.opset >= 12 && ctx.has_input(2);
  const DType ratio_type =
      ctx.opset >= 12 && ctx.has_input(1) ? ctx.inputs[1].dtype : DType::kUndefined;
  for (size_t i : {1, 2}) {
    if (ctx.opset >= 12 && ctx.has_input(i) && ctx.inputs[i].numel() != 1) {
      ctx.fail(ErrorKind::kInvalidModel, "input {} must be a scalar, got shape {}", i,
               shape_str(ctx.inputs[i].shape));
    }
  }
  auto unsupported = [](bool training, double ratio) { return training && ratio != 0; };
  if (training_input && ctx.inputs[2].constant != nullptr &&
      (ratio_type == DType::kUndefined || ctx.inputs[1].constant != nullptr)) {
    const bool training = ctx.inputs[2].constant->to_int64_vector().at(0) != 0;
    const double ratio = ratio_type == DType::kUndefined
                             ? kDefaultDropoutRatio
                             : ctx.inputs[1].constant->to_double_vector().at(0);
    if (unsupported(training, ratio)) {
      ctx.fail(ErrorKind::kUnsupported,
               "training mode with ratio {} (random dropout) is not supported; only inference",
               ratio);
    }
  }
  const std::string where = ctx.node.describe();
  return ref::make_kernel(
      [=](const KernelArgs& a) {
        if (training_input && a.inputs[2] != nullptr) {
          const bool training = *static_cast<const uint8_t*>(a.inputs[2]) != 0;
          const double ratio = ratio_type == DType::kUndefined
                                   ? kDefaultDropoutRatio
                                   : load_double(a.inputs[1], ratio_type, 0);
          if (unsupported(training, ratio)) {
            fail(ErrorKind::kUnsupported,
                 "{}: training mode with ratio {} (random dropout) is not supported; only "
                 "inference",
                 where, ratio);
          }
        }
        if (a.outputs[0] != a.inputs[0] && bytes != 0) {
          std::memcpy(a.outputs[0], a.inputs[0], bytes);
        }
        if (has_mask && a.outputs[1] != nullptr) {
          char* mask = static_cast<char*>(a.outputs[1]);
          const size_t step = one.nbytes();
          for (int64_t i = 0; i < mask_count; ++i)
            std::memcpy(mask + i * step, one.raw_data(), step);
        }
      },
      0, 0);
}

// Constant: exactly one of value, value_float(s), value_int(s). String and sparse constants are
// not supported.
Tensor constant_tensor(const Node& node) {
  for (const char* name : {"sparse_value", "value_string", "value_strings"}) {
    QUENCH_CHECK(!node.has_attr(name), ErrorKind::kUnsupported,
                 "{}: attribute '{}' is not supported (string and sparse constants)",
                 node.describe(), name);
  }
  int given = 0;
  for (const char* name : {"value", "value_float", "value_floats", "value_int", "value_ints"}) {
    given += node.has_attr(name);
  }
  QUENCH_CHECK(given == 1, ErrorKind::kInvalidModel,
               "{}: expected exactly one of the attributes value, value_float, value_floats, "
               "value_int, value_ints; got {}",
               node.describe(), given);
  if (node.has_attr("value_float")) return Tensor::scalar(node.attr_float("value_float", 0));
  if (node.has_attr("value_int")) return Tensor::scalar<int64_t>(node.attr_int("value_int", 0));
  if (node.has_attr("value_floats")) {
    auto v = node.attr_floats("value_floats");
    return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
  }
  if (node.has_attr("value_ints")) {
    auto v = node.attr_ints("value_ints");
    return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
  }
  return *node.attr_tensor("value");
}

void infer_constant(InferContext& ctx) {
  const Tensor t = constant_tensor(ctx.node());
  ctx.set_output(0, t.dtype(), symbolic(t.shape()));
}

std::unique_ptr<Kernel> ref_constant(KernelContext& ctx) {
  const Tensor value = constant_tensor(ctx.node);
  return ref::make_kernel([value](const KernelArgs& a) {
    if (value.nbytes()) std::memcpy(a.outputs[0], value.raw_data(), value.nbytes());
  });
}

// ConstantOfShape: the 'value' attribute (one element, default float 0) repeated over the shape
// given by the int64 input; an empty shape gives a scalar.
Tensor fill_value(const Node& node) {
  const Tensor* value = node.attr_tensor("value");
  if (value == nullptr) return Tensor::scalar(0.f);
  QUENCH_CHECK(value->numel() == 1, ErrorKind::kInvalidModel,
               "{}: attribute 'value' must hold one element, got shape {}", node.describe(),
               shape_str(value->shape()));
  return *value;
}

void infer_constant_of_shape(InferContext& ctx) {
  const Tensor value = fill_value(ctx.node());
  ctx.set_output_type(0, value.dtype());
  const DType shape_type = ctx.input_type(0);
  if (shape_type != DType::kUndefined && shape_type != DType::kInt64) {
    ctx.fail("the shape input must be int64, got {}", dtype_name(shape_type));
  }
  if (auto dims = constant_ints(ctx, 0)) {
    for (int64_t d : *dims) {
      if (d < 0) ctx.fail("the shape {} has a negative dimension", shape_str(*dims));
    }
    ctx.output(0).shape = symbolic(*dims);
    return;
  }
  const SymbolicShape* s = ctx.input_shape(0);
  if (s != nullptr && s->size() == 1 && (*s)[0].known()) {
    ctx.output(0).shape = unknown_dims(static_cast<size_t>((*s)[0].value));
  }
}

std::unique_ptr<Kernel> ref_constant_of_shape(KernelContext& ctx) {
  const Tensor value = fill_value(ctx.node);
  const int64_t count = ctx.outputs[0].numel();
  std::unique_ptr<Kernel> kernel;
  ref::with_element_type(element_bytes(ctx, value.dtype()), [&]<class T>() {
    T bits;
    std::memcpy(&bits, value.raw_data(), sizeof(T));
    kernel = ref::make_kernel([bits, count](const KernelArgs& a) {
      T* y = ref::out<T>(a, 0);
      for (int64_t i = 0; i < count; ++i) y[i] = bits;
    });
  });
  return kernel;
}

// Range: start + i * delta for i in [0, max(ceil((limit - start) / delta), 0)).
bool is_range_type(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kInt16 || t == DType::kInt32 ||
         t == DType::kInt64;
}

// Above this many elements a Range is surely a mistake; the bound keeps the count in int64.
constexpr int64_t kMaxRangeCount = int64_t{1} << 40;

// The element count, or -1 when delta is 0 or the count exceeds kMaxRangeCount.
int64_t range_count(const void* start, const void* limit, const void* delta, DType dtype) {
  if (dtype_info(dtype).is_float) {
    const double s = load_double(start, dtype, 0), l = load_double(limit, dtype, 0);
    const double d = load_double(delta, dtype, 0);
    if (d == 0) return -1;
    const double n = std::max(std::ceil((l - s) / d), 0.0);
    return n > static_cast<double>(kMaxRangeCount) ? -1 : static_cast<int64_t>(n);
  }
  // Integer ranges are counted exactly; 128 bits hold limit - start for any int64 values.
  const __int128 s = load_int(start, dtype, 0), l = load_int(limit, dtype, 0);
  const __int128 d = load_int(delta, dtype, 0);
  if (d == 0) return -1;
  const __int128 span = l - s;
  __int128 n = span / d;
  if (span % d != 0 && (span > 0) == (d > 0)) ++n;
  n = std::max<__int128>(n, 0);
  return n > kMaxRangeCount ? -1 : static_cast<int64_t>(n);
}

void infer_range(InferContext& ctx) {
  const DType dtype = ctx.input_type(0);
  for (size_t i = 1; i < 3; ++i) {
    if (ctx.input_type(i) != dtype) {
      ctx.fail("start, limit and delta must have one type; got {} and {}", dtype_name(dtype),
               dtype_name(ctx.input_type(i)));
    }
  }
  if (dtype != DType::kUndefined && !is_range_type(dtype)) {
    ctx.fail("type {} is not one of float, double, int16, int32, int64", dtype_name(dtype));
  }
  ctx.set_output(0, dtype, {Dim()});
  for (size_t i = 0; i < 3; ++i) {
    const SymbolicShape* s = ctx.input_shape(i);
    if (s != nullptr && !s->empty())
      ctx.fail("input {} must be a scalar, got shape {}", i, shape_str(*s));
  }
  const Tensor *start = ctx.constant(0), *limit = ctx.constant(1), *delta = ctx.constant(2);
  if (start == nullptr || limit == nullptr || delta == nullptr) return;
  const int64_t n = range_count(start->raw_data(), limit->raw_data(), delta->raw_data(), dtype);
  if (n < 0) {
    ctx.fail("delta is 0 or the range has more than {} elements", kMaxRangeCount);
  }
  ctx.output(0).shape = SymbolicShape{Dim(n)};
}

std::unique_ptr<Kernel> ref_range(KernelContext& ctx) {
  const DType dtype = ctx.input(0).dtype;
  if (!is_range_type(dtype)) {
    ctx.fail(ErrorKind::kUnsupported, "Range of type {} is not supported", dtype_name(dtype));
  }
  const int64_t count = ctx.outputs[0].numel();
  const std::string where = ctx.node.describe();
  std::unique_ptr<Kernel> kernel;
  auto make = [&]<class T>() {
    kernel = ref::make_kernel([=](const KernelArgs& a) {
      // The count was planned from the inputs' values when they were known, else from the
      // declared output shape: the values given now must agree.
      const int64_t got = range_count(a.inputs[0], a.inputs[1], a.inputs[2], dtype);
      if (got != count) {
        fail(ErrorKind::kInvalidArgument,
             "{}: start, limit and delta give {} elements, but the output was planned with {}",
             where, got, count);
      }
      const T start = *ref::in<T>(a, 0), delta = *ref::in<T>(a, 2);
      T* y = ref::out<T>(a, 0);
      for (int64_t i = 0; i < count; ++i) {
        // Integers step in int64, where start + i * delta cannot overflow: it lies in the range.
        if constexpr (std::is_integral_v<T>) {
          y[i] = static_cast<T>(static_cast<int64_t>(start) + i * static_cast<int64_t>(delta));
        } else {
          y[i] = start + static_cast<T>(i) * delta;
        }
      }
    });
  };
  switch (dtype) {
    case DType::kFloat32:
      make.operator()<float>();
      break;
    case DType::kFloat64:
      make.operator()<double>();
      break;
    case DType::kInt16:
      make.operator()<int16_t>();
      break;
    case DType::kInt32:
      make.operator()<int32_t>();
      break;
    default:
      make.operator()<int64_t>();
      break;
  }
  return kernel;
}

}  // namespace

Tensor evaluate_shape_op(const Node& node, const Shape& input) {
  auto [start, end] = shape_range(node, static_cast<int64_t>(input.size()));
  std::vector<int64_t> dims(input.begin() + start, input.begin() + end);
  return Tensor::from_vector<int64_t>({end - start}, dims);
}

void register_shape_ops(OpRegistry& r) {
  r.add({"", "Shape", 1, infer_shape, ref_shape, {}});
  r.add({"", "Size", 1, infer_size, ref_size, {}});
  r.add({"", "Identity", 1, infer_identity, ref_identity, {}});
  r.add({"", "Dropout", 7, infer_dropout, ref_dropout, {}});
  r.add({"", "Constant", 1, infer_constant, ref_constant, {}});
  r.add({"", "ConstantOfShape", 9, infer_constant_of_shape, ref_constant_of_shape, {}});
  r.add({"", "Range", 11, infer_range, ref_range, {}});
  shape_ops::register_reshape_ops(r);
  shape_ops::register_layout_ops(r);
  shape_ops::register_slice_ops(r);
  shape_ops::register_concat_ops(r);
  shape_ops::register_gather_ops(r);
}

const std::set<std::string>& element_moving_ops() {
  static const std::set<std::string> ops = {"Reshape",   "Flatten",  "Transpose", "Squeeze",
                                            "Unsqueeze", "Identity", "Concat",    "Slice",
                                            "Split",     "Gather"};
  return ops;
}

}  // namespace quench
