// One core's arithmetic peak, for the "% of peak" figures of docs/benchmarks.md: a loop of
// independent register-only multiply-adds, no memory traffic, best of 5 runs. AVX-512 VNNI
// (vpdpbusd on 16 int32 lanes: 64 u8·s8 products per instruction), AVX2 without VNNI (vpmaddubsw
// + vpmaddwd: 32 products per pair, saturating pairs; the exact int16 form of quench's AVX2
// kernels costs more), FP32 FMA on 16 and 8 lanes, and AVX512_BF16 (vdpbf16ps: 32 bf16 products
// per instruction, into 16 float lanes) — whether bf16 arithmetic can outrun float on this CPU.
//
//   build/bench/int8_peak
#include <chrono>
#include <cstdint>
#include <cstdio>

namespace {

constexpr int64_t kSteps = 1 << 22;  // loop iterations per timed run

template <class Body>
double best_rate(double ops_per_step, Body body) {
  double best = 0;
  for (int run = 0; run < 5; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rate = ops_per_step * static_cast<double>(kSteps) / s;
    if (rate > best) best = rate;
  }
  return best;
}

// Twelve independent accumulators (more than latency × throughput needs), written in assembly:
// GCC 12 copies every register of an accumulator array once per step in the equivalent intrinsics
// loop, which then measures the front end rather than the multipliers.
#define QUENCH_TWELVE(op, srcs, reg)                                                              \
  op " " srcs ", %%" reg "0\n\t" op " " srcs ", %%" reg "1\n\t" op " " srcs ", %%" reg "2\n\t" op \
     " " srcs ", %%" reg "3\n\t" op " " srcs ", %%" reg "4\n\t" op " " srcs ", %%" reg "5\n\t" op \
     " " srcs ", %%" reg "6\n\t" op " " srcs ", %%" reg "7\n\t" op " " srcs ", %%" reg "8\n\t" op \
     " " srcs ", %%" reg "9\n\t" op " " srcs ", %%" reg "10\n\t" op " " srcs ", %%" reg "11\n\t"

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void vnni512() {
  asm volatile(
      "vpternlogd $0xff, %%zmm30, %%zmm30, %%zmm30\n\t"
      "vpternlogd $0xff, %%zmm31, %%zmm31, %%zmm31" ::
          : "xmm30", "xmm31");
  for (int64_t s = 0; s < kSteps; ++s) {
    asm volatile(QUENCH_TWELVE("vpdpbusd", "%%zmm30, %%zmm31", "zmm")::
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11");
  }
}

__attribute__((target("avx512f"))) void fma512() {
  asm volatile(
      "vxorps %%xmm30, %%xmm30, %%xmm30\n\t"
      "vxorps %%xmm31, %%xmm31, %%xmm31" ::
          : "xmm30", "xmm31");
  for (int64_t s = 0; s < kSteps; ++s) {
    asm volatile(QUENCH_TWELVE("vfmadd231ps", "%%zmm30, %%zmm31", "zmm")::
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11");
  }
}

__attribute__((target("avx512f,avx512bf16"))) void bf16_512() {
  asm volatile(
      "vxorps %%xmm30, %%xmm30, %%xmm30\n\t"
      "vxorps %%xmm31, %%xmm31, %%xmm31" ::
          : "xmm30", "xmm31");
  for (int64_t s = 0; s < kSteps; ++s) {
    asm volatile(QUENCH_TWELVE("vdpbf16ps", "%%zmm30, %%zmm31", "zmm")::
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11");
  }
}

__attribute__((target("avx2,fma"))) void fma256() {
  asm volatile(
      "vxorps %%xmm14, %%xmm14, %%xmm14\n\t"
      "vxorps %%xmm15, %%xmm15, %%xmm15" ::
          : "xmm14", "xmm15");
  for (int64_t s = 0; s < kSteps; ++s) {
    asm volatile(QUENCH_TWELVE("vfmadd231ps", "%%ymm14, %%ymm15", "ymm")::
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11");
  }
}

// AVX2 without VNNI: per step 4 chains of vpmaddubsw (u8·s8 pairs to int16) + vpmaddwd (pairs of
// int16 to int32) + vpaddd; 32 products per chain.
__attribute__((target("avx2"))) void avx2_int8() {
  asm volatile(
      "vpcmpeqd %%ymm14, %%ymm14, %%ymm14\n\t"
      "vpcmpeqd %%ymm15, %%ymm15, %%ymm15" ::
          : "xmm14", "xmm15");
  for (int64_t s = 0; s < kSteps; ++s) {
    asm volatile(
        "vpmaddubsw %%ymm14, %%ymm15, %%ymm0\n\t"
        "vpmaddubsw %%ymm14, %%ymm15, %%ymm1\n\t"
        "vpmaddubsw %%ymm14, %%ymm15, %%ymm2\n\t"
        "vpmaddubsw %%ymm14, %%ymm15, %%ymm3\n\t"
        "vpmaddwd %%ymm15, %%ymm0, %%ymm0\n\t"
        "vpmaddwd %%ymm15, %%ymm1, %%ymm1\n\t"
        "vpmaddwd %%ymm15, %%ymm2, %%ymm2\n\t"
        "vpmaddwd %%ymm15, %%ymm3, %%ymm3\n\t"
        "vpaddd %%ymm0, %%ymm4, %%ymm4\n\t"
        "vpaddd %%ymm1, %%ymm5, %%ymm5\n\t"
        "vpaddd %%ymm2, %%ymm6, %%ymm6\n\t"
        "vpaddd %%ymm3, %%ymm7, %%ymm7\n\t" ::
            : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7");
  }
}

}  // namespace

int main() {
  __builtin_cpu_init();
  std::printf("one core, register-only loops, best of 5 runs of %lld steps (G multiply-adds/s)\n",
              static_cast<long long>(kSteps));
  if (__builtin_cpu_supports("avx512vnni")) {
    std::printf("int8 AVX-512 VNNI (vpdpbusd zmm)        %8.1f\n",
                best_rate(12 * 64, vnni512) / 1e9);
  }
  if (__builtin_cpu_supports("avx2")) {
    std::printf("int8 AVX2 (vpmaddubsw + vpmaddwd ymm)   %8.1f\n",
                best_rate(4 * 32, avx2_int8) / 1e9);
  }
  if (__builtin_cpu_supports("avx512f")) {
    std::printf("fp32 AVX-512 FMA (zmm)                  %8.1f\n",
                best_rate(12 * 16, fma512) / 1e9);
  }
  if (__builtin_cpu_supports("avx512bf16")) {
    std::printf("bf16 AVX512_BF16 (vdpbf16ps zmm)        %8.1f\n",
                best_rate(12 * 32, bf16_512) / 1e9);
  }
  if (__builtin_cpu_supports("fma")) {
    std::printf("fp32 AVX2 FMA (ymm)                     %8.1f\n", best_rate(12 * 8, fma256) / 1e9);
  }
  return 0;
}
