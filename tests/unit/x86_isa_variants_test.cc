// Every instruction-set variant of quench's hand-written loops that this CPU can run, called
// directly (not only the one dispatch picks), against the scalar helpers of core/requantize.h bit
// for bit, and the recurrent cells of every variant against the baseline's bit for bit (the same
// float operations in the same order: the build contracts no FMAs).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/requantize.h"
#include "kernels/x86/byte_lookup.h"
#include "kernels/x86/cpu_features.h"
#include "kernels/x86/float_gemv.h"
#include "kernels/x86/int8_gemv.h"
#include "kernels/x86/qloops_table.h"
#include "kernels/x86/rnn_cell.h"

namespace quench::x86 {
namespace baseline {
QLoops qloops();
CellFunctions cell_functions();
}  // namespace baseline
namespace avx2 {
QLoops qloops();
CellFunctions cell_functions();
}  // namespace avx2
namespace avx512 {
QLoops qloops();
CellFunctions cell_functions();
}  // namespace avx512

namespace {

struct Variant {
  std::string isa;
  QLoops loops;
  CellFunctions cells;
};

std::vector<Variant> runnable_variants() {
  const CpuFeatures cpu = detect_cpu_features();
  std::vector<Variant> out{{"baseline", baseline::qloops(), baseline::cell_functions()}};
  if (cpu.avx2) out.push_back({"avx2", avx2::qloops(), avx2::cell_functions()});
  if (cpu.avx512) out.push_back({"avx512", avx512::qloops(), avx512::cell_functions()});
  return out;
}

// Floats spread over the quantized range, plus the edges a loop must saturate or skip.
std::vector<float> test_floats(int count, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-300.f * scale, 300.f * scale);
  std::vector<float> out;
  for (int i = 0; i < count; ++i) out.push_back(uniform(rng));
  const float inf = std::numeric_limits<float>::infinity();
  for (float edge : {0.f, -0.f, 0.5f * scale, -0.5f * scale, 1.5f * scale, 2.5f * scale, 1e9f,
                     -1e9f, inf, -inf, std::numeric_limits<float>::quiet_NaN()}) {
    out.push_back(edge);
  }
  return out;
}

template <class Q>
std::vector<Q> test_bytes(int count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(static_cast<int>(kQuantMin<Q>),
                                           static_cast<int>(kQuantMax<Q>));
  std::vector<Q> out(count);
  for (Q& v : out) v = static_cast<Q>(value(rng));
  return out;
}

TEST(X86IsaVariants, QuantizationLoopsMatchTheScalarHelpers) {
  constexpr int kCount = 1000;  // not a multiple of any vector width
  const float scale = 0.0375f;
  const std::vector<float> x = test_floats(kCount, scale, 1);
  const int64_t n = static_cast<int64_t>(x.size());
  for (const Variant& v : runnable_variants()) {
    SCOPED_TRACE(v.isa);
    std::vector<uint8_t> qu(n);
    std::vector<int8_t> qs(n);
    v.loops.quantize_u8(x.data(), qu.data(), n, scale, 131);
    v.loops.quantize_s8(x.data(), qs.data(), n, scale, -7);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(qu[i], quantize<uint8_t>(x[i], scale, 131)) << "x = " << x[i];
      ASSERT_EQ(qs[i], quantize<int8_t>(x[i], scale, -7)) << "x = " << x[i];
    }
    std::vector<float> back(n);
    v.loops.dequantize_u8(qu.data(), back.data(), n, scale, 131);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(back[i], dequantize(qu[i], scale, 131));
    v.loops.dequantize_s8(qs.data(), back.data(), n, scale, -7);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(back[i], dequantize(qs[i], scale, -7));

    const int64_t finite = kCount;  // the random part: no NaN or infinity
    float min = 1, max = -1;
    v.loops.range_with_zero(x.data(), finite, min, max);
    float want_min = 0, want_max = 0;
    for (int64_t i = 0; i < finite; ++i) {
      want_min = std::min(want_min, x[i]);
      want_max = std::max(want_max, x[i]);
    }
    EXPECT_EQ(min, want_min);
    EXPECT_EQ(max, want_max);
  }
}

