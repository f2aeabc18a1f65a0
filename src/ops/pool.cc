// MaxPool, AveragePool, LpPool and their global variants: shape inference and the reference
// kernels of kernels/ref/pool.h. Opsets 1-17: attributes added over time (count_include_pad in 7,
// the Indices output and storage_order in 8, ceil_mode and MaxPool dilations in 10, an integer p
// in LpPool 2) default to the older behaviour when absent. Later additions (LpPool ceil_mode and
// dilations in 18, AveragePool dilations in 19) are honoured when present.
#include "ops/pool.h"
#include "core/check.h"

#include "kernels/ref/ref_kernel.h"
#include "ops/conv.h"
#include "ops/op_registry.h"
#include "ops/register.h"

namespace quench {
namespace {

// The window of a pooling node over an input of shape `x`, checked against it.
WindowParams pool_window(const Node& node, const SymbolicShape& x) {
  check_window_input_rank(node, "X", x);
  const std::vector<int64_t> kernel = node.require_ints("kernel_shape");
  if (kernel.size() != x.size() - 2) {
    fail_node(node,
              "attribute 'kernel_shape' has {} values, expected {} (one per spatial dim of X)",
              kernel.size(), x.size() - 2);
  }
  const std::vector<int64_t> in = spatial_sizes(x);
  const WindowParams p = parse_window(node, in, kernel);
  check_window_fits(node, p, in);
  return p;
}

bool column_major_indices(const Node& node) {
  const int64_t storage_order = node.attr_int("storage_order", 0);
  if (storage_order != 0 && storage_order != 1) {
    fail_node(node, "attribute 'storage_order' must be 0 (row major) or 1 (column major), got {}",
              storage_order);
  }
  return storage_order == 1;
}

// LpPool's p: a float attribute in opset 1, an integer from opset 2.
double lp_power(const Node& node, int64_t opset) {
  const double p =
      opset < 2 ? node.attr_float("p", 2.f) : static_cast<double>(node.attr_int("p", 2));
  if (!(p > 0)) fail_node(node, "attribute 'p' must be positive, got {}", p);
  return p;
}

void infer_pool(InferContext& ctx) {
  const bool is_max = ctx.node().op_type == "MaxPool";
  const size_t max_outputs = is_max ? 2 : 1;
  if (ctx.num_outputs() > max_outputs) {
    ctx.fail("has {} outputs, expected at most {}", ctx.num_outputs(), max_outputs);
  }
  ctx.set_output_type(0, ctx.input_type(0));
  const bool has_indices = ctx.num_outputs() > 1;
  if (has_indices) ctx.set_output_type(1, DType::kInt64);
  if (is_max) column_major_indices(ctx.node());
  if (ctx.node().op_type == "LpPool") lp_power(ctx.node(), ctx.opset());
  const SymbolicShape* x = ctx.input_shape(0);
  if (x == nullptr) return;
  const WindowParams p = pool_window(ctx.node(), *x);
  SymbolicShape out = window_output_shape(p, *x, (*x)[1]);
  if (has_indices) ctx.output(1).shape = out;
  ctx.output(0).shape = std::move(out);
}

void infer_global_pool(InferContext& ctx) {
  ctx.set_output_type(0, ctx.input_type(0));
  const SymbolicShape* x = ctx.input_shape(0);
  if (x == nullptr) return;
  check_window_input_rank(ctx.node(), "X", *x);
  SymbolicShape out(x->size(), Dim(1));
  out[0] = (*x)[0];
  out[1] = (*x)[1];
  ctx.output(0).shape = std::move(out);
}

// The geometry of a pooling node, checked against the planned output shapes.
ref::PoolGeometry planned_pool_geometry(const KernelContext& ctx) {
  const Shape& x = ctx.input(0).shape;
  ref::PoolGeometry g = pool_geometry(ctx.node, x);
  for (size_t i = 0; i < ctx.outputs.size(); ++i) {
    if (ctx.outputs[i].present()) check_planned_output(ctx, i, {x[0], x[1]}, g.out_size);
  }
  return g;
}

[[noreturn]] void fail_dtype(const KernelContext& ctx, const char* supported) {
  ctx.fail(ErrorKind::kUnsupported, "the reference kernel supports {} inputs, got {}", supported,
           dtype_name(ctx.input(0).dtype));
}

template <class T>
std::unique_ptr<Kernel> make_max_pool(ref::PoolGeometry g, bool indices, bool column_major) {
  return ref::make_kernel([g = std::move(g), indices, column_major](const KernelArgs& a) {
    ref::max_pool<T>(g, ref::in<T>(a, 0), ref::out<T>(a, 0),
                     indices ? ref::out<int64_t>(a, 1) : nullptr, column_major);
  });
}

std::unique_ptr<Kernel> ref_max_pool(KernelContext& ctx) {
  ref::PoolGeometry g = planned_pool_geometry(ctx);
  const bool indices = ctx.outputs.size() > 1 && ctx.outputs[1].present();
  const bool column_major = column_major_indices(ctx.node);
  switch (ctx.input(0).dtype) {
    case DType::kFloat32:
      return make_max_pool<float>(std::move(g), indices, column_major);
    case DType::kFloat64:
      return make_max_pool<double>(std::move(g), indices, column_major);
    case DType::kInt8:
      return make_max_pool<int8_t>(std::move(g), indices, column_major);
    case DType::kUInt8:
      return make_max_pool<uint8_t>(std::move(g), indices, column_major);
    default:
      fail_dtype(ctx, "float, double, int8 and uint8");
  }
}

template <class T>
std::unique_ptr<Kernel> make_average_pool(ref::PoolGeometry g, bool count_include_pad) {
  return ref::make_kernel([g = std::move(g), count_include_pad](const KernelArgs& a) {
    ref::average_pool<T>(g, ref::in<T>(a, 0), ref::out<T>(a, 0), count_include_pad);
  });
}

std::unique_ptr<Kernel> ref_average_pool(KernelContext& ctx) {
  ref::PoolGeometry g = planned_pool_geometry(ctx);
  const bool count_include_pad = ctx.node.attr_int("count_include_pad", 0) != 0;
  switch (ctx.input(0).dtype) {
    case DType::kFloat32:
      return make_average_pool<float>(std::move(g), count_include_pad);
    case DType::kFloat64:
      return make_average_pool<double>(std::move(g), count_include_pad);
    default:
      fail_dtype(ctx, "float and double");
  }
}

template <class T>
std::unique_ptr<Kernel> make_lp_pool(ref::PoolGeometry g, double p) {
  return ref::make_kernel([g = std::move(g), p](const KernelArgs& a) {
    ref::lp_pool<T>(g, ref::in<T>(a, 0), ref::out<T>(a, 0), p);
  });
}

std::unique_ptr<Kernel> ref_lp_pool(KernelContext& ctx) {
  ref::PoolGeometry g = planned_pool_geometry(ctx);
  const double p = lp_power(ctx.node, ctx.opset);
  switch (ctx.input(0).dtype) {
    case DType::kFloat32:
      return make_lp_pool<float>(std::move(g), p);
    case DType::kFloat64:
      return make_lp_pool<double>(std::move(g), p);
    default:
      fail_dtype(ctx, "float and double");
  }
}

// [N * C planes, elements per plane] of a global pool's input.
std::pair<int64_t, int64_t> global_planes(const KernelContext& ctx) {
  const Shape& x = ctx.input(0).shape;
  check_window_input_rank(ctx.node, "X", symbolic(x));
  check_planned_output(ctx, 0, {x[0], x[1]}, std::vector<int64_t>(x.size() - 2, 1));
  return {x[0] * x[1], shape_numel(std::span(x).subspan(2))};
}

template <class T>
std::unique_ptr<Kernel> make_global_pool(const KernelContext& ctx) {
  // The lambdas capture copies by name (planes = planes): clang before 16 cannot capture a
  // structured binding itself.
  const auto [planes, plane_size] = global_planes(ctx);
  const std::string& op = ctx.node.op_type;
  if (op == "GlobalAveragePool") {
    return ref::make_kernel([planes = planes, plane_size = plane_size](const KernelArgs& a) {
      ref::global_average_pool<T>(planes, plane_size, ref::in<T>(a, 0), ref::out<T>(a, 0));
    });
  }
  if (op == "GlobalMaxPool") {
    return ref::make_kernel([planes = planes, plane_size = plane_size](const KernelArgs& a) {
      ref::global_max_pool<T>(planes, plane_size, ref::in<T>(a, 0), ref::out<T>(a, 0));
    });
  }
  const double p = lp_power(ctx.node, ctx.opset);
  return ref::make_kernel([planes = planes, plane_size = plane_size, p](const KernelArgs& a) {
    ref::global_lp_pool<T>(planes, plane_size, ref::in<T>(a, 0), ref::out<T>(a, 0), p);
  });
}

std::unique_ptr<Kernel> ref_global_pool(KernelContext& ctx) {
  switch (ctx.input(0).dtype) {
    case DType::kFloat32:
      return make_global_pool<float>(ctx);
    case DType::kFloat64:
      return make_global_pool<double>(ctx);
    default:
      fail_dtype(ctx, "float and double");
  }
}

}  // namespace

ref::PoolGeometry pool_geometry(const Node& node, const Shape& x) {
  const WindowParams p = pool_window(node, symbolic(x));
  if (p.spatial_rank() > ref::kMaxSpatialRank) {
    fail(ErrorKind::kUnsupported, "{}: {} spatial dims; the reference kernel handles up to {}",
         node.describe(), p.spatial_rank(), ref::kMaxSpatialRank);
  }
  ref::PoolGeometry g;
  g.planes = x[0] * x[1];
  g.in_size.assign(x.begin() + 2, x.end());
  for (int i = 0; i < p.spatial_rank(); ++i) g.out_size.push_back(p.output_size(i, g.in_size[i]));
  g.kernel = p.kernel;
  g.strides = p.strides;
  g.dilations = p.dilations;
  g.pads_begin = p.pads_begin;
  g.pads_end = p.pads_end;
  return g;
}

void register_pool_ops(OpRegistry& r) {
  r.add({"", "MaxPool", 1, infer_pool, ref_max_pool, {}});
  r.add({"", "AveragePool", 1, infer_pool, ref_average_pool, {}});
  r.add({"", "LpPool", 1, infer_pool, ref_lp_pool, {}});
  r.add({"", "GlobalAveragePool", 1, infer_global_pool, ref_global_pool, {}});
  r.add({"", "GlobalMaxPool", 1, infer_global_pool, ref_global_pool, {}});
  r.add({"", "GlobalLpPool", 1, infer_global_pool, ref_global_pool, {}});
}

}  // namespace quench
