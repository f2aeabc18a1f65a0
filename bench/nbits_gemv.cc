// The int4 GEMV of MatMulNBits (kernels/x86/nbits_gemv.h; its AVX2 and, where the CPU has it,
// AVX-512 column loops side by side) against this machine's read
// bandwidth, one thread: the product streams its packed weights once, so its speed is bounded by
// memory, and the figure is the bytes it reads per second as a fraction of a plain streaming read.
//
//   build/bench/nbits_gemv [--seconds 1] [--rounds 5] [--json]
//
// Read bandwidth: the sum of a 512 MiB buffer of 64-bit words (4 independent sums), far larger
// than the caches, measured before each round of the loops; each loop's fraction is the median
// over the rounds of its bytes per second over its round's bandwidth. GEMV: one row of A times W
// [K, N] with random codes, scales and zero points; bytes read = B (K·N/2) + scales (4 per block) +
// zero points (1 per block), from copies of the weights cycled through (256 MiB) so that none is in
// cache. Medians of repeats, in this thread's CPU time (CLOCK_THREAD_CPUTIME_ID): the machine is
// shared, so wall time would count waits. bench/nbits_gemv_ort.py runs this and ONNX Runtime on the
// same shapes side by side.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/x86/cpu_features.h"
#include "kernels/x86/nbits_gemv.h"
#include "kernels/x86/nbits_int8.h"
#include "quench/tensor.h"

