// DynamicQuantizeLSTM of ONNX Runtime's com.microsoft domain (opset 1): the ONNX LSTM's
// attributes and shapes (ops/rnn.h, layout 0) with 8-bit W [dirs, input, 4h] and R [dirs, hidden,
// 4h] quantized per direction or per gate row; the kernel is kernels/ref/quant_lstm.h.
#include "core/check.h"
#include "kernels/ref/quant_lstm.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/conv.h"
#include "ops/domains.h"
#include "ops/quantized/integer_products.h"
#include "ops/register.h"
#include "ops/rnn.h"

namespace quench {
namespace {

enum : size_t { kWScale = 8, kWZeroPoint, kRScale, kRZeroPoint, kInputCount };

// The LSTM attributes. parse_rnn_attributes reads ONNX's LSTM node, so it is given a copy under
// that name; DynamicQuantizeLSTM has no `layout` (its tensors are always sequence-major).
RnnAttributes lstm_attributes(const Node& node) {
  if (node.has_attr("layout")) fail_node(node, "has a 'layout' attribute; only layout 0 exists");
  Node lstm = node;
  lstm.op_type = "LSTM";
  lstm.domain.clear();
  return parse_rnn_attributes(lstm, 7);
}

// W [dirs, input, 4h] and R [dirs, hidden, 4h] viewed as ONNX's [dirs, 4h, input|hidden], for
// check_rnn_shapes.
SymbolicShape as_onnx_weights(const SymbolicShape& w) {
  return w.size() == 3 ? SymbolicShape{w[0], w[2], w[1]} : w;
}

void check_arity(const Node& node) {
  if (node.inputs.size() != kInputCount || node.outputs.size() > 3) {
    fail_node(node,
              "has {} inputs and {} outputs, expected 12 inputs (X, W, R, B, sequence_lens, "
              "initial_h, initial_c, P, W_scale, W_zero_point, R_scale, R_zero_point) and up to 3 "
              "outputs",
              node.inputs.size(), node.outputs.size());
  }
}

void infer_dynamic_quantize_lstm(InferContext& ctx) {
  const Node& node = ctx.node();
  check_arity(node);
  const RnnAttributes attrs = lstm_attributes(node);
  for (size_t i : {size_t{kRnnX}, size_t{kRnnB}, size_t{kRnnInitialH}, size_t{kRnnInitialC},
                   size_t{kRnnP}, size_t{kWScale}, size_t{kRScale}}) {
    check_float_input_type(ctx, i, "a float input");
  }
  check_quant_input_type(ctx, kRnnW, "W");
  check_quant_input_type(ctx, kRnnR, "R");
  check_same_type(ctx, kRnnW, kWZeroPoint, "W_zero_point");
  check_same_type(ctx, kRnnR, kRZeroPoint, "R_zero_point");
  if (ctx.has_input(kRnnSequenceLens) && ctx.input_type(kRnnSequenceLens) != DType::kUndefined &&
      ctx.input_type(kRnnSequenceLens) != DType::kInt32) {
    ctx.fail("input sequence_lens is {}, expected int32",
             dtype_name(ctx.input_type(kRnnSequenceLens)));
  }
  std::vector<SymbolicShape> storage(kRnnP + 1);
  std::vector<const SymbolicShape*> shapes(kRnnP + 1, nullptr);
  for (size_t i = 0; i <= kRnnP; ++i) {
    if (!ctx.has_input(i) || ctx.input_shape(i) == nullptr) continue;
    storage[i] =
        i == kRnnW || i == kRnnR ? as_onnx_weights(*ctx.input_shape(i)) : *ctx.input_shape(i);
    shapes[i] = &storage[i];
  }
  const RnnDims dims = check_rnn_shapes(node, attrs, shapes);
  const Dim dirs(attrs.num_directions());
  const Dim gate_rows = dims.hidden_size.known() ? Dim(4 * dims.hidden_size.value) : Dim();
  for (auto [scale, zero_point, what] :
       {std::tuple{kWScale, kWZeroPoint, "W"}, std::tuple{kRScale, kRZeroPoint, "R"}}) {
    // [dirs] per direction, or [dirs, 4h] per gate row.
    for (size_t i : {scale, zero_point}) {
      const SymbolicShape* s = ctx.input_shape(i);
      if (s == nullptr) continue;
      const bool ok = (s->size() == 1 || s->size() == 2) &&
                      (!(*s)[0].known() || (*s)[0].value == dirs.value) &&
                      (s->size() == 1 || !(*s)[1].known() || !gate_rows.known() ||
                       (*s)[1].value == gate_rows.value);
      if (!ok) {
        ctx.fail("{}'s scale or zero point has shape {}, expected [{}] or [{}, 4*hidden_size]",
                 what, shape_str(*s), dirs.value, dirs.value);
      }
    }
  }
  ctx.set_output(kRnnY, DType::kFloat32,
                 SymbolicShape{dims.seq_length, dirs, dims.batch, dims.hidden_size});
  const SymbolicShape state{dirs, dims.batch, dims.hidden_size};
  ctx.set_output(kRnnYH, DType::kFloat32, state);
  ctx.set_output(kRnnYC, DType::kFloat32, state);
}

// The scales of W or R per (direction, gate row), from their [dirs] or [dirs, 4h] input: prepared
// when the input is constant, else expanded into scratch at every run.
class GateScales {
 public:
  GateScales() = default;
  GateScales(const KernelContext& ctx, size_t scale, int64_t dirs, int64_t gate_rows)
      : params_(ctx, scale, kInputCount, DType::kUInt8), dirs_(dirs), gate_rows_(gate_rows) {
    const int64_t count = ctx.input(scale).numel();
    if (count != dirs && count != dirs * gate_rows) {
      ctx.fail(ErrorKind::kInvalidModel, "input {} has {} scales, expected {} or {}", scale, count,
               dirs, dirs * gate_rows);
    }
    per_direction_ = count / dirs;
    if (params_.known()) {
      prepared_.resize(static_cast<size_t>(dirs * gate_rows));
      expand(KernelArgs{}, prepared_.data());
    }
  }