template <class Q>
void expect_binary_loops(void (*add)(const Q*, const Q*, Q*, int64_t, int32_t, float, int32_t,
                                     float, int32_t),
                         void (*mul)(const Q*, const Q*, Q*, int64_t, int32_t, int32_t, float,
                                     int32_t),
                         void (*requant)(const int32_t*, Q*, int64_t, float, int32_t)) {
  constexpr int64_t kCount = 1003;
  const std::vector<Q> a = test_bytes<Q>(kCount, 2), b = test_bytes<Q>(kCount, 3);
  const int32_t za = std::is_same_v<Q, uint8_t> ? 128 : -3, zb = std::is_same_v<Q, uint8_t> ? 7 : 5;
  const int32_t zy = std::is_same_v<Q, uint8_t> ? 100 : 0;
  // Ratios with many exact ties (multiples of 1/2) and ordinary ones.
  for (const auto& [ra, rb] : {std::pair{0.5f, 1.5f}, std::pair{0.731f, 0.219f}}) {
    std::vector<Q> y(kCount);
    add(a.data(), b.data(), y.data(), kCount, za, ra, zb, rb, zy);
    for (int64_t i = 0; i < kCount; ++i) {
      ASSERT_EQ(y[i], add_requantize<Q>(a[i] - za, ra, b[i] - zb, rb, zy)) << i;
    }
    std::vector<Q> in_place = a;
    add(in_place.data(), b.data(), in_place.data(), kCount, za, ra, zb, rb, zy);
    EXPECT_EQ(in_place, y);
  }
  std::vector<Q> y(kCount);
  mul(a.data(), b.data(), y.data(), kCount, za, zb, 0.0071f, zy);
  for (int64_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(y[i], requantize<Q>((a[i] - za) * (b[i] - zb), 0.0071f, zy)) << i;
  }
  std::mt19937 rng(4);
  std::uniform_int_distribution<int32_t> acc_value(-3000000, 3000000);
  std::vector<int32_t> acc(kCount);
  for (int32_t& value : acc) value = acc_value(rng);
  acc[0] = std::numeric_limits<int32_t>::max();
  acc[1] = std::numeric_limits<int32_t>::min();
  requant(acc.data(), y.data(), kCount, 0.00013f, zy);
  for (int64_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(y[i], requantize<Q>(acc[i], 0.00013f, zy)) << acc[i];
  }
}

TEST(X86IsaVariants, RequantizationLoopsMatchTheScalarHelpers) {
  for (const Variant& v : runnable_variants()) {
    SCOPED_TRACE(v.isa);
    expect_binary_loops<uint8_t>(v.loops.add_requantize_u8, v.loops.mul_requantize_u8,
                                 v.loops.requantize_u8);
    expect_binary_loops<int8_t>(v.loops.add_requantize_s8, v.loops.mul_requantize_s8,
                                v.loops.requantize_s8);
  }
}

