// Depthwise int8 convolutions on the layer shapes of mobilenet_v2 (224x224, batch 1) and the
// Fashion-MNIST mobilenetv2 (batch 32): quench's AVX-512 VNNI kernel (eq. (163)) against oneDNN's
// (the implementation qconv.cc picks), each built by its kernel factory as the runtime builds it
// (u8 channels-last activations, s8 per-channel weights, bias, ReLU6 fused, 1 thread), and, per
// expanding 1x1 + depthwise pair, oneDNN's fused form (post_ops::append_dw) against the two
// convolutions run one after the other.
//
//   build/bench/int8_depthwise [--seconds 0.5]
//
// Prints G multiply-adds/s and the ratio of the times (below 1: the first is faster).
#include <omp.h>

#include <cstdio>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/layout.h"
#include "kernels/onednn/qconv.h"
#include "kernels/x86/cpu_features.h"
#include "kernels/x86/int8_conv.h"
#include "median_rate.h"
#include "ops/domains.h"
#include "ops/op_registry.h"
#include "quench/graph.h"
#include "quench/tensor.h"

namespace {

using namespace quench;

struct Layer {
  const char* model;
  int64_t batch, channels, size, stride;
};

const Layer kLayers[] = {
    {"mobilenet_v2", 1, 32, 112, 1}, {"mobilenet_v2", 1, 96, 112, 2},
    {"mobilenet_v2", 1, 144, 56, 1}, {"mobilenet_v2", 1, 144, 56, 2},
    {"mobilenet_v2", 1, 192, 28, 1}, {"mobilenet_v2", 1, 192, 28, 2},
    {"mobilenet_v2", 1, 384, 14, 1}, {"mobilenet_v2", 1, 576, 14, 1},
    {"mobilenet_v2", 1, 576, 14, 2}, {"mobilenet_v2", 1, 960, 7, 1},
    {"mobilenetv2", 32, 32, 28, 1},  {"mobilenetv2", 32, 96, 28, 2},
    {"mobilenetv2", 32, 144, 14, 1}, {"mobilenetv2", 32, 192, 7, 1},
    {"mobilenetv2", 32, 384, 4, 1},  {"mobilenetv2", 32, 960, 2, 1},
};

Tensor random_bytes(DType type, const Shape& shape, std::mt19937& rng) {
  Tensor t = Tensor::empty(type, shape);
  std::uniform_int_distribution<int> byte(0, 255);
  auto* data = static_cast<uint8_t*>(t.raw_data());
  for (int64_t i = 0; i < t.numel(); ++i) data[i] = static_cast<uint8_t>(byte(rng));
  return t;
}

// The layer's QFusedConv (ReLU6 as act bounds) timed on the kernel `make` builds, in G
// multiply-adds/s; 0 where it declines. `impl` gets the kernel's name.
double fused_conv_rate(const Layer& l, KernelFactory make, double seconds, std::string& impl) {
  std::mt19937 rng(7);
  const int64_t c = l.channels, out = (l.size - 1) / l.stride + 1;
  const Shape x_shape{l.batch, c, l.size, l.size}, y_shape{l.batch, c, out, out};
  std::vector<float> w_scales(static_cast<size_t>(c));
  std::vector<int32_t> bias(static_cast<size_t>(c));
  for (int64_t i = 0; i < c; ++i) {
    w_scales[i] = 0.003f + 0.0001f * static_cast<float>(i % 7);
    bias[i] = static_cast<int32_t>(i * 37 % 2001) - 1000;
  }
  // Inputs of QFusedConv: x, its scale and zero point, w, its scales and zero point, y's scale and
  // zero point, bias.
  std::vector<Tensor> values = {random_bytes(DType::kUInt8, x_shape, rng),
                                Tensor::scalar(0.02f),
                                Tensor::empty(DType::kUInt8, {}),
                                random_bytes(DType::kInt8, {c, 1, 3, 3}, rng),
                                Tensor::from_vector({c}, w_scales),
                                Tensor::empty(DType::kInt8, {c}),
                                Tensor::scalar(0.03f),
                                Tensor::empty(DType::kUInt8, {}),
                                Tensor::from_vector({c}, bias)};
  std::memset(values[2].raw_data(), 0, 1);
  std::memset(values[5].raw_data(), 0, static_cast<size_t>(c));
  std::memset(values[7].raw_data(), 0, 1);
  Node node;
  node.op_type = "QFusedConv";
  node.domain = kInternalDomain;
  node.name = "dw";
  node.outputs = {"y"};
  for (const char* name : {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"}) {
    node.inputs.push_back(name);
  }
  node.set_attr("group", c);
  node.set_attr("pads", std::vector<int64_t>{1, 1, 1, 1});
  node.set_attr("strides", std::vector<int64_t>{l.stride, l.stride});
  node.set_attr("act_min", 0.f);
  node.set_attr("act_max", 6.f);
  KernelContext ctx{node, 17, {}, {}, 1, true};
  for (size_t i = 0; i < values.size(); ++i) {
    TensorDesc d{values[i].dtype(), values[i].shape(), i == 0 ? nullptr : &values[i], {}};
    if (i == 0) d.layout = channels_last_layout(d.dtype, d.shape);
    ctx.inputs.push_back(d);
  }
  ctx.outputs.push_back(TensorDesc{DType::kUInt8, y_shape, nullptr, {}});
  const std::unique_ptr<Kernel> kernel = make(ctx);
  if (!kernel) return 0;
  impl = kernel->impl();
  Tensor y = Tensor::empty(DType::kUInt8, y_shape);
  std::vector<const void*> inputs;
  for (const Tensor& t : values) inputs.push_back(t.raw_data());
  void* outputs[] = {y.raw_data()};
  const std::shared_ptr<void> scratch = aligned_alloc_shared(kernel->scratch_bytes());
  const std::unique_ptr<KernelState> state = kernel->make_state();
  const KernelArgs args{inputs.data(), outputs, scratch.get(), state.get()};
  const double macs = static_cast<double>(shape_numel(y_shape)) * 9;
  return bench::median_giga_rate(macs, seconds, [&] { kernel->run(args); });
}

// oneDNN's expanding 1x1 (c_in -> c, ReLU6) then the depthwise 3x3 (ReLU6): both primitives in
// turn, and the 1x1 with the depthwise as its post-op. Times in ms; `fused_impl` names the fused
// primitive oneDNN picks.
void append_dw_times(const Layer& l, int64_t c_in, double seconds, double& separate, double& fused,
                     std::string& fused_impl) {
  using dnnl::memory;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const int64_t c = l.channels, out = (l.size - 1) / l.stride + 1;
  const memory::desc src({l.batch, c_in, l.size, l.size}, dt::u8, tag::nhwc);
  const memory::desc mid({l.batch, c, l.size, l.size}, dt::u8, tag::nhwc);
  const memory::desc dst({l.batch, c, out, out}, dt::u8, tag::nhwc);
  const memory::desc w1({c, c_in, 1, 1}, dt::s8, tag::any), wd({c, 1, 1, 3, 3}, dt::s8, tag::any);
  const memory::desc bias({c}, dt::s32, tag::a);
  const std::vector<float> scales(static_cast<size_t>(c), 0.01f);
  dnnl::post_ops relu6;
  relu6.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f);
  dnnl::primitive_attr attr;
  attr.set_output_scales(2, scales);
  attr.set_post_ops(relu6);
  const auto conv = [&](const memory::desc& s, const memory::desc& w, const memory::desc& d,
                        int64_t stride, int64_t pad, const dnnl::primitive_attr& a) {
    return dnnl::convolution_forward::primitive_desc({dnnl::prop_kind::forward_inference,
                                                      dnnl::algorithm::convolution_direct,
                                                      s,
                                                      w,
                                                      bias,
                                                      d,
                                                      {stride, stride},
                                                      {pad, pad},
                                                      {pad, pad}},
                                                     a, engine);
  };
  auto filled = [&](const memory::desc& d, int value) {
    memory m(d, engine);
    std::memset(m.get_data_handle(), value, d.get_size());
    return m;
  };
  const auto pd1 = conv(src, w1, mid, 1, 0, attr), pdd = conv(mid, wd, dst, l.stride, 1, attr);
  memory x = filled(src, 3), m = filled(mid, 0), y = filled(dst, 0), b = filled(bias, 0);
  std::unordered_map<int, memory> args1 = {{DNNL_ARG_SRC, x},
                                           {DNNL_ARG_WEIGHTS, filled(pd1.weights_desc(), 1)},
                                           {DNNL_ARG_BIAS, b},
                                           {DNNL_ARG_DST, m}};
  std::unordered_map<int, memory> argsd = {{DNNL_ARG_SRC, m},
                                           {DNNL_ARG_WEIGHTS, filled(pdd.weights_desc(), 1)},
                                           {DNNL_ARG_BIAS, b},
                                           {DNNL_ARG_DST, y}};
  const dnnl::convolution_forward p1(pd1), pd(pdd);
  separate = 1e-6 / bench::median_giga_rate(1, seconds, [&] {
               p1.execute(stream, args1);
               pd.execute(stream, argsd);
               stream.wait();
             });
  dnnl::post_ops ops = relu6;
  ops.append_dw(dt::s8, dt::s32, dt::u8, 3, l.stride, 1, 2, scales);
  ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f);
  dnnl::primitive_attr fused_attr;
  fused_attr.set_output_scales(2, scales);
  fused_attr.set_post_ops(ops);
  const auto pdf = conv(src, w1, mid, 1, 0, fused_attr);
  fused_impl = pdf.impl_info_str();
  const memory dw_weights = filled(
      pdf.query_md(dnnl::query::exec_arg_md, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS), 1);
  std::unordered_map<int, memory> argsf = {
      {DNNL_ARG_SRC, x},
      {DNNL_ARG_WEIGHTS, filled(pdf.weights_desc(), 1)},
      {DNNL_ARG_BIAS, b},
      {DNNL_ARG_DST, filled(pdf.dst_desc(), 0)},
      {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS, dw_weights},
      {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS, b}};
  const dnnl::convolution_forward pf(pdf);
  fused = 1e-6 / bench::median_giga_rate(1, seconds, [&] {
            pf.execute(stream, argsf);
            stream.wait();
          });
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0.5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
  }
  omp_set_num_threads(1);
  std::printf("CPU: %s; 1 thread, median rates over %.1f s per case\n",
              quench::x86::cpu_features().describe().c_str(), seconds);
  std::printf("%-13s %5s %5s %4s %2s | %-22s %7s | %-30s %7s | %s\n", "model", "batch", "ch",
              "size", "s", "quench", "G/s", "oneDNN", "G/s", "oneDNN / quench time");
  for (const Layer& l : kLayers) {
    std::string ours = "declined", theirs = "declined";
    const double a = fused_conv_rate(l, quench::x86::make_qdepthwise_conv, seconds, ours);
    const double b = fused_conv_rate(l, quench::onednn::make_qconv, seconds, theirs);
    std::printf("%-13s %5lld %5lld %4lld %2lld | %-22s %7.1f | %-30s %7.1f | %.2f\n", l.model,
                static_cast<long long>(l.batch), static_cast<long long>(l.channels),
                static_cast<long long>(l.size), static_cast<long long>(l.stride), ours.c_str(), a,
                theirs.c_str(), b, b > 0 ? a / b : 0);
  }
  std::printf("\noneDNN's 1x1 (c/6 -> c) + depthwise: fused by append_dw vs the two in turn\n");
  for (const Layer& l : kLayers) {
    double separate = 0, fused = 0;
    std::string impl;
    append_dw_times(l, l.channels / 6 > 0 ? l.channels / 6 : 1, seconds, separate, fused, impl);
    std::printf("%-13s %5lld %5lld %4lld %2lld | separate %.4f ms, fused %.4f ms (%.2f) %s\n",
                l.model, static_cast<long long>(l.batch), static_cast<long long>(l.channels),
                static_cast<long long>(l.size), static_cast<long long>(l.stride), separate, fused,
                fused / separate, impl.c_str());
  }
  return 0;
}
