// DynamicQuantizeGRU (ops/quantized/dynamic_gru.h): shape inference, the plan both kernels build
// from, and the reference kernel's driver.
#include "ops/quantized/dynamic_gru.h"

#include <algorithm>

#include "core/check.h"
#include "kernels/ref/quant_gru.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/domains.h"
#include "ops/quantized/integer_products.h"
#include "ops/register.h"
#include "ops/rnn.h"

namespace quench {
namespace {

// The GRU attributes: parse_rnn_attributes reads the ONNX GRU node (opset 14, which has
// `layout`), so it is given a copy under that name.
RnnAttributes gru_attributes(const Node& node) {
  Node gru = node;
  gru.op_type = "GRU";
  gru.domain.clear();
  RnnAttributes attrs = parse_rnn_attributes(gru, 14);
  if (attrs.layout != 0) fail_node(node, "has layout {}; only layout 0 exists", attrs.layout);
  return attrs;
}

void check_arity(const Node& node) {
  if (node.inputs.size() != kGruInputCount || node.outputs.size() > 2) {
    fail_node(node,
              "has {} inputs and {} outputs, expected 8 inputs (X, W, R, B, sequence_lens, "
              "initial_h, W_scale, R_scale) and up to 2 outputs",
              node.inputs.size(), node.outputs.size());
  }
}

void infer_dynamic_gru(InferContext& ctx) {
  const Node& node = ctx.node();
  check_arity(node);
  const RnnAttributes attrs = gru_attributes(node);
  for (size_t i : {size_t{kRnnX}, size_t{kRnnB}, size_t{kRnnInitialH}, size_t{kGruWScale},
                   size_t{kGruRScale}}) {
    check_float_input_type(ctx, i, "a float input");
  }
  for (auto [i, what] : {std::pair{size_t{kRnnW}, "W"}, std::pair{size_t{kRnnR}, "R"}}) {
    if (ctx.input_type(i) != DType::kUndefined && ctx.input_type(i) != DType::kInt8) {
      ctx.fail("input {} is {}, expected int8", what, dtype_name(ctx.input_type(i)));
    }
  }
  std::vector<const SymbolicShape*> shapes(kRnnP + 1, nullptr);
  for (size_t i = 0; i <= kRnnInitialH; ++i) {
    if (ctx.has_input(i)) shapes[i] = ctx.input_shape(i);
  }
  const RnnDims dims = check_rnn_shapes(node, attrs, shapes);
  const Dim dirs(attrs.num_directions());
  for (auto [i, what] : {std::pair{size_t{kGruWScale}, "W"}, std::pair{size_t{kGruRScale}, "R"}}) {
    const SymbolicShape* s = ctx.input_shape(i);
    if (s == nullptr) continue;
    const bool ok = s->size() == 2 && (!(*s)[0].known() || (*s)[0].value == dirs.value) &&
                    (!(*s)[1].known() || !dims.hidden_size.known() ||
                     (*s)[1].value == 3 * dims.hidden_size.value);
    if (!ok)
      ctx.fail("{}_scale has shape {}, expected [{}, 3*hidden_size]", what, shape_str(*s),
               dirs.value);
  }
  ctx.set_output(kRnnY, DType::kFloat32,
                 SymbolicShape{dims.seq_length, dirs, dims.batch, dims.hidden_size});
  ctx.set_output(kRnnYH, DType::kFloat32, SymbolicShape{dirs, dims.batch, dims.hidden_size});
}

const Tensor& constant_input(const KernelContext& ctx, size_t i, const char* what, DType type) {
  const TensorDesc& t = ctx.input(i);
  if (t.dtype != type) {
    ctx.fail(ErrorKind::kInvalidModel, "input {} is {}, expected {}", what, dtype_name(t.dtype),
             dtype_name(type));
  }
  if (t.constant == nullptr) ctx.fail(ErrorKind::kInvalidModel, "input {} is not constant", what);
  return *t.constant;
}

std::unique_ptr<Kernel> ref_dynamic_gru(KernelContext& ctx) {
  DynamicGruPlan p = plan_dynamic_gru(ctx);
  const ref::QuantGruSizes sizes{p.seq_length, p.batch, p.input_size, p.hidden_size};
  const int64_t gate_rows = 3 * p.hidden_size;
  // W and R widened to int16 once (zero point 0: already centered).
  std::vector<int16_t> w(p.w, p.w + p.dirs * gate_rows * p.input_size);
  std::vector<int16_t> r(p.r, p.r + p.dirs * gate_rows * p.hidden_size);
  const size_t scratch = ref::quant_gru_scratch_bytes(sizes);
  return ref::make_kernel(
      [p = std::move(p), sizes, w = std::move(w), r = std::move(r)](const KernelArgs& a) {
        const int64_t gate_rows = 3 * p.hidden_size, states = p.batch * p.hidden_size;
        const int32_t* lengths =
            p.has_sequence_lens ? ref::in<int32_t>(a, kRnnSequenceLens) : nullptr;
        check_gru_lengths(p, lengths);
        float* y = p.has_y ? ref::out<float>(a, kRnnY) : nullptr;
        float* y_h = p.has_y_h ? ref::out<float>(a, kRnnYH) : nullptr;
        for (int64_t d = 0; d < p.dirs; ++d) {
          const ref::QuantGruWeights weights{w.data() + d * gate_rows * p.input_size,
                                             r.data() + d * gate_rows * p.hidden_size,
                                             p.w_scales.data() + d * gate_rows,
                                             p.r_scales.data() + d * gate_rows,
                                             p.bias.data() + d * gate_rows,
                                             p.recurrent_hidden_bias.data() + d * p.hidden_size};
          const ref::QuantGruIo io{
              ref::in<float>(a, kRnnX),
              lengths,
              p.has_initial_h ? ref::in<float>(a, kRnnInitialH) + d * states : nullptr,
              y ? y + d * states : nullptr,
              p.dirs * states,
              y_h ? y_h + d * states : nullptr};
          ref::quant_gru_direction(p.attrs, sizes, d, weights, io, a.scratch);
        }
      },
      scratch);
}

}  // namespace

DynamicGruPlan plan_dynamic_gru(const KernelContext& ctx) {
  const Node& node = ctx.node;
  check_arity(node);
  DynamicGruPlan p;
  p.attrs = gru_attributes(node);
  for (size_t i : {size_t{kRnnX}, size_t{kRnnB}, size_t{kRnnInitialH}}) {
    if (ctx.has_input(i) && ctx.inputs[i].dtype != DType::kFloat32) {
      ctx.fail(ErrorKind::kInvalidModel, "input {} is {}, expected float", i,
               dtype_name(ctx.inputs[i].dtype));
    }
  }
  if (ctx.has_input(kRnnSequenceLens) && ctx.inputs[kRnnSequenceLens].dtype != DType::kInt32) {
    ctx.fail(ErrorKind::kInvalidModel, "input sequence_lens is {}, expected int32",
             dtype_name(ctx.inputs[kRnnSequenceLens].dtype));
  }
  const Tensor& w = constant_input(ctx, kRnnW, "W", DType::kInt8);
  const Tensor& r = constant_input(ctx, kRnnR, "R", DType::kInt8);
  const Tensor& w_scale = constant_input(ctx, kGruWScale, "W_scale", DType::kFloat32);
  const Tensor& r_scale = constant_input(ctx, kGruRScale, "R_scale", DType::kFloat32);
  std::vector<SymbolicShape> storage(kRnnP + 1);
  std::vector<const SymbolicShape*> shapes(kRnnP + 1, nullptr);
  for (size_t i = 0; i <= kRnnInitialH; ++i) {
    if (!ctx.has_input(i)) continue;
    storage[i] = symbolic(ctx.inputs[i].shape);
    shapes[i] = &storage[i];
  }
  const RnnDims dims = check_rnn_shapes(node, p.attrs, shapes);
  p.seq_length = dims.seq_length.value;
  p.batch = dims.batch.value;
  p.input_size = dims.input_size.value;
  p.hidden_size = dims.hidden_size.value;
  p.dirs = p.attrs.num_directions();
  const int64_t hidden = p.hidden_size, gate_rows = 3 * hidden;
  for (auto [t, what] : {std::pair{&w_scale, "W_scale"}, std::pair{&r_scale, "R_scale"}}) {
    if (t->shape() != Shape{p.dirs, gate_rows}) {
      ctx.fail(ErrorKind::kInvalidModel, "{} has shape {}, expected [{}, {}]", what,
               shape_str(t->shape()), p.dirs, gate_rows);
    }
  }
  p.w = w.data<int8_t>();
  p.r = r.data<int8_t>();
  p.w_scales.assign(w_scale.data<float>(), w_scale.data<float>() + p.dirs * gate_rows);
  p.r_scales.assign(r_scale.data<float>(), r_scale.data<float>() + p.dirs * gate_rows);

  p.bias.assign(static_cast<size_t>(p.dirs * gate_rows), 0.f);
  p.recurrent_hidden_bias.assign(static_cast<size_t>(p.dirs * hidden), 0.f);
  if (ctx.has_input(kRnnB)) {
    const Tensor& b = constant_input(ctx, kRnnB, "B", DType::kFloat32);
    for (int64_t d = 0; d < p.dirs; ++d) {
      const float* input_bias = b.data<float>() + d * 2 * gate_rows;
      const float* recurrent_bias = input_bias + gate_rows;
      for (int64_t row = 0; row < gate_rows; ++row) {
        const bool apart = p.attrs.linear_before_reset && row >= 2 * hidden;
        p.bias[d * gate_rows + row] = input_bias[row] + (apart ? 0.f : recurrent_bias[row]);
      }
      std::copy(recurrent_bias + 2 * hidden, recurrent_bias + gate_rows,
                p.recurrent_hidden_bias.begin() + d * hidden);
    }
  }
  p.has_sequence_lens = ctx.has_input(kRnnSequenceLens);
  p.has_initial_h = ctx.has_input(kRnnInitialH);
  auto has_output = [&](size_t i) { return i < ctx.outputs.size() && ctx.outputs[i].present(); };
  p.has_y = has_output(kRnnY);
  p.has_y_h = has_output(kRnnYH);
  p.node = node.describe();
  return p;
}

int64_t check_gru_lengths(const DynamicGruPlan& p, const int32_t* lengths) {
  if (lengths == nullptr) return p.seq_length;
  int64_t longest = 0;
  for (int64_t batch = 0; batch < p.batch; ++batch) {
    QUENCH_CHECK(lengths[batch] >= 0 && lengths[batch] <= p.seq_length, ErrorKind::kInvalidArgument,
                 "{}: sequence_lens[{}] is {}, expected a value in [0, {}] (seq_length)", p.node,
                 batch, lengths[batch], p.seq_length);
    longest = std::max<int64_t>(longest, lengths[batch]);
  }
  return longest;
}

void register_dynamic_gru_op(OpRegistry& r) {
  r.add({kInternalDomain, "DynamicQuantizeGRU", 1, infer_dynamic_gru, ref_dynamic_gru, {}});
}

}  // namespace quench