  size_t scratch_bytes() const {
    return prepared_.empty() ? static_cast<size_t>(dirs_ * gate_rows_) * sizeof(float) : 0;
  }
  const float* data(const KernelArgs& args, void* scratch) const {
    if (!prepared_.empty()) return prepared_.data();
    float* out = static_cast<float*>(scratch);
    expand(args, out);
    return out;
  }

 private:
  void expand(const KernelArgs& args, float* out) const {
    for (int64_t d = 0; d < dirs_; ++d) {
      for (int64_t row = 0; row < gate_rows_; ++row) {
        const int64_t index = d * per_direction_ + (per_direction_ == 1 ? 0 : row);
        out[d * gate_rows_ + row] = params_.scale(args, index);
      }
    }
  }

  QuantParamSource params_;  // no zero point: input kInputCount is always absent
  int64_t dirs_ = 0, gate_rows_ = 0, per_direction_ = 1;
  std::vector<float> prepared_;
};

// W or R centered as [dirs, 4h, K] (stored [dirs, K, 4h]) with its zero points per direction or
// per gate row.
CenteredOperand centered_weights(const KernelContext& ctx, size_t input, size_t zero_point,
                                 int64_t dirs, int64_t gate_rows, int64_t k) {
  const DType type = ctx.input(input).dtype;
  QuantParamSource zero_points(ctx, QuantParamSource::kNoScale, zero_point, type);
  const int64_t count = zero_points.size();
  if (count != dirs && count != dirs * gate_rows && count != 1) {
    ctx.fail(ErrorKind::kInvalidModel, "input {} has {} zero points, expected {} or {}", zero_point,
             count, dirs, dirs * gate_rows);
  }
  CenterLayout layout{dirs, gate_rows, k, true, {}};
  if (count > 1) {
    const bool per_row = count == dirs * gate_rows;
    for (int64_t d = 0; d < dirs; ++d) {
      layout.zero_points.matrix_offsets.push_back(per_row ? d * gate_rows : d);
    }
    layout.zero_points.row_stride = per_row ? 1 : 0;
  }
  return CenteredOperand(ctx, input, std::move(zero_points), std::move(layout));
}

struct LstmPlan {
  RnnAttributes attrs;
  ref::QuantLstmSizes sizes;
  CenteredOperand w, r;
  GateScales w_scales, r_scales;
  std::vector<float> fused_bias;  // [dirs, 4h] when B is constant
  bool has_bias = false;
  bool has_sequence_lens = false, has_initial_h = false, has_initial_c = false,
       has_peepholes = false;
  bool has_y = false, has_y_h = false, has_y_c = false;
  std::string node;
};

// Wb + Rb per gate row, as ONNX Runtime fuses them; `b` is [dirs, 8h].
void fuse_bias(const float* b, int64_t dirs, int64_t gate_rows, float* out) {
  for (int64_t d = 0; d < dirs; ++d) {
    const float* input_bias = b + d * 2 * gate_rows;
    for (int64_t row = 0; row < gate_rows; ++row) {
      out[d * gate_rows + row] = input_bias[row] + input_bias[gate_rows + row];
    }
  }
}

std::unique_ptr<Kernel> make_lstm_kernel(LstmPlan p) {
  const int64_t dirs = p.attrs.num_directions(), gate_rows = 4 * p.sizes.hidden_size;
  ScratchPlan scratch;
  const size_t w_at = scratch.add(p.w.scratch_bytes());
  const size_t r_at = scratch.add(p.r.scratch_bytes());
  const size_t w_scales_at = scratch.add(p.w_scales.scratch_bytes());
  const size_t r_scales_at = scratch.add(p.r_scales.scratch_bytes());
  const bool bias_at_run_time = p.has_bias && p.fused_bias.empty();
  const size_t bias_at = scratch.add(bias_at_run_time ? dirs * gate_rows * sizeof(float) : 0);
  const size_t lstm_at = scratch.add(ref::quant_lstm_scratch_bytes(p.sizes));
  return ref::make_kernel(
      [p = std::move(p), dirs, gate_rows, w_at, r_at, w_scales_at, r_scales_at, bias_at,
       bias_at_run_time, lstm_at](const KernelArgs& a) {
        const ref::QuantLstmSizes& s = p.sizes;
        const int32_t* lengths =
            p.has_sequence_lens ? ref::in<int32_t>(a, kRnnSequenceLens) : nullptr;
        for (int64_t batch = 0; lengths && batch < s.batch; ++batch) {
          QUENCH_CHECK(lengths[batch] >= 0 && lengths[batch] <= s.seq_length,
                       ErrorKind::kInvalidArgument,
                       "{}: sequence_lens[{}] is {}, expected a value in [0, {}] (seq_length)",
                       p.node, batch, lengths[batch], s.seq_length);
        }
        const int16_t* w = p.w.data(a, scratch_at(a.scratch, w_at));
        const int16_t* r = p.r.data(a, scratch_at(a.scratch, r_at));
        const float* w_scales = p.w_scales.data(a, scratch_at(a.scratch, w_scales_at));
        const float* r_scales = p.r_scales.data(a, scratch_at(a.scratch, r_scales_at));
        const float* bias = p.fused_bias.empty() ? nullptr : p.fused_bias.data();
        if (bias_at_run_time) {
          float* fused = static_cast<float*>(scratch_at(a.scratch, bias_at));
          fuse_bias(ref::in<float>(a, kRnnB), dirs, gate_rows, fused);
          bias = fused;
        }
        const int64_t states = s.batch * s.hidden_size;
        auto output = [&](bool present, size_t i) {
          return present ? ref::out<float>(a, i) : nullptr;
        };
        for (int64_t d = 0; d < dirs; ++d) {
          ref::QuantLstmWeights weights{
              w + d * gate_rows * s.input_size,
              r + d * gate_rows * s.hidden_size,
              w_scales + d * gate_rows,
              r_scales + d * gate_rows,
              bias ? bias + d * gate_rows : nullptr,
              p.has_peepholes ? ref::in<float>(a, kRnnP) + d * 3 * s.hidden_size : nullptr};
          float* y = output(p.has_y, kRnnY);
          float* y_h = output(p.has_y_h, kRnnYH);
          float* y_c = output(p.has_y_c, kRnnYC);
          ref::QuantLstmIo io{
              ref::in<float>(a, kRnnX),
              lengths,
              p.has_initial_h ? ref::in<float>(a, kRnnInitialH) + d * states : nullptr,
              p.has_initial_c ? ref::in<float>(a, kRnnInitialC) + d * states : nullptr,
              y ? y + d * states : nullptr,
              dirs * states,
              y_h ? y_h + d * states : nullptr,
              y_c ? y_c + d * states : nullptr};
          ref::quant_lstm_direction(p.attrs, s, d, weights, io, scratch_at(a.scratch, lstm_at));
        }
      },
      scratch.total());
}

std::unique_ptr<Kernel> ref_dynamic_quantize_lstm(KernelContext& ctx) {
  const Node& node = ctx.node;
  check_arity(node);
  LstmPlan p;
  p.attrs = lstm_attributes(node);
  for (size_t i :
       {size_t{kRnnX}, size_t{kRnnB}, size_t{kRnnInitialH}, size_t{kRnnInitialC}, size_t{kRnnP}}) {
    if (ctx.has_input(i) && ctx.inputs[i].dtype != DType::kFloat32) {
      ctx.fail(ErrorKind::kInvalidModel, "input {} is {}, expected float", i,
               dtype_name(ctx.inputs[i].dtype));
    }
  }
  expect_quant_type(ctx, kRnnW, "W");
  expect_quant_type(ctx, kRnnR, "R");
  if (ctx.has_input(kRnnSequenceLens) && ctx.inputs[kRnnSequenceLens].dtype != DType::kInt32) {
    ctx.fail(ErrorKind::kInvalidModel, "input sequence_lens is {}, expected int32",
             dtype_name(ctx.inputs[kRnnSequenceLens].dtype));
  }
  std::vector<SymbolicShape> storage(kRnnP + 1);
  std::vector<const SymbolicShape*> shapes(kRnnP + 1, nullptr);
  for (size_t i = 0; i <= kRnnP; ++i) {
    if (!ctx.has_input(i)) continue;
    storage[i] = symbolic(ctx.inputs[i].shape);
    if (i == kRnnW || i == kRnnR) storage[i] = as_onnx_weights(storage[i]);
    shapes[i] = &storage[i];
  }
  const RnnDims dims = check_rnn_shapes(node, p.attrs, shapes);
  p.sizes = {dims.seq_length.value, dims.batch.value, dims.input_size.value,
             dims.hidden_size.value};
  const int64_t dirs = p.attrs.num_directions(), gate_rows = 4 * p.sizes.hidden_size;
  p.w_scales = GateScales(ctx, kWScale, dirs, gate_rows);
  p.r_scales = GateScales(ctx, kRScale, dirs, gate_rows);
  p.w = centered_weights(ctx, kRnnW, kWZeroPoint, dirs, gate_rows, p.sizes.input_size);
  p.r = centered_weights(ctx, kRnnR, kRZeroPoint, dirs, gate_rows, p.sizes.hidden_size);
  p.has_bias = ctx.has_input(kRnnB);
  if (p.has_bias && ctx.inputs[kRnnB].constant != nullptr) {
    p.fused_bias.resize(static_cast<size_t>(dirs * gate_rows));
    fuse_bias(ctx.inputs[kRnnB].constant->data<float>(), dirs, gate_rows, p.fused_bias.data());
  }
  p.has_sequence_lens = ctx.has_input(kRnnSequenceLens);
  p.has_initial_h = ctx.has_input(kRnnInitialH);
  p.has_initial_c = ctx.has_input(kRnnInitialC);
  p.has_peepholes = ctx.has_input(kRnnP);
  auto has_output = [&](size_t i) { return i < ctx.outputs.size() && ctx.outputs[i].present(); };
  p.has_y = has_output(kRnnY);
  p.has_y_h = has_output(kRnnYH);
  p.has_y_c = has_output(kRnnYC);
  p.node = node.describe();
  return make_lstm_kernel(std::move(p));
}

}  // namespace

void register_ms_lstm_op(OpRegistry& r) {
  r.add({kMsDomain,
         "DynamicQuantizeLSTM",
         1,
         infer_dynamic_quantize_lstm,
         ref_dynamic_quantize_lstm,
         {}});
}

}  // namespace quench
