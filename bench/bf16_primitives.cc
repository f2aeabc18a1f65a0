// oneDNN's bfloat16 convolution and matrix product against its float32 ones of the same shapes on
// this machine, one thread: does running a bf16 model on oneDNN's bf16 kernels pay here?
//
//   build/bench/bf16_primitives [--seconds 1]
//
// For each shape (the fixture models' layers at batch 32, and one large product) it times the
// float32 primitive, the bf16 one (bf16 source and weights, float32 destination: what a bf16
// model would run with float32 element-wise ops between its products) and the float32 one asked
// for implicit bf16 arithmetic (oneDNN's fpmath_mode::bf16), and prints each implementation's
// name and multiply-adds per second, the median of repeated timed runs of about 0.1 s each. The
// decision it informs is recorded in docs/architecture.md ("Half precision").
#include <omp.h>

#include <cstdio>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/onednn/context.h"
#include "median_rate.h"

namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

struct ConvShape {
  const char* what;
  int64_t n, c, hw, k, kernel, groups;
};
struct MatMulShape {
  const char* what;
  int64_t m, k, n;
};

const ConvShape kConvs[] = {
    {"cnn conv2 3x3 32->64, 14x14", 32, 32, 14, 64, 3, 1},
    {"resnet20 3x3 16->16, 28x28", 32, 16, 28, 16, 3, 1},
    {"resnet20 3x3 64->64, 7x7", 32, 64, 7, 64, 3, 1},
    {"mobilenetv2 1x1 96->576, 7x7", 32, 96, 7, 576, 1, 1},
    {"mobilenetv2 dw 3x3 576, 7x7", 32, 576, 7, 576, 3, 576},
};
const MatMulShape kMatMuls[] = {
    {"vit qkv (tokens of 32 images)", 1600, 64, 192},
    {"vit fc1", 1600, 64, 128},
    {"square 1024", 1024, 1024, 1024},
};

// Median multiply-adds per second (G/s) of `prim` over `seconds`.
double gmacs(dnnl::primitive& prim, std::unordered_map<int, memory>& args, double macs,
             double seconds) {
  dnnl::stream& s = quench::onednn::stream();
  return quench::bench::median_giga_rate(macs, seconds, [&] {
    prim.execute(s, args);
    s.wait();
  });
}

struct Variant {
  const char* name;
  dt data;
  bool fpmath_bf16;
};
const Variant kVariants[] = {
    {"f32", dt::f32, false}, {"bf16", dt::bf16, false}, {"f32+fpmath:bf16", dt::f32, true}};

// Filled memories for every argument of a primitive descriptor's source, weights and destination.
std::unordered_map<int, memory> arguments(const memory::desc& src, const memory::desc& weights,
                                          const memory::desc& dst) {
  dnnl::engine& e = quench::onednn::engine();
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(src, e)},
                                       {DNNL_ARG_WEIGHTS, memory(weights, e)},
                                       {DNNL_ARG_DST, memory(dst, e)}};
  for (auto& [id, m] : args) std::memset(m.get_data_handle(), 0, m.get_desc().get_size());
  return args;
}

void conv_row(const ConvShape& c, double seconds) {
  const double macs =
      static_cast<double>(c.n) * c.k * c.hw * c.hw * (c.c / c.groups) * c.kernel * c.kernel;
  std::printf("%-32s", c.what);
  for (const Variant& v : kVariants) {
    const memory::dims w_dims =
        c.groups == 1 ? memory::dims{c.k, c.c, c.kernel, c.kernel}
                      : memory::dims{c.groups, c.k / c.groups, c.c / c.groups, c.kernel, c.kernel};
    const int64_t pad = c.kernel / 2;
    const memory::desc src({c.n, c.c, c.hw, c.hw}, v.data, tag::any);
    const memory::desc w(w_dims, v.data, tag::any);
    const memory::desc dst({c.n, c.k, c.hw, c.hw}, dt::f32, tag::any);
    dnnl::primitive_attr attr;
    if (v.fpmath_bf16) attr.set_fpmath_mode(dnnl::fpmath_mode::bf16);
    const dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                            dnnl::algorithm::convolution_direct, src, w, dst,
                                            {1, 1}, {pad, pad}, {pad, pad});
    const dnnl::convolution_forward::primitive_desc pd(d, attr, quench::onednn::engine());
    dnnl::primitive prim = dnnl::convolution_forward(pd);
    auto args = arguments(pd.src_desc(), pd.weights_desc(), pd.dst_desc());
    std::printf("  %s %6.1f (%s)", v.name, gmacs(prim, args, macs, seconds), pd.impl_info_str());
  }
  std::printf("\n");
}

void matmul_row(const MatMulShape& m, double seconds) {
  const double macs = static_cast<double>(m.m) * m.k * m.n;
  std::printf("%-32s", m.what);
  for (const Variant& v : kVariants) {
    const memory::desc src({m.m, m.k}, v.data, tag::ab);
    const memory::desc w({m.k, m.n}, v.data, tag::any);
    const memory::desc dst({m.m, m.n}, dt::f32, tag::ab);
    dnnl::primitive_attr attr;
    if (v.fpmath_bf16) attr.set_fpmath_mode(dnnl::fpmath_mode::bf16);
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, w, dst), attr,
                                          quench::onednn::engine());
    dnnl::primitive prim = dnnl::matmul(pd);
    auto args = arguments(pd.src_desc(), pd.weights_desc(), pd.dst_desc());
    std::printf("  %s %6.1f (%s)", v.name, gmacs(prim, args, macs, seconds), pd.impl_info_str());
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--seconds") seconds = std::stod(argv[i + 1]);
  }
  omp_set_num_threads(1);
  std::printf("G multiply-adds/s, one thread (implementation in parentheses)\n");
  for (const ConvShape& c : kConvs) conv_row(c, seconds);
  for (const MatMulShape& m : kMatMuls) matmul_row(m, seconds);
  return 0;
}
