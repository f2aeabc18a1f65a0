// Every oneDNN int8 convolution implementation quench could pick, timed at one thread on the layer
// shapes of the fixture models (u8 in and out, channels-last, per-channel scales, bias, ReLU — as
// the QDQ lowering runs them), next to the one quench prefers (preferred_int8_conv_impls).
//
//   build/bench/int8_conv_impls [--runs 200] [--batch 32] [--src-zero-point 0]
//                               [--epilogue relu|swish|swish-channel]
//
// A source zero point (u8 inputs that are not ReLU outputs) keeps oneDNN's AMX brgemm kernels off
// padded layers. --epilogue swish applies eq. (150)'s swish at one output step (oneDNN's swish
// with alpha t) instead of the ReLU, swish-channel the per-channel form (real output scales, the
// swish, a per-channel binary_mul by 1/t) that NNCF's per-channel quantized outputs need; both
// then add the output zero point by a linear post-op, as quench does.
//
// Prints the median time of each implementation per layer and marks the fastest and quench's pick.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/onednn/context.h"
#include "kernels/onednn/qconv.h"

namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

struct Layer {
  const char* model;
  int64_t in_channels, out_channels, size, kernel, stride, groups;
};

// Representative layers: cnn's and resnet20's dense 3x3, mobilenetv2's 1x1 and depthwise 3x3.
const Layer kLayers[] = {
    {"cnn", 32, 32, 28, 3, 1, 1},
    {"cnn", 64, 64, 14, 3, 1, 1},
    {"cnn", 64, 128, 7, 3, 1, 1},
    {"resnet20", 16, 16, 28, 3, 1, 1},
    {"resnet20", 32, 64, 14, 3, 2, 1},
    {"mobilenetv2", 1, 32, 28, 3, 1, 1},
    {"resnet18", 3, 64, 224, 7, 2, 1},
    {"mobilenetv2", 16, 96, 28, 1, 1, 1},
    {"mobilenetv2", 96, 24, 14, 1, 1, 1},
    {"mobilenetv2", 32, 192, 7, 1, 1, 1},
    {"mobilenetv2", 192, 64, 4, 1, 1, 1},
    {"mobilenetv2", 144, 24, 14, 1, 1, 1},
    {"mobilenetv2", 96, 576, 4, 1, 1, 1},
    {"mobilenetv2", 320, 1280, 2, 1, 1, 1},
    {"mobilenetv2", 32, 32, 28, 3, 1, 32},
    {"mobilenetv2", 96, 96, 28, 3, 2, 96},
    {"mobilenetv2", 144, 144, 14, 3, 1, 144},
    {"mobilenetv2", 192, 192, 7, 3, 1, 192},
    {"mobilenetv2", 192, 192, 7, 3, 2, 192},
    {"mobilenetv2", 576, 576, 4, 3, 1, 576},
    {"mobilenetv2", 960, 960, 2, 3, 1, 960},
    // ImageNet-size mobilenet_v2 (224x224): the slowest layers at batch 1.
    {"mobilenet_v2", 16, 96, 112, 1, 1, 1},
    {"mobilenet_v2", 24, 144, 56, 1, 1, 1},
    {"mobilenet_v2", 320, 1280, 7, 1, 1, 1},
    {"mobilenet_v2", 3, 32, 224, 3, 2, 1},
    {"mobilenet_v2", 32, 32, 112, 3, 1, 32},
    {"mobilenet_v2", 96, 96, 112, 3, 2, 96},
    {"mobilenet_v2", 144, 144, 56, 3, 1, 144},
    {"mobilenet_v2", 32, 192, 28, 1, 1, 1},
    {"mobilenet_v2", 192, 32, 28, 1, 1, 1},
    {"mobilenet_v2", 64, 384, 14, 1, 1, 1},
    {"mobilenet_v2", 384, 64, 14, 1, 1, 1},
    {"mobilenet_v2", 96, 576, 14, 1, 1, 1},
    {"mobilenet_v2", 576, 96, 14, 1, 1, 1},
    {"mobilenet_v2", 160, 960, 7, 1, 1, 1},
    {"mobilenet_v2", 960, 160, 7, 1, 1, 1},
    {"mobilenet_v2", 960, 320, 7, 1, 1, 1},
    {"mobilenet_v2", 384, 384, 14, 3, 1, 384},
    {"mobilenet_v2", 576, 576, 14, 3, 2, 576},
    {"mobilenet_v2", 960, 960, 7, 3, 1, 960},
    {"resnet18", 256, 512, 14, 1, 2, 1},
    {"resnet18", 512, 512, 7, 3, 1, 1},
    {"resnet18", 256, 256, 14, 3, 1, 1},
};

// "brgconv:avx512_core_amx" -> "brgconv:amx".
std::string short_name(const std::string& impl) {
  std::string name = impl;
  const std::string prefix = "avx512_core_";
  if (const size_t at = name.find(prefix); at != std::string::npos) name.erase(at, prefix.size());
  return name;
}

// Every jit and brgemm kernel (AMX ones included); not oneDNN's reference or gemm-based ones.
bool is_candidate(const std::string& impl) {
  return impl.starts_with("brg") || impl.starts_with("brd") || impl.starts_with("jit");
}