TEST(X86IsaVariants, RecurrentCellsAgreeWithTheBaseline) {
  constexpr int64_t kHidden = 37;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> value(-4.f, 4.f);
  auto randoms = [&](int64_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = value(rng);
    return v;
  };
  const std::vector<float> xw = randoms(4 * kHidden), gates0 = randoms(4 * kHidden);
  const std::vector<float> h0 = randoms(kHidden), c0 = randoms(kHidden);
  const std::vector<float> peephole = randoms(3 * kHidden);
  CellMath m;
  m.hidden = kHidden;
  m.f.kind = RnnActivationKind::kSigmoid;
  m.g.kind = RnnActivationKind::kTanh;
  m.h.kind = RnnActivationKind::kTanh;
  struct Result {
    std::vector<float> h, c, activated;
  };
  auto run = [&](const CellFunctions& cells, bool with_peephole, float clip) {
    CellMath mm = m;
    mm.clip = clip;
    Result r{h0, c0, randoms(0)};
    std::vector<float> gates = gates0;
    cells.lstm_row(mm, xw.data(), with_peephole ? peephole.data() : nullptr, gates.data(),
                   r.h.data(), r.c.data());
    r.activated = gates0;
    cells.activate(m.f, r.activated.data(), static_cast<int64_t>(r.activated.size()));
    return r;
  };
  const std::vector<Variant> variants = runnable_variants();
  // AVX2 and AVX-512 fuse the approximations' multiply-adds (one rounding each): the same floats
  // on both. The baseline rounds each product: within a few ulps of them after one cell step.
  constexpr float kBaselineUlps = 8;
  auto near = [&](const std::vector<float>& got, const std::vector<float>& want) {
    for (size_t i = 0; i < got.size(); ++i) {
      const float ulp = std::nextafter(std::abs(want[i]), INFINITY) - std::abs(want[i]);
      if (!(std::abs(got[i] - want[i]) <= kBaselineUlps * ulp)) {
        return ::testing::AssertionFailure() << "at " << i << ": " << got[i] << " vs " << want[i];
      }
    }
    return ::testing::AssertionSuccess();
  };
  for (bool with_peephole : {false, true}) {
    for (float clip : {std::numeric_limits<float>::infinity(), 1.5f}) {
      const Result baseline = run(variants[0].cells, with_peephole, clip);
      if (variants.size() < 2) continue;
      const Result want = run(variants[1].cells, with_peephole, clip);
      EXPECT_TRUE(near(baseline.h, want.h));
      EXPECT_TRUE(near(baseline.c, want.c));
      EXPECT_TRUE(near(baseline.activated, want.activated));
      for (const Variant& v : variants) {
        if (v.isa == "baseline") continue;
        SCOPED_TRACE(v.isa);
        const Result got = run(v.cells, with_peephole, clip);
        EXPECT_EQ(got.h, want.h);
        EXPECT_EQ(got.c, want.c);
        EXPECT_EQ(got.activated, want.activated);
      }
    }
  }
}

// The cells' Sigmoid and Tanh against the exact functions (in double) over [-100, 100] on every
// variant: within kSigmoidUlps and kTanhUlps ulps of the exact value (an absolute floor of one
// ulp of the smallest normal float where the value is tiny).
TEST(X86IsaVariants, CellActivationsWithinTheirBounds) {
  constexpr double kSigmoidUlps = 3, kTanhUlps = 6;
  std::vector<float> x;
  for (int i = -100 * 512; i <= 100 * 512; ++i) x.push_back(static_cast<float>(i) / 512.f);
  for (const Variant& v : runnable_variants()) {
    for (const auto& [kind, ulps] : {std::pair{RnnActivationKind::kSigmoid, kSigmoidUlps},
                                     std::pair{RnnActivationKind::kTanh, kTanhUlps}}) {
      RnnActivation activation;
      activation.kind = kind;
      std::vector<float> y = x;
      v.cells.activate(activation, y.data(), static_cast<int64_t>(y.size()));
      double worst = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        const double exact = kind == RnnActivationKind::kSigmoid
                                 ? 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])))
                                 : std::tanh(static_cast<double>(x[i]));
        const float exact_f = static_cast<float>(exact);
        const double ulp =
            std::max<double>(std::nextafter(std::abs(exact_f), INFINITY) - std::abs(exact_f),
                             std::numeric_limits<float>::min());
        const double error = std::abs(y[i] - exact) / ulp;
        worst = std::max(worst, error);
        ASSERT_LE(error, ulps) << v.isa << (kind == RnnActivationKind::kTanh ? " tanh" : " sigmoid")
                               << " at " << x[i];
      }
      std::printf("%s %s: %.2f ulps\n", v.isa.c_str(),
                  kind == RnnActivationKind::kTanh ? "tanh" : "sigmoid", worst);
    }
  }
}

