#include "train/qat/fake_quantize.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "core/requantize.h"
#include "kernels/x86/qloops.h"
#include "ops/domains.h"
#include "train/gradient.h"

namespace quench::train::qat {

FakeQuantSpec FakeQuantSpec::of(const Node& node) {
  FakeQuantSpec s;
  s.qmin = static_cast<int32_t>(node.attr_int("qmin", 0));
  s.qmax = static_cast<int32_t>(node.attr_int("qmax", 255));
  s.axis = node.attr_int("axis", -1);
  s.grad_scale = node.attr_float("grad_scale", 0.f);
  s.per_sample = node.attr_int("per_sample", 0) != 0;
  s.scale_gradient = node.attr_int("scale_gradient", 1) != 0;
  QUENCH_CHECK(s.qmin < s.qmax, ErrorKind::kInvalidModel, "{}: qmin {} is not below qmax {}",
               node.describe(), s.qmin, s.qmax);
  return s;
}

FakeQuantSpec fake_quant_range(int bits, bool symmetric) {
  QUENCH_CHECK(bits >= 2 && bits <= 8, ErrorKind::kInvalidArgument,
               "fake quantization takes 2 to 8 bits, got {}", bits);
  FakeQuantSpec s;
  if (symmetric) {
    s.qmax = (1 << (bits - 1)) - 1;
    s.qmin = -s.qmax;
  } else {
    s.qmin = 0;
    s.qmax = (1 << bits) - 1;
  }
  return s;
}

namespace {

// Channel c of flat element i: (i / inner) % channels, with inner the product of the dims after
// the axis; 0 for one scale.
struct ChannelIndex {
  int64_t inner = 1;
  int64_t channels = 1;
  int64_t operator()(int64_t i) const { return channels == 1 ? 0 : (i / inner) % channels; }
};

ChannelIndex channel_index(const Tensor& x, const Tensor& scale, const FakeQuantSpec& spec) {
  ChannelIndex c;
  c.channels = scale.numel();
  QUENCH_CHECK(c.channels >= 1, ErrorKind::kInvalidArgument, "FakeQuantize: empty scale");
  if (c.channels == 1) return c;
  QUENCH_CHECK(spec.axis >= 0 && spec.axis < x.rank() && x.dim(spec.axis) == c.channels,
               ErrorKind::kInvalidArgument,
               "FakeQuantize: {} scales do not match axis {} of a tensor of shape {}", c.channels,
               spec.axis, shape_str(x.shape()));
  for (int64_t d = spec.axis + 1; d < x.rank(); ++d) c.inner *= x.dim(d);
  return c;
}

void check_params(const Tensor& scale, const Tensor* zero_point) {
  QUENCH_CHECK(scale.dtype() == DType::kFloat32, ErrorKind::kInvalidArgument,
               "FakeQuantize: the scale must be float32");
  for (float s : scale.values<float>()) {
    QUENCH_CHECK(s > 0 && std::isfinite(s), ErrorKind::kInvalidArgument,
                 "FakeQuantize: scale {} is not a positive finite number", s);
  }
  if (zero_point != nullptr) {
    QUENCH_CHECK(zero_point->dtype() == DType::kFloat32 && zero_point->numel() == scale.numel(),
                 ErrorKind::kInvalidArgument,
                 "FakeQuantize: the zero point must be float32 with as many values as the scale");
  }
}

// A stretch of consecutive values sharing channel `channel`'s scale.
struct Run {
  int64_t start = 0;
  int64_t count = 0;
  int64_t channel = 0;
};

// The runs of n values: one per (outer index, channel), split into pieces of at most kPiece
// values so that a single-scale tensor spreads over threads.
std::vector<Run> runs_of(int64_t n, const ChannelIndex& ci) {
  constexpr int64_t kPiece = 16384;
  std::vector<Run> runs;
  const int64_t inner = ci.channels == 1 ? std::max<int64_t>(n, 1) : ci.inner;
  const int64_t block = ci.channels * inner;
  for (int64_t start = 0; start < n; start += inner) {
    const int64_t channel = (start % block) / inner;
    const int64_t end = std::min(n, start + inner);
    for (int64_t s = start; s < end; s += kPiece) {
      runs.push_back({s, std::min(kPiece, end - s), channel});
    }
  }
  return runs;
}

// The rounded zero point of channel c (eq. (95)), inside [qmin, qmax].
int32_t zero_of(const Tensor* zero_point, int64_t c, const FakeQuantSpec& spec) {
  if (zero_point == nullptr) return 0;
  const float z = round_half_even(zero_point->data<float>()[c]);
  return static_cast<int32_t>(
      std::clamp<float>(z, static_cast<float>(spec.qmin), static_cast<float>(spec.qmax)));
}

// (100) The LSQ gradient scale applied to the summed scale and offset gradients.
void finish_param_grads(const Tensor& x, const Tensor& scale, const Tensor* zero_point,
                        const FakeQuantSpec& spec, const std::vector<double>& ds,
                        const std::vector<double>& dz, FakeQuantGrads& g) {
  const auto channels = static_cast<int64_t>(ds.size());
  const float gs = spec.grad_scale > 0 ? spec.grad_scale
                                       : lsq_grad_scale(x, channels, spec.qmax, spec.per_sample);
  g.dscale = Tensor::empty(DType::kFloat32, scale.shape());
  for (int64_t c = 0; c < channels; ++c) {
    g.dscale.data<float>()[c] = static_cast<float>(ds[static_cast<size_t>(c)] * gs);
  }
  if (zero_point != nullptr) {
    g.dzero_point = Tensor::empty(DType::kFloat32, zero_point->shape());
    for (int64_t c = 0; c < channels; ++c) {
      g.dzero_point.data<float>()[c] = static_cast<float>(dz[static_cast<size_t>(c)] * gs);
    }
  }
}

}  // namespace

Tensor fake_quantize_reference(const Tensor& x, const Tensor& scale, const Tensor* zero_point,
                               const FakeQuantSpec& spec) {
  check_params(scale, zero_point);
  const ChannelIndex ci = channel_index(x, scale, spec);
  Tensor y = Tensor::empty(DType::kFloat32, x.shape());
  const float* px = x.data<float>();
  const float* ps = scale.data<float>();
  float* py = y.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for if (n > 65536) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = ci(i);
    const float s = ps[c];
    const int32_t z = zero_of(zero_point, c, spec);
    // (95) as QuantizeLinear (core/requantize.h eq. (31)): float division, half to even.
    const double r = static_cast<double>(round_half_even(px[i] / s)) + z;
    const int32_t q = static_cast<int32_t>(
        std::clamp(r, static_cast<double>(spec.qmin), static_cast<double>(spec.qmax)));
    py[i] = dequantize(q, s, z);  // (96) as DequantizeLinear (eq. (32))
  }
  return y;
}

