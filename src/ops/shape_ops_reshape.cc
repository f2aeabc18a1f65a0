// Ops that only relabel the shape: Reshape, Flatten, Squeeze, Unsqueeze. The bytes do not move,
// so each kernel is a copy the runtime may turn into an alias (inplace_input 0).
#include "ir/shape_util.h"
#include "kernels/ref/shape_ops_copy.h"
#include "ops/op_registry.h"
#include "ops/shape_ops.h"

namespace quench::shape_ops {
namespace {

// A copy of input 0 into an output with the same element count.
std::unique_ptr<Kernel> ref_relabel(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  if (x.numel() != ctx.outputs[0].numel()) {
    ctx.fail(ErrorKind::kInvalidModel, "input shape {} and output shape {} hold different counts",
             shape_str(x.shape), shape_str(ctx.outputs[0].shape));
  }
  return ref::make_inplace_copy_kernel(static_cast<size_t>(x.numel()) *
                                       element_bytes(ctx, x.dtype));
}

// The rank of a value given by the length of 1-D input `i` (an axes or shape list), if known.
std::optional<int64_t> list_length(const InferContext& ctx, size_t i) {
  const SymbolicShape* s = ctx.input_shape(i);
  if (s == nullptr || s->size() != 1 || !(*s)[0].known()) return std::nullopt;
  return (*s)[0].value;
}

// Reshape: 0 copies the input dim (unless allowzero, opset 14), -1 takes what remains.
SymbolicShape reshape_dims(const InferContext& ctx, const SymbolicShape* input,
                           const std::vector<int64_t>& requested, bool allowzero) {
  const std::string requested_str = shape_str(requested);
  SymbolicShape out(requested.size());
  std::vector<bool> copied(input ? input->size() : 0, false);
  int infer_at = -1;
  bool has_zero = false;
  for (size_t i = 0; i < requested.size(); ++i) {
    const int64_t v = requested[i];
    if (v < -1) ctx.fail("shape {} has the invalid dimension {}", requested_str, v);
    if (v == -1) {
      if (infer_at >= 0) ctx.fail("shape {} has more than one -1", requested_str);
      infer_at = static_cast<int>(i);
    } else if (v == 0 && !allowzero) {
      if (input == nullptr) continue;  // copies a dim of unknown size
      if (i >= input->size()) {
        ctx.fail("shape {} copies dimension {} (a 0), but the input {} has rank {}", requested_str,
                 i, shape_str(*input), input->size());
      }
      out[i] = (*input)[i];
      copied[i] = true;
    } else {
      has_zero |= v == 0;
      out[i] = Dim(v);
    }
  }
  if (allowzero && has_zero && infer_at >= 0) {
    ctx.fail("with allowzero=1, shape {} cannot hold both 0 and -1", requested_str);
  }
  if (input == nullptr) return out;

  // Copied dims appear on both sides and cancel; what remains must hold the same count. The
  // products are checked: a count past 2^63 wrapped around once and made [65536]*4 reshape to
  // [0] (UBSan, fuzzing's resource cases).
  const auto times = [&](int64_t count, int64_t dim, const std::string& shape) {
    int64_t product = 0;
    if (__builtin_mul_overflow(count, dim, &product)) {
      quench::fail(ErrorKind::kResource, "{}: shape {} has more than 2^63 elements",
                   ctx.node().describe(), shape);
    }
    return product;
  };
  int64_t in_known = 1, out_known = 1;
  std::vector<const Dim*> in_unknown;
  for (size_t i = 0; i < input->size(); ++i) {
    if (copied[i]) continue;
    if ((*input)[i].known()) {
      in_known = times(in_known, (*input)[i].value, shape_str(*input));
    } else {
      in_unknown.push_back(&(*input)[i]);
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (!(i < copied.size() && copied[i]) && static_cast<int>(i) != infer_at) {
      out_known = times(out_known, out[i].value, requested_str);
    }
  }
  if (infer_at < 0) {
    if (in_unknown.empty() && in_known != out_known) {
      ctx.fail("cannot reshape {} to {}: the element counts differ", shape_str(*input),
               shape_str(out));
    }
    return out;
  }
  if (in_unknown.empty()) {
    if (out_known == 0 || in_known % out_known != 0) {
      ctx.fail("cannot reshape {} to {}: the other dimensions do not divide the element count",
               shape_str(*input), requested_str);
    }
    out[infer_at] = Dim(in_known / out_known);
  } else if (in_unknown.size() == 1 && in_known == out_known) {
    out[infer_at] = *in_unknown[0];  // [N, 3, 4] to [-1, 12] is [N, 12]
  }
  return out;
}

void infer_reshape(InferContext& ctx) {
  ctx.set_output_type(0, ctx.input_type(0));
  const bool allowzero = ctx.opset() >= 14 && ctx.node().attr_int("allowzero", 0) != 0;
  if (auto requested = constant_ints(ctx, 1)) {
    ctx.output(0).shape = reshape_dims(ctx, ctx.input_shape(0), *requested, allowzero);
  } else if (auto rank = list_length(ctx, 1)) {
    ctx.output(0).shape = unknown_dims(static_cast<size_t>(*rank));
  }
}

// Flatten: [d0 * ... * d(axis-1), d(axis) * ... * d(r-1)].
void infer_flatten(InferContext& ctx) {
  ctx.set_output(0, ctx.input_type(0), unknown_dims(2));
  const SymbolicShape* s = ctx.input_shape(0);
  if (s == nullptr) return;
  const int64_t rank = static_cast<int64_t>(s->size());
  int64_t axis = ctx.node().attr_int("axis", 1);
  if (axis < -rank || axis > rank) {
    ctx.fail("axis {} is out of range [{}, {}] for input {}", axis, -rank, rank, shape_str(*s));
  }
  if (axis < 0) axis += rank;
  const std::span<const Dim> dims(*s);
  ctx.output(0).shape =
      SymbolicShape{dims_product(dims.first(axis)), dims_product(dims.subspan(axis))};
}

// Squeeze: axes from the attribute before opset 13, from the optional input after.
void infer_squeeze(InferContext& ctx) {
  ctx.set_output_type(0, ctx.input_type(0));
  const SymbolicShape* s = ctx.input_shape(0);
  if (s == nullptr) return;
  const int64_t rank = static_cast<int64_t>(s->size());
  std::optional<std::vector<int64_t>> axes;
  if (ctx.opset() < 13) {
    if (ctx.node().has_attr("axes")) axes = ctx.node().attr_ints("axes");
  } else if (ctx.has_input(1)) {
    axes = constant_ints(ctx, 1);
    if (!axes) {  // known at run time only: the rank is all that is known
      auto count = list_length(ctx, 1);
      if (count && *count <= rank) ctx.output(0).shape = unknown_dims(rank - *count);
      return;
    }
  }
  SymbolicShape out;
  if (!axes) {
    for (const Dim& d : *s) {
      if (!d.known()) return;  // whether it is removed is unknown, and with it the rank
      if (d.value != 1) out.push_back(d);
    }
    ctx.output(0).shape = std::move(out);
    return;
  }
  std::vector<bool> removed(s->size(), false);
  for (int64_t& axis : *axes) {
    axis = normalize_axis(axis, rank, ctx.node());
    const Dim& d = (*s)[axis];
    if (d.known() && d.value != 1) {
      ctx.fail("cannot squeeze axis {} of shape {}: its size is {}, not 1", axis, shape_str(*s),
               d.value);
    }
    removed[axis] = true;
  }
  if (has_duplicates(*axes)) ctx.fail("axes {} name an axis twice", shape_str(*axes));
  for (size_t i = 0; i < s->size(); ++i) {
    if (!removed[i]) out.push_back((*s)[i]);
  }
  ctx.output(0).shape = std::move(out);
}

// Unsqueeze: axes (into the output's rank) from the attribute before opset 13, the input after.
void infer_unsqueeze(InferContext& ctx) {
  ctx.set_output_type(0, ctx.input_type(0));
  std::optional<std::vector<int64_t>> axes;
  if (ctx.opset() < 13) {
    axes = ctx.node().require_ints("axes");
  } else {
    ctx.input(1);  // required
    axes = constant_ints(ctx, 1);
  }
  const SymbolicShape* s = ctx.input_shape(0);
  if (s == nullptr) return;
  if (!axes) {
    if (auto count = list_length(ctx, 1)) {
      ctx.output(0).shape = unknown_dims(s->size() + static_cast<size_t>(*count));
    }
    return;
  }
  const int64_t out_rank = static_cast<int64_t>(s->size() + axes->size());
  std::vector<bool> inserted(out_rank, false);
  for (int64_t& axis : *axes) {
    axis = normalize_axis(axis, out_rank, ctx.node());
    inserted[axis] = true;
  }
  if (has_duplicates(*axes)) ctx.fail("axes {} name an axis twice", shape_str(*axes));
  SymbolicShape out;
  size_t next_input_dim = 0;
  for (int64_t i = 0; i < out_rank; ++i) {
    out.push_back(inserted[i] ? Dim(1) : (*s)[next_input_dim++]);
  }
  ctx.output(0).shape = std::move(out);
}

}  // namespace

void register_reshape_ops(OpRegistry& r) {
  r.add({"", "Reshape", 5, infer_reshape, ref_relabel, {}});
  r.add({"", "Flatten", 1, infer_flatten, ref_relabel, {}});
  r.add({"", "Squeeze", 1, infer_squeeze, ref_relabel, {}});
  r.add({"", "Unsqueeze", 1, infer_unsqueeze, ref_relabel, {}});
}

}  // namespace quench::shape_ops
