// Ops whose output is a strided view of their input: Transpose, DepthToSpace, SpaceToDepth,
// Expand, Tile. Each factory describes the view; one copy kernel serves them all.
#include <numeric>

#include "core/check.h"
#include "ir/shape_util.h"
#include "kernels/ref/shape_ops_copy.h"
#include "ops/op_registry.h"
#include "ops/shape_ops.h"

namespace quench::shape_ops {
namespace {

std::unique_ptr<Kernel> view_kernel(KernelContext& ctx, ref::StridedView view) {
  auto kernel = ref::make_view_kernel(element_bytes(ctx, ctx.input(0).dtype), std::move(view));
  if (!kernel) ctx.fail(ErrorKind::kUnsupported, "element type has no copy kernel");
  return kernel;
}

// Transpose: output dim i is input dim perm[i]; perm defaults to the reversed dims.
std::vector<int64_t> transpose_perm(const Node& node, size_t rank) {
  std::vector<int64_t> reversed(rank);
  std::iota(reversed.rbegin(), reversed.rend(), 0);
  std::vector<int64_t> perm = node.attr_ints("perm", reversed);
  std::vector<bool> seen(rank, false);
  bool valid = perm.size() == rank;
  for (int64_t p : perm) {
    valid = valid && p >= 0 && p < static_cast<int64_t>(rank) && !seen[p];
    if (valid) seen[p] = true;
  }
  QUENCH_CHECK(valid, ErrorKind::kInvalidModel, "{}: perm {} is not a permutation of {} axes",
               node.describe(), shape_str(perm), rank);
  return perm;
}

void infer_transpose(InferContext& ctx) {
  ctx.set_output_type(0, ctx.input_type(0));
  const SymbolicShape* s = ctx.input_shape(0);
  if (s == nullptr) return;
  SymbolicShape out;
  for (int64_t p : transpose_perm(ctx.node(), s->size())) out.push_back((*s)[p]);
  ctx.output(0).shape = std::move(out);
}

std::unique_ptr<Kernel> ref_transpose(KernelContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  const Shape in_strides = strides_of(in);
  ref::StridedView view;
  for (int64_t p : transpose_perm(ctx.node, in.size())) {
    view.shape.push_back(in[p]);
    view.strides.push_back(in_strides[p]);
  }
  return view_kernel(ctx, std::move(view));
}

// DepthToSpace / SpaceToDepth move blocksize x blocksize blocks between channels and space.
// DCR (the default) orders the depth as (block_y, block_x, channel), CRD as (channel, block_y,
// block_x); SpaceToDepth always uses DCR.
struct BlockParams {
  int64_t block;
  bool crd;
};

BlockParams block_params(const Node& node, int64_t opset, bool depth_to_space) {
  const int64_t block = node.require_int("blocksize");
  QUENCH_CHECK(block > 0, ErrorKind::kInvalidModel, "{}: blocksize must be positive, got {}",
               node.describe(), block);
  const std::string mode = depth_to_space && opset >= 11 ? node.attr_string("mode", "DCR") : "DCR";
  QUENCH_CHECK(mode == "DCR" || mode == "CRD", ErrorKind::kInvalidModel,
               "{}: mode must be DCR or CRD, got '{}'", node.describe(), mode);
  return {block, mode == "CRD"};
}

// Multiplies (or divides, checking divisibility) a dim by `factor`.
Dim scale_dim(const InferContext& ctx, const Dim& d, int64_t factor, bool divide,
              const char* what) {
  if (!d.known()) return Dim();
  if (!divide) return Dim(d.value * factor);
  if (d.value % factor != 0) ctx.fail("{} {} is not a multiple of {}", what, d.value, factor);
  return Dim(d.value / factor);
}

template <bool kDepthToSpace>
void infer_block_move(InferContext& ctx) {
  ctx.set_output_type(0, ctx.input_type(0));
  const BlockParams p = block_params(ctx.node(), ctx.opset(), kDepthToSpace);
  const SymbolicShape* s = ctx.input_shape(0);
  if (s == nullptr) return;
  if (s->size() != 4) ctx.fail("the input must have rank 4, got {}", shape_str(*s));
  const int64_t area = p.block * p.block;
  ctx.output(0).shape =
      SymbolicShape{(*s)[0], scale_dim(ctx, (*s)[1], area, kDepthToSpace, "the channel count"),
                    scale_dim(ctx, (*s)[2], p.block, !kDepthToSpace, "the height"),
                    scale_dim(ctx, (*s)[3], p.block, !kDepthToSpace, "the width")};
}

template <bool kDepthToSpace>
std::unique_ptr<Kernel> ref_block_move(KernelContext& ctx) {
  const BlockParams p = block_params(ctx.node, ctx.opset, kDepthToSpace);
  const Shape& in = ctx.input(0).shape;
  if (in.size() != 4) {
    ctx.fail(ErrorKind::kInvalidModel, "the input must have rank 4, got {}", shape_str(in));
  }
  const int64_t n = in[0], c = in[1], h = in[2], w = in[3], b = p.block;
  const Shape expected =
      kDepthToSpace ? Shape{n, c / (b * b), h * b, w * b} : Shape{n, c * b * b, h / b, w / b};
  const bool divisible = kDepthToSpace ? c % (b * b) == 0 : h % b == 0 && w % b == 0;
  if (!divisible || ctx.outputs[0].shape != expected) {
    ctx.fail(ErrorKind::kInvalidModel, "blocksize {} does not map input {} to output {}", b,
             shape_str(in), shape_str(ctx.outputs[0].shape));
  }
  ref::StridedView view;
  if (kDepthToSpace) {
    // Output [n, c/b², h*b, w*b] read as [n, oc, h, block_y, w, block_x].
    const int64_t oc = c / (b * b);
    const int64_t s_w = 1, s_h = w, plane = h * w;
    const int64_t s_oc = p.crd ? b * b * plane : plane;
    const int64_t s_by = p.crd ? b * plane : b * oc * plane;
    const int64_t s_bx = p.crd ? plane : oc * plane;
    view.shape = {n, oc, h, b, w, b};
    view.strides = {c * plane, s_oc, s_h, s_by, s_w, s_bx};
  } else {
    // Input [n, c, h/b, block_y, w/b, block_x] written as [n, block_y, block_x, c, h/b, w/b].
    const int64_t oh = h / b, ow = w / b;
    view.shape = {n, b, b, c, oh, ow};
    view.strides = {c * h * w, w, 1, h * w, b * w, b};
  }
  return view_kernel(ctx, std::move(view));
}

// Expand: bidirectional broadcast of the input with the shape input.
void infer_expand(InferContext& ctx) {
  ctx.set_output_type(0, ctx.input_type(0));
  const SymbolicShape* s = ctx.input_shape(0);
  if (s == nullptr) return;
  if (auto shape = constant_ints(ctx, 1)) {
    for (int64_t d : *shape) {
      if (d < 0) ctx.fail("shape {} has a negative dimension", shape_str(*shape));
    }
    auto out = broadcast_shapes(*s, symbolic(*shape));
    if (!out) ctx.fail("cannot broadcast {} to {}", shape_str(*s), shape_str(*shape));
    ctx.output(0).shape = std::move(out);
    return;
  }
  const SymbolicShape* shape_shape = ctx.input_shape(1);
  if (shape_shape == nullptr || shape_shape->size() != 1 || !(*shape_shape)[0].known()) return;
  // Without the values, a dim is known only where the input's is not 1.
  const size_t rank = std::max(s->size(), static_cast<size_t>((*shape_shape)[0].value));
  SymbolicShape out = unknown_dims(rank);
  for (size_t i = 0; i < s->size(); ++i) {
    const Dim& d = (*s)[i];
    if (d.known() && d.value != 1) out[rank - s->size() + i] = d;
  }
  ctx.output(0).shape = std::move(out);
}

std::unique_ptr<Kernel> ref_expand(KernelContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  const Shape& out = ctx.outputs[0].shape;
  if (out.size() < in.size()) {
    ctx.fail(ErrorKind::kInvalidModel, "cannot broadcast {} to {}", shape_str(in), shape_str(out));
  }
  const Shape in_strides = strides_of(in);
  ref::StridedView view{0, out, Shape(out.size(), 0)};
  const size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == out[lead + i] && in[i] != 1) {
      view.strides[lead + i] = in_strides[i];
    } else if (in[i] != 1) {
      ctx.fail(ErrorKind::kInvalidModel, "cannot broadcast {} to {}", shape_str(in),
               shape_str(out));
    }
  }
  return view_kernel(ctx, std::move(view));
}