// The gates of an integer recurrent step (eq. (44)): every variant gives the scalar formula's
// floats, two products rounded then added, with and without the input's sums.
TEST(X86IsaVariants, IntegerGatesOnEveryVariant) {
  const int64_t n = 77;  // whole vectors and a tail on every width
  std::mt19937 rng(13);
  std::uniform_int_distribution<int32_t> sums(-3000000, 3000000);
  std::uniform_real_distribution<float> multipliers(1e-7f, 1e-4f);
  std::vector<int32_t> x(n), h(n);
  std::vector<float> xm(n), hm(n);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = sums(rng);
    h[i] = sums(rng);
    xm[i] = multipliers(rng);
    hm[i] = multipliers(rng);
  }
  std::vector<float> both(n), alone(n);
  for (int64_t i = 0; i < n; ++i) {
    const float g_x = static_cast<float>(x[i]) * xm[i];
    both[i] = g_x + static_cast<float>(h[i]) * hm[i];
    alone[i] = static_cast<float>(h[i]) * hm[i];
  }
  for (const Variant& v : runnable_variants()) {
    SCOPED_TRACE(v.isa);
    std::vector<float> got(n, -1.f);
    v.cells.integer_gates(x.data(), xm.data(), h.data(), hm.data(), n, got.data());
    EXPECT_EQ(got, both);
    v.cells.integer_gates(nullptr, nullptr, h.data(), hm.data(), n, got.data());
    EXPECT_EQ(got, alone);
  }
}

TEST(X86IsaVariants, ByteLookupOnEveryVariant) {
  std::vector<uint8_t> table(256);
  for (int i = 0; i < 256; ++i) table[i] = static_cast<uint8_t>((i * 37 + 11) & 0xff);
  const std::vector<uint8_t> x = test_bytes<uint8_t>(1000, 6);
  for (uint8_t flip : {uint8_t{0}, uint8_t{0x80}}) {
    std::vector<uint8_t> want(x.size()), got(x.size());
    for (size_t i = 0; i < x.size(); ++i) want[i] = table[x[i] ^ flip];
    byte_lookup(table.data(), x.data(), got.data(), static_cast<int64_t>(x.size()), flip);
    EXPECT_EQ(got, want) << byte_lookup_isa();
    if (detect_cpu_features().avx512_vbmi) {
      avx512vbmi::byte_lookup(table.data(), x.data(), got.data(), static_cast<int64_t>(x.size()),
                              flip);
      EXPECT_EQ(got, want) << "avx512vbmi";
    }
  }
}

// The float GEMV of FP32 recurrent products at batch 1: every variant the same floats (one
// multiply and one add per depth, in depth order), and within a float sum's rounding of the double
// product: |error| <= k · 2^-23 · Σ|x·b| (a bound on k successive roundings).
TEST(X86IsaVariants, FloatGemvOnEveryVariant) {
  const CpuFeatures cpu = detect_cpu_features();
  std::vector<std::pair<std::string, FloatGemvLoop>> loops{
      {"baseline", baseline::float_gemv_loop()}};
  if (cpu.avx2) loops.emplace_back("avx2", avx2::float_gemv_loop());
  if (cpu.avx512) loops.emplace_back("avx512", avx512::float_gemv_loop());
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  // n: one partial panel, whole panels, whole and partial; k: 1, odd, the GRU's 64.
  for (const auto& [n, k] : {std::pair<int64_t, int64_t>{5, 3}, {128, 64}, {200, 1}, {96, 33}}) {
    std::vector<float> b(n * k), x(k);
    for (float& v : b) v = u(rng);
    for (float& v : x) v = u(rng);
    const PackedFloatGemv gemv(b.data(), n, k);
    std::vector<float> want(n);
    gemv.multiply(x.data(), want.data());
    for (int64_t column = 0; column < n; ++column) {
      double exact = 0, magnitude = 0;
      for (int64_t depth = 0; depth < k; ++depth) {
        exact += double{x[depth]} * b[column * k + depth];
        magnitude += std::abs(double{x[depth]} * b[column * k + depth]);
      }
      EXPECT_NEAR(want[column], exact, static_cast<double>(k) * 0x1p-23 * magnitude)
          << "n " << n << " k " << k << " column " << column;
    }
    // The packed panels as PackedFloatGemv lays them out, for the loops called directly.
    const int64_t panels = (n + PackedFloatGemv::kPanel - 1) / PackedFloatGemv::kPanel;
    // (64-byte aligned, as the loops read whole vectors)
    Tensor packed = Tensor::zeros(DType::kFloat32, {panels, k, PackedFloatGemv::kPanel});
    float* p = packed.data<float>();
    for (int64_t column = 0; column < n; ++column) {
      for (int64_t depth = 0; depth < k; ++depth) {
        p[(column / PackedFloatGemv::kPanel * k + depth) * PackedFloatGemv::kPanel +
          column % PackedFloatGemv::kPanel] = b[column * k + depth];
      }
    }
    for (const auto& [isa, loop] : loops) {
      std::vector<float> got(n, -1.f);
      loop(p, x.data(), k, n, got.data());
      EXPECT_EQ(got, want) << isa << " n " << n << " k " << k;
    }
  }
}