float lsq_grad_scale(const Tensor& x, int64_t scales, int32_t qmax, bool per_sample) {
  double n = static_cast<double>(x.numel()) / static_cast<double>(std::max<int64_t>(1, scales));
  if (per_sample && x.rank() >= 1 && x.dim(0) > 0) n /= static_cast<double>(x.dim(0));
  return static_cast<float>(1.0 / std::sqrt(std::max(1.0, n) * std::max(1, qmax)));
}

FakeQuantGrads fake_quantize_backward_reference(const Tensor& x, const Tensor& scale,
                                                const Tensor* zero_point, const Tensor& dy,
                                                const FakeQuantSpec& spec) {
  check_params(scale, zero_point);
  const ChannelIndex ci = channel_index(x, scale, spec);
  const int64_t channels = ci.channels;
  std::vector<double> ds(static_cast<size_t>(channels), 0.0), dz(ds);
  FakeQuantGrads g;
  g.dx = Tensor::empty(DType::kFloat32, x.shape());
  const float* px = x.data<float>();
  const float* ps = scale.data<float>();
  const float* pdy = dy.data<float>();
  float* pdx = g.dx.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = ci(i);
    const float s = ps[c];
    const int32_t z = zero_of(zero_point, c, spec);
    const float v = px[i] / s;
    const float rounded = round_half_even(v);
    const double r = static_cast<double>(rounded) + z;
    if (r < spec.qmin || r > spec.qmax) {
      // Clipped: Y = (q_clip − z)·s, so dY/dX = 0 (98), dY/ds = q_clip − z (99), dY/dz = −s (101).
      const int32_t q = r < spec.qmin ? spec.qmin : spec.qmax;
      pdx[i] = 0.f;
      ds[c] += static_cast<double>(pdy[i]) * (q - z);
      dz[c] -= static_cast<double>(pdy[i]) * s;
    } else {
      // Inside: Y = round(X/s)·s with d round(v)/dv taken as 1: dY/dX = 1 (98),
      // dY/ds = round(X/s) − X/s (99), dY/dz = 0 (101).
      pdx[i] = pdy[i];
      ds[c] += static_cast<double>(pdy[i]) * (static_cast<double>(rounded) - v);
    }
  }
  finish_param_grads(x, scale, zero_point, spec, ds, dz, g);
  return g;
}