// Tile: dim i repeated repeats[i] times.
void infer_tile(InferContext& ctx) {
  ctx.set_output_type(0, ctx.input_type(0));
  const SymbolicShape* s = ctx.input_shape(0);
  if (s == nullptr) return;
  auto repeats = constant_ints(ctx, 1);
  if (!repeats) {
    ctx.output(0).shape = unknown_dims(s->size());
    return;
  }
  if (repeats->size() != s->size()) {
    ctx.fail("repeats {} must have one value per dimension of {}", shape_str(*repeats),
             shape_str(*s));
  }
  SymbolicShape out;
  for (size_t i = 0; i < s->size(); ++i) {
    const int64_t r = (*repeats)[i];
    if (r < 0) ctx.fail("repeats {} has a negative value", shape_str(*repeats));
    const Dim& d = (*s)[i];
    if (r == 1) {
      out.push_back(d);
    } else if (d.known()) {
      out.push_back(Dim(d.value * r));
    } else {
      out.push_back(r == 0 ? Dim(int64_t{0}) : Dim());
    }
  }
  ctx.output(0).shape = std::move(out);
}

std::unique_ptr<Kernel> ref_tile(KernelContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  const Shape& out = ctx.outputs[0].shape;
  if (out.size() != in.size()) {
    ctx.fail(ErrorKind::kInvalidModel, "output {} and input {} differ in rank", shape_str(out),
             shape_str(in));
  }
  // Output dim i, read as (repeat, input index), is the input dim with stride 0 over repeats.
  const Shape in_strides = strides_of(in);
  ref::StridedView view;
  const bool empty = shape_numel(out) == 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!empty && (in[i] == 0 || out[i] % in[i] != 0)) {
      ctx.fail(ErrorKind::kInvalidModel, "output {} is not a tiling of input {}", shape_str(out),
               shape_str(in));
    }
    view.shape.push_back(empty ? 0 : out[i] / in[i]);
    view.shape.push_back(in[i]);
    view.strides.push_back(0);
    view.strides.push_back(in_strides[i]);
  }
  return view_kernel(ctx, std::move(view));
}

}  // namespace

void register_layout_ops(OpRegistry& r) {
  r.add({"", "Transpose", 1, infer_transpose, ref_transpose, {}});
  r.add({"", "DepthToSpace", 1, infer_block_move<true>, ref_block_move<true>, {}});
  r.add({"", "SpaceToDepth", 1, infer_block_move<false>, ref_block_move<false>, {}});
  r.add({"", "Expand", 8, infer_expand, ref_expand, {}});
  r.add({"", "Tile", 6, infer_tile, ref_tile, {}});
}

}  // namespace quench::shape_ops