TEST(X86IsaVariants, VnniGemvWhereTheCpuHasIt) {
  if (!detect_cpu_features().avx512_vnni) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  // k: a partial last group of 4 bytes, one byte, whole groups; n: tail blocks and 4-block runs;
  // m: one row (multiply), a partial tile of rows, whole tiles, whole tiles and a partial one.
  struct Case {
    int64_t m, k, n;
  };
  for (const Case c : {Case{1, 45, 48}, Case{1, 1, 16}, Case{1, 4, 80}, Case{1, 128, 512},
                       Case{3, 45, 80}, Case{4, 64, 192}, Case{7, 28, 192}, Case{9, 5, 16}}) {
    const std::vector<int8_t> w = test_bytes<int8_t>(static_cast<int>(c.k * c.n), 7);
    const std::vector<uint8_t> x = test_bytes<uint8_t>(static_cast<int>(c.m * c.k), 8);
    const PackedInt8Gemv gemv(w.data(), c.k, c.n, 3);
    std::vector<int32_t> acc(c.m * c.n, -1);
    if (c.m == 1) {
      gemv.multiply(x.data(), 129, acc.data());
    } else {
      gemv.multiply_rows(x.data(), c.m, 129, acc.data());
    }
    for (int64_t row = 0; row < c.m; ++row) {
      for (int64_t col = 0; col < c.n; ++col) {
        int32_t want = 0;
        for (int64_t tap = 0; tap < c.k; ++tap) {
          want += (x[row * c.k + tap] - 129) * (w[tap * c.n + col] - 3);
        }
        ASSERT_EQ(acc[row * c.n + col], want)
            << "m " << c.m << " k " << c.k << " n " << c.n << " row " << row << " column " << col;
      }
    }
  }
}

// Eq. (135): exact against the integer sum, for odd and even k, 4-block and single-block column
// groups (n = 80: one group of 64 and one tail block), extreme zero points and values.
TEST(X86IsaVariants, Avx2GemvIsExact) {
  if (!detect_cpu_features().avx2) GTEST_SKIP() << "this CPU has no AVX2";
  struct Case {
    int64_t k, n;
    int32_t x_zero_point, w_zero_point;
  };
  for (const Case c : {Case{45, 80, 129, 3}, Case{128, 512, 0, 0}, Case{1, 16, 255, -128},
                       Case{4096, 32, 0, 127}, Case{7, 64, 77, -5}}) {
    std::vector<int8_t> w = test_bytes<int8_t>(static_cast<int>(c.k * c.n), 11);
    std::vector<uint8_t> x = test_bytes<uint8_t>(static_cast<int>(c.k), 12);
    if (c.k == 4096) {  // the largest sums: every product at its bound
      std::fill(w.begin(), w.end(), int8_t{-128});
      std::fill(x.begin(), x.end(), uint8_t{255});
    }
    const PackedInt8GemvAvx2 gemv(w.data(), c.k, c.n, c.w_zero_point);
    std::vector<int32_t> acc(c.n);
    gemv.multiply(x.data(), c.x_zero_point, acc.data());
    for (int64_t col = 0; col < c.n; ++col) {
      int64_t want = 0;
      for (int64_t tap = 0; tap < c.k; ++tap) {
        want += int64_t{x[tap] - c.x_zero_point} * (w[tap * c.n + col] - c.w_zero_point);
      }
      ASSERT_EQ(acc[col], want) << "k " << c.k << " n " << c.n << " column " << col;
    }
  }
}

}  // namespace
}  // namespace quench::x86