Tensor fake_quantize(const Tensor& x, const Tensor& scale, const Tensor* zero_point,
                     const FakeQuantSpec& spec) {
  check_params(scale, zero_point);
  const ChannelIndex ci = channel_index(x, scale, spec);
  Tensor y = Tensor::empty(DType::kFloat32, x.shape());
  const float* px = x.data<float>();
  const float* ps = scale.data<float>();
  float* py = y.data<float>();
  const std::vector<Run> runs = runs_of(x.numel(), ci);
  const auto qmin = static_cast<float>(spec.qmin), qmax = static_cast<float>(spec.qmax);
#pragma omp parallel for if (x.numel() > 65536) schedule(static)
  for (size_t r = 0; r < runs.size(); ++r) {
    const Run& run = runs[r];
    x86::fake_quantize_loop(px + run.start, py + run.start, run.count, ps[run.channel],
                            static_cast<float>(zero_of(zero_point, run.channel, spec)), qmin, qmax);
  }
  return y;
}

FakeQuantGrads fake_quantize_backward(const Tensor& x, const Tensor& scale,
                                      const Tensor* zero_point, const Tensor& dy,
                                      const FakeQuantSpec& spec) {
  check_params(scale, zero_point);
  const ChannelIndex ci = channel_index(x, scale, spec);
  FakeQuantGrads g;
  g.dx = Tensor::empty(DType::kFloat32, x.shape());
  const float* px = x.data<float>();
  const float* ps = scale.data<float>();
  const float* pdy = dy.data<float>();
  float* pdx = g.dx.data<float>();
  const std::vector<Run> runs = runs_of(x.numel(), ci);
  // Each run's sums kept apart and added in run order: the same result for any thread count.
  std::vector<double> run_ds(runs.size(), 0.0), run_dz(runs.size(), 0.0);
  const auto qmin = static_cast<float>(spec.qmin), qmax = static_cast<float>(spec.qmax);
#pragma omp parallel for if (x.numel() > 65536) schedule(static)
  for (size_t r = 0; r < runs.size(); ++r) {
    const Run& run = runs[r];
    x86::fake_quantize_grad_loop(px + run.start, pdy + run.start, pdx + run.start, run.count,
                                 ps[run.channel],
                                 static_cast<float>(zero_of(zero_point, run.channel, spec)), qmin,
                                 qmax, run_ds[r], run_dz[r]);
  }
  std::vector<double> ds(static_cast<size_t>(ci.channels), 0.0), dz(ds);
  for (size_t r = 0; r < runs.size(); ++r) {
    ds[static_cast<size_t>(runs[r].channel)] += run_ds[r];
    dz[static_cast<size_t>(runs[r].channel)] += run_dz[r];
  }
  finish_param_grads(x, scale, zero_point, spec, ds, dz, g);
  return g;
}

Node make_fake_quantize_node(const std::string& name, const std::string& x,
                             const std::string& scale, const std::string& zero_point,
                             const std::string& y, const FakeQuantSpec& spec) {
  Node n;
  n.name = name;
  n.op_type = kFakeQuantizeOp;
  n.domain = kInternalDomain;
  n.inputs = {x, scale};
  if (!zero_point.empty()) n.inputs.push_back(zero_point);
  n.outputs = {y};
  n.set_attr("qmin", int64_t{spec.qmin});
  n.set_attr("qmax", int64_t{spec.qmax});
  if (spec.axis >= 0) n.set_attr("axis", spec.axis);
  if (spec.grad_scale > 0) n.set_attr("grad_scale", spec.grad_scale);
  if (spec.per_sample) n.set_attr("per_sample", int64_t{1});
  if (!spec.scale_gradient) n.set_attr("scale_gradient", int64_t{0});
  return n;
}

namespace {

const Tensor* optional_input(const std::vector<const Tensor*>& in, size_t i) {
  return i < in.size() ? in[i] : nullptr;
}

}  // namespace

void register_fake_quantize_gradient(GradientTable& t) {
  BackwardFn backward = [](const GradContext& ctx) {
    const FakeQuantSpec spec = FakeQuantSpec::of(ctx.node);
    const Tensor* zp = optional_input(ctx.inputs, 2);
    FakeQuantGrads g =
        fake_quantize_backward(ctx.input(0), ctx.input(1), zp, ctx.output_grads[0], spec);
    std::vector<Tensor> grads(ctx.inputs.size());
    grads[0] = std::move(g.dx);
    if (spec.scale_gradient) grads[1] = std::move(g.dscale);
    if (zp != nullptr) grads[2] = std::move(g.dzero_point);
    return grads;
  };
  ForwardFn forward = [](const Node& node, const std::vector<const Tensor*>& in) {
    QUENCH_CHECK(in.size() >= 2 && in[0] != nullptr && in[1] != nullptr, ErrorKind::kInvalidModel,
                 "{}: needs X and a scale", node.describe());
    return std::vector<Tensor>{
        fake_quantize(*in[0], *in[1], optional_input(in, 2), FakeQuantSpec::of(node))};
  };
  t.emplace_back(kFakeQuantizeOp, GradientDef{backward, forward});
}

}  // namespace quench::train::qat
