// The x86 int8 GEMM core (kernels/x86/int8_gemm.h: int16 pairs, vpmaddwd, 6x16 tiles) against
// oneDNN's FP32 matmul of the same size on this machine, one thread: multiply-adds per second.
//
//   build/bench/int8_gemm [--seconds 1]
//
// Both sides multiply a [M, K] matrix by a [K, N] one packed ahead (the core: A and B packed as
// the kernels pack them; oneDNN: weights in the primitive's preferred layout) and write int32 or
// float results; the figure is the median of repeated timed runs of about 0.1 s each.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <vector>

#include "kernels/onednn/context.h"
#include "kernels/x86/cpu_features.h"
#include "kernels/x86/int8_gemm.h"
#include "median_rate.h"

namespace {

struct Size {
  const char* what;
  int64_t m, n, k;
};

// Shapes of the fixture models' products (rows: output positions or tokens of a batch of 32).
const Size kSizes[] = {
    {"resnet20 3x3, 16 ch", 25088, 16, 144},
    {"cnn 3x3, 64 ch", 6272, 64, 576},
    {"mobilenetv2 1x1 320->1280", 128, 1280, 320},
    {"vit qkv", 1600, 192, 64},
    {"vit fc2", 1600, 64, 128},
    {"square 512", 512, 512, 512},
    {"square 1024", 1024, 1024, 1024},
};

// Median multiply-adds per second (G/s) of `run` over `seconds`.
template <class Fn>
double gmacs(const Size& s, double seconds, Fn&& run) {
  return quench::bench::median_giga_rate(static_cast<double>(s.m) * s.n * s.k, seconds, run);
}

double int8_core(const Size& s, double seconds, std::mt19937& rng) {
  std::uniform_int_distribution<int> value(-255, 255);
  std::vector<int16_t> a(static_cast<size_t>(s.m * s.k)), b_t(static_cast<size_t>(s.n * s.k));
  for (int16_t& v : a) v = static_cast<int16_t>(value(rng));
  for (int16_t& v : b_t) v = static_cast<int16_t>(value(rng));
  std::vector<int32_t> packed_a(static_cast<size_t>(quench::x86::packed_a_size(s.m, s.k)));
  std::vector<int32_t> packed_b(static_cast<size_t>(quench::x86::packed_b_size(s.k, s.n)));
  quench::x86::pack_a(a.data(), s.m, s.k, packed_a.data());
  quench::x86::pack_b_transposed(b_t.data(), s.n, s.k, packed_b.data());
  std::vector<int32_t> c(static_cast<size_t>(s.m * s.n));
  return gmacs(s, seconds, [&] {
    quench::x86::avx2::gemm_s16(s.m, s.n, quench::x86::pair_count(s.k),
                                quench::x86::packed_a_view(packed_a.data(), s.k),
                                quench::x86::packed_b_view(packed_b.data(), s.k), c.data(), s.n);
  });
}

double onednn_f32(const Size& s, double seconds, std::mt19937& rng) {
  using dnnl::memory;
  using tag = memory::format_tag;
  const auto f32 = memory::data_type::f32;
  const memory::desc src({s.m, s.k}, f32, tag::ab), dst({s.m, s.n}, f32, tag::ab);
  const memory::desc weights_any({s.k, s.n}, f32, tag::any),
      weights_plain({s.k, s.n}, f32, tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights_any, dst),
                                        quench::onednn::engine());
  std::uniform_real_distribution<float> value(-1.f, 1.f);
  memory a(src, quench::onednn::engine()), c(dst, quench::onednn::engine());
  memory b_plain(weights_plain, quench::onednn::engine());
  memory b(pd.weights_desc(), quench::onednn::engine());
  for (memory* m : {&a, &b_plain}) {
    auto* p = static_cast<float*>(m->get_data_handle());
    for (size_t i = 0; i < m->get_desc().get_size() / sizeof(float); ++i) p[i] = value(rng);
  }
  dnnl::stream& stream = quench::onednn::stream();
  dnnl::reorder(b_plain, b).execute(stream, b_plain, b);
  const dnnl::matmul matmul(pd);
  return gmacs(s, seconds, [&] {
    matmul.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    stream.wait();
  });
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::stod(argv[++i]);
  }
  if (!quench::x86::cpu_features().avx2) {
    std::printf("no AVX2 on this CPU: the x86 int8 core does not run here\n");
    return 0;
  }
  omp_set_num_threads(1);
  std::mt19937 rng(1);
  std::printf("one thread; CPU features: %s\n\n", quench::x86::cpu_features().describe().c_str());
  std::printf("| product | M | N | K | int8 core GMAC/s | oneDNN f32 GMAC/s | int8 / f32 |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
  for (const Size& s : kSizes) {
    const double int8 = int8_core(s, seconds, rng);
    const double f32 = onednn_f32(s, seconds, rng);
    std::printf("| %s | %lld | %lld | %lld | %.1f | %.1f | %.2f |\n", s.what,
                static_cast<long long>(s.m), static_cast<long long>(s.n),
                static_cast<long long>(s.k), int8, f32, int8 / f32);
    std::fflush(stdout);
  }
  return 0;
}