namespace {

using Clock = std::chrono::steady_clock;

// This thread's CPU time: on a shared machine (more runnable threads than cores) wall time
// counts the time the thread waits for a core.
double thread_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Median CPU seconds of one call of `run` over about `seconds` of wall time.
template <class Fn>
double median_seconds(double seconds, Fn&& run) {
  run();  // warm up
  std::vector<double> times;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (times.size() < 5 || (Clock::now() < end && times.size() < 1000)) {
    const double t0 = thread_seconds();
    run();
    times.push_back(thread_seconds() - t0);
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

volatile uint64_t g_sink;

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// Bytes per second of a plain sum over a buffer far larger than the caches.
class ReadBandwidth {
 public:
  ReadBandwidth() : buffer_((size_t{512} << 20) / sizeof(uint64_t)) {
    for (size_t i = 0; i < buffer_.size(); ++i) buffer_[i] = i;
  }
  double measure(double seconds) {
    const double t = median_seconds(seconds, [&] {
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (size_t i = 0; i < buffer_.size(); i += 4) {
        s0 += buffer_[i];
        s1 += buffer_[i + 1];
        s2 += buffer_[i + 2];
        s3 += buffer_[i + 3];
      }
      g_sink = s0 + s1 + s2 + s3;
    });
    return static_cast<double>(buffer_.size() * sizeof(uint64_t)) / t;
  }

 private:
  std::vector<uint64_t> buffer_;
};

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  int rounds = 5;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = std::atof(argv[++i]);
    if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--json") == 0) json = true;
  }
  if (!quench::x86::cpu_features().avx2) {
    std::fprintf(stderr, "nbits_gemv: this CPU has no AVX2\n");
    return 1;
  }
  ReadBandwidth read;
  struct Shape {
    int64_t k, n, block;
  };
  const Shape shapes[] = {
      {4096, 4096, 32}, {4096, 4096, 128}, {4096, 11008, 32}, {4096, 11008, 128}};
  std::mt19937 rng(1);
  for (const Shape& s : shapes) {
    // Copies of the weights cycled through, 256 MiB in all, so that every call reads from memory,
    // not from the last call's cache (the L3 holds a 4096 x 4096 int4 matrix).
    std::vector<quench::x86::Int4Weights> copies;
    size_t total = 0;
    while (total < (size_t{256} << 20) || copies.size() < 2) {
      quench::x86::Int4Weights w;
      w.k = s.k;
      w.n = s.n;
      w.block_size = s.block;
      w.k_blocks = (s.k + s.block - 1) / s.block;
      w.b.resize(static_cast<size_t>(s.n * w.k_blocks * s.block / 2));
      for (uint8_t& v : w.b) v = static_cast<uint8_t>(rng());
      w.scales.resize(static_cast<size_t>(s.n * w.k_blocks));
      for (float& v : w.scales) v = 0.001f + static_cast<float>(rng() % 1000) * 1e-5f;
      w.zero_points.resize(w.scales.size());
      for (int8_t& v : w.zero_points) v = static_cast<int8_t>(rng() % 16);
      total += w.b.size() + w.scales.size() * sizeof(float) + w.zero_points.size();
      copies.push_back(std::move(w));
    }
    const quench::x86::Int4Weights& w = copies[0];
    std::vector<float> a(static_cast<size_t>(s.k)), y(static_cast<size_t>(s.n));
    for (float& v : a) v = static_cast<float>(rng() % 2001) * 1e-3f - 1.f;
    // The integer loops read the weights regrouped (nbits_int8.h), as their kernel keeps them.
    std::vector<quench::x86::Int4GroupedWeights> grouped;
    for (const quench::x86::Int4Weights& c : copies)
      grouped.push_back(quench::x86::group_int4_weights(c));
    const std::shared_ptr<void> scratch =
        quench::aligned_alloc_shared(std::max(quench::x86::int4_scratch_bytes(w, 1),
                                              quench::x86::int4_int8_scratch_bytes(grouped[0], 1)));
    const double bytes =
        static_cast<double>(w.b.size() + w.scales.size() * sizeof(float) + w.zero_points.size());
    // Each column loop this CPU runs, side by side (the last of each compute is the one sessions
    // use): A in float (eq. (144)), then A in int8 (accuracy_level 4, eq. (161)).
    struct Loop {
      std::string name;
      std::function<void(size_t copy)> run;
    };
    std::vector<Loop> loops;
    std::vector<quench::x86::Int4Isa> isas = {quench::x86::Int4Isa::kAvx2};
    if (quench::x86::int4_isa() != quench::x86::Int4Isa::kAvx2) {
      isas.push_back(quench::x86::int4_isa());
    }
    for (quench::x86::Int4Isa isa : isas) {
      loops.push_back({quench::x86::int4_isa_name(isa), [&, isa](size_t copy) {
                         quench::x86::gemv_int4(copies[copy], a.data(), 1, nullptr, y.data(), 0,
                                                s.n, scratch.get(), isa);
                       }});
    }
    std::vector<quench::x86::Int8DotIsa> dots = {quench::x86::Int8DotIsa::kAvx2};
    if (quench::x86::int8_dot_isa() != quench::x86::Int8DotIsa::kAvx2) {
      dots.push_back(quench::x86::int8_dot_isa());
    }
    for (quench::x86::Int8DotIsa dot : dots) {
      loops.push_back(
          {std::string(quench::x86::int8_dot_isa_name(dot)) + "-int8", [&, dot](size_t copy) {
             quench::x86::gemv_int4_int8(grouped[copy], a.data(), 1, nullptr, y.data(), 0, s.n,
                                         scratch.get(), dot);
           }});
    }
    // Rounds of (read bandwidth, each loop): the machine is shared and its bandwidth drifts, so
    // each loop's fraction is taken against the bandwidth of its own round, then the median.
    std::vector<double> bandwidths;
    std::vector<std::vector<double>> times(loops.size()), fractions(loops.size());
    for (int round = 0; round < std::max(rounds, 1); ++round) {
      const double bandwidth = read.measure(seconds);
      bandwidths.push_back(bandwidth);
      for (size_t i = 0; i < loops.size(); ++i) {
        size_t next = 0;
        const double t = median_seconds(seconds, [&] {
          loops[i].run(next);
          next = (next + 1) % copies.size();
        });
        times[i].push_back(t);
        fractions[i].push_back(bytes / t / bandwidth);
      }
    }
    const double bandwidth = median(bandwidths);
    for (size_t i = 0; i < loops.size(); ++i) {
      const double t = median(times[i]), fraction = median(fractions[i]);
      const char* name = loops[i].name.c_str();
      if (json) {
        std::printf(
            "{\"k\": %lld, \"n\": %lld, \"block\": %lld, \"isa\": \"%s\", \"ms\": %.4f, "
            "\"gbs\": %.3f, \"read_gbs\": %.3f, \"fraction\": %.3f}\n",
            static_cast<long long>(s.k), static_cast<long long>(s.n),
            static_cast<long long>(s.block), name, t * 1e3, bytes / t / 1e9, bandwidth / 1e9,
            fraction);
      } else {
        std::printf(
            "int4 GEMV K=%lld N=%lld block %lld, %s: %.3f ms, %.2f GB/s = %.0f%% of read (%.2f "
            "GB/s)\n",
            static_cast<long long>(s.k), static_cast<long long>(s.n),
            static_cast<long long>(s.block), name, t * 1e3, bytes / t / 1e9, 100.0 * fraction,
            bandwidth / 1e9);
      }
    }
  }
  return 0;
}