double median_ms(dnnl::convolution_forward::primitive_desc& pd, const dnnl::engine& engine,
                 int runs, const memory::desc* binary) {
  dnnl::stream stream(engine);
  dnnl::convolution_forward conv(pd);
  memory src(pd.src_desc(), engine), weights(pd.weights_desc(), engine);
  memory bias(pd.bias_desc(), engine), dst(pd.dst_desc(), engine);
  std::memset(src.get_data_handle(), 3, pd.src_desc().get_size());
  std::memset(weights.get_data_handle(), 1, pd.weights_desc().get_size());
  std::memset(bias.get_data_handle(), 0, pd.bias_desc().get_size());
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}};
  if (binary != nullptr) {
    memory factors(*binary, engine);
    float* f = static_cast<float*>(factors.get_data_handle());
    std::fill(f, f + binary->get_size() / sizeof(float), 0.5f);
    args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1, factors);
  }
  std::vector<double> ms;
  for (int r = 0; r < runs + 5; ++r) {
    const auto start = std::chrono::steady_clock::now();
    conv.execute(stream, args);
    stream.wait();
    const auto end = std::chrono::steady_clock::now();
    if (r >= 5) ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 200;
  int64_t batch = 32;
  int32_t src_zero_point = 0;
  std::string epilogue = "relu";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--batch") == 0) batch = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--src-zero-point") == 0) src_zero_point = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--epilogue") == 0) epilogue = argv[i + 1];
  }
  if (epilogue != "relu" && epilogue != "swish" && epilogue != "swish-channel") {
    std::fprintf(stderr, "--epilogue: expected relu, swish or swish-channel, got '%s'\n",
                 epilogue.c_str());
    return 2;
  }
  omp_set_num_threads(1);
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  std::printf(
      "batch %lld, source zero point %d, epilogue %s, 1 thread, median of %d runs; * fastest, < "
      "quench's pick\n",
      static_cast<long long>(batch), src_zero_point, epilogue.c_str(), runs);
  for (const Layer& l : kLayers) {
    const int64_t pad = l.kernel / 2;
    const int64_t out = (l.size + 2 * pad - l.kernel) / l.stride + 1;
    const memory::desc src({batch, l.in_channels, l.size, l.size}, dt::u8, tag::nhwc);
    const memory::desc dst({batch, l.out_channels, out, out}, dt::u8, tag::nhwc);
    const memory::dims w_dims =
        l.groups == 1 ? memory::dims{l.out_channels, l.in_channels, l.kernel, l.kernel}
                      : memory::dims{l.groups, l.out_channels / l.groups, l.in_channels / l.groups,
                                     l.kernel, l.kernel};
    const memory::desc weights(w_dims, dt::s8, tag::any);
    const memory::desc bias({l.out_channels}, dt::s32, tag::a);
    const dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src, weights, bias,
        dst, {l.stride, l.stride}, {0, 0}, {pad, pad}, {pad, pad});
    dnnl::primitive_attr attr;
    if (src_zero_point != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {src_zero_point});
    attr.set_output_scales(1 << 1, std::vector<float>(static_cast<size_t>(l.out_channels), 0.01f));
    dnnl::post_ops ops;
    const memory::desc per_channel({1, l.out_channels, 1, 1}, dt::f32, tag::abcd);
    if (epilogue == "relu") ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    if (epilogue == "swish") ops.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 0.05f, 0.f);
    if (epilogue == "swish-channel") {
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 1.f, 0.f);
      ops.append_binary(dnnl::algorithm::binary_mul, per_channel);
    }
    // The output zero point as quench adds it (Int8Requant::attr: a last linear post-op).
    if (epilogue != "relu") ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, 1.f, 3.f);
    attr.set_post_ops(ops);
    const memory::desc* binary = epilogue == "swish-channel" ? &per_channel : nullptr;
    const auto layer = quench::onednn::Int8ConvLayer::of(
        {l.out_channels, l.in_channels / l.groups, l.kernel, l.kernel},
        {batch, l.out_channels, out, out}, l.groups);
    const auto picks = quench::onednn::preferred_int8_conv_impls(layer, quench::onednn::uses_amx());

    std::vector<std::pair<std::string, double>> times;
    dnnl::convolution_forward::primitive_desc pd(desc, attr, engine);
    const std::string first = pd.impl_info_str();
    do {
      if (is_candidate(pd.impl_info_str())) {
        times.emplace_back(pd.impl_info_str(), median_ms(pd, engine, runs, binary));
      }
    } while (pd.next_impl());
    // quench takes the first implementation whose name contains its first pick, else its second
    // pick, ..., else oneDNN's first.
    std::string chosen = first;
    for (const std::string_view pick : picks) {
      const auto match = std::find_if(times.begin(), times.end(), [&](const auto& time) {
        return time.first.find(pick) != std::string::npos;
      });
      if (match != times.end()) {
        chosen = match->first;
        break;
      }
    }
    const auto fastest = std::min_element(times.begin(), times.end(),
                                          [](auto& a, auto& b) { return a.second < b.second; });
    std::printf("%-12s %4lld->%-4lld %2lldx%-2lld k%lld s%lld g%-4lld", l.model,
                static_cast<long long>(l.in_channels), static_cast<long long>(l.out_channels),
                static_cast<long long>(l.size), static_cast<long long>(l.size),
                static_cast<long long>(l.kernel), static_cast<long long>(l.stride),
                static_cast<long long>(l.groups));
    for (const auto& [impl, ms] : times) {
      std::printf("  %s %.4f%s%s", short_name(impl).c_str(), ms, impl == fastest->first ? "*" : "",
                  impl == chosen ? "<" : "");
    }
    std::printf("\n");
  }
  return 0;
}
