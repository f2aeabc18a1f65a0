// com.microsoft MatMulNBits: the reference kernel (kernels/ref/nbits_matmul.h) on hand-checked
// numbers and against a separate dequantization written here for every width 2-8, shape
// inference, the errors for inconsistent attributes and inputs, and the x86 int4 kernels
// (kernels/x86/nbits_gemv.h, nbits_gemm.h) against the reference on odd shapes (K not a multiple
// of the block, N odd, 1-64 rows). Agreement with ONNX Runtime:
// tests/e2e/test_nbits_runtime_ort.py.
#include <bit>
#include <cmath>
#include <limits>
#include <random>

#include "core/file_util.h"
#include "kernels/ref/nbits_matmul.h"
#include "kernels/x86/cpu_features.h"
#include "kernels/x86/nbits_gemm.h"
#include "kernels/x86/nbits_gemv.h"
#include "kernels/x86/nbits_int8.h"
#include "ops/evaluate.h"
#include "quant_test_util.h"

namespace quench {
namespace {

using testing::f32;
using testing::u8;

Node nbits_node(int64_t k, int64_t n, int64_t bits, int64_t block, std::vector<std::string> in) {
  return testing::make_node("MatMulNBits", std::move(in), {"y"},
                            {{"K", AttributeValue(k)},
                             {"N", AttributeValue(n)},
                             {"bits", AttributeValue(bits)},
                             {"block_size", AttributeValue(block)}},
                            "com.microsoft");
}

// Little-endian stream of `bits`-wide values, written independently of the kernel's reader.
std::vector<uint8_t> pack(const std::vector<int>& values, int64_t bits) {
  std::vector<uint8_t> out(
      static_cast<size_t>((static_cast<int64_t>(values.size()) * bits + 7) / 8));
  for (size_t i = 0; i < values.size(); ++i) {
    for (int64_t bit = 0; bit < bits; ++bit) {
      const int64_t at = static_cast<int64_t>(i) * bits + bit;
      if ((values[i] >> bit) & 1)
        out[static_cast<size_t>(at / 8)] |= static_cast<uint8_t>(1 << (at % 8));
    }
  }
  return out;
}

// A random MatMulNBits case: codes q[n][k], scales, zero points, inputs of the node, and the
// dequantized W [K, N] computed here.
struct Case {
  Node node;
  std::vector<Tensor> inputs;
  std::vector<float> w;  // [K, N]
  int64_t k, n;
};

Case make_case(int64_t m, int64_t k, int64_t n, int64_t bits, int64_t block, bool zero_points,
               bool bias, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t blocks = (k + block - 1) / block, levels = int64_t{1} << bits;
  std::uniform_int_distribution<int> code(0, static_cast<int>(levels - 1));
  std::uniform_real_distribution<float> scale(0.001f, 0.03f);
  std::vector<uint8_t> b;
  std::vector<float> scales, w(static_cast<size_t>(k * n));
  std::vector<uint8_t> zps;
  for (int64_t col = 0; col < n; ++col) {
    std::vector<int> zp_col;
    for (int64_t j = 0; j < blocks; ++j) {
      const int zp = zero_points ? code(rng) : static_cast<int>(levels / 2);
      const float s = scale(rng);
      zp_col.push_back(zp);
      scales.push_back(s);
      std::vector<int> q(static_cast<size_t>(block));
      for (int64_t i = 0; i < block; ++i) {
        q[i] = code(rng);
        if (j * block + i < k) w[(j * block + i) * n + col] = static_cast<float>(q[i] - zp) * s;
      }
      const std::vector<uint8_t> blob = pack(q, bits);
      b.insert(b.end(), blob.begin(), blob.end());
    }
    const std::vector<uint8_t> packed = pack(zp_col, bits);
    zps.insert(zps.end(), packed.begin(), packed.end());
  }
  Case c{nbits_node(k, n, bits, block,
                    {"a", "b", "scales", zero_points ? "zp" : "", "", bias ? "bias" : ""}),
         {testing::random_tensor({m, k}, seed + 1), u8({n, blocks, (block * bits + 7) / 8}, b),
          f32({n * blocks}, scales),
          zero_points ? u8({static_cast<int64_t>(zps.size())}, zps) : Tensor(), Tensor(),
          bias ? testing::random_tensor({n}, seed + 2) : Tensor()},
         w,
         k,
         n};
  return c;
}

// A · W (+ bias) in double from the case's own dequantization.
Tensor expected(const Case& c) {
  const Tensor& a = c.inputs[0];
  const int64_t m = a.numel() / c.k;
  std::vector<float> y(static_cast<size_t>(m * c.n));
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t col = 0; col < c.n; ++col) {
      double sum = c.inputs[5].defined() ? c.inputs[5].data<float>()[col] : 0.0;
      for (int64_t kk = 0; kk < c.k; ++kk) {
        sum += static_cast<double>(a.data<float>()[r * c.k + kk]) * c.w[kk * c.n + col];
      }
      y[r * c.n + col] = static_cast<float>(sum);
    }
  }
  return f32({m, c.n}, y);
}

// The reference accumulates in double: only the final rounding to float differs.
constexpr double kRefRelTol = 1e-6;

// The case at accuracy_level 4: A quantized to int8 per block (eq. (161)).
Case at_level_4(Case c) {
  c.node.attributes["accuracy_level"].value = int64_t{4};
  return c;
}

// A as eq. (161) quantizes it, written here from the equation: per block of `block` elements,
// â = fl(max|a| / 127) · round_half_even(a · fl(127 / max|a|)).
Tensor quantized_a(const Tensor& a, int64_t k, int64_t block) {
  std::vector<float> out(static_cast<size_t>(a.numel()));
  for (int64_t r = 0; r < a.numel() / k; ++r) {
    for (int64_t k0 = 0; k0 < k; k0 += block) {
      const float* x = a.data<float>() + r * k;
      float amax = 0.f;
      for (int64_t i = k0; i < std::min(k, k0 + block); ++i) amax = std::max(amax, std::abs(x[i]));
      const float scale = amax / 127.f, inverse = amax > 0.f ? 127.f / amax : 0.f;
      for (int64_t i = k0; i < std::min(k, k0 + block); ++i) {
        out[static_cast<size_t>(r * k + i)] = scale * std::nearbyint(x[i] * inverse);
      }
    }
  }
  return f32(a.shape(), out);
}

TEST(MatMulNBits, HandCheckedFourBits) {
  // K = 3 in one block of 16, N = 2. Column 0: codes 9, 7, 15, zero point 8, scale 0.5 →
  // w = 0.5, -0.5, 3.5; column 1: codes 1, 2, 3, zero point 1, scale 2 → w = 0, 2, 4.
  // a = [1, 2, 3]: y0 = 0.5 - 1 + 10.5 = 10, y1 = 0 + 4 + 12 = 16; bias [1, -1].
  std::vector<uint8_t> b(16, 0);
  b[0] = 9 | (7 << 4);
  b[1] = 15;
  b[8] = 1 | (2 << 4);
  b[9] = 3;
  const Node node = nbits_node(3, 2, 4, 16, {"a", "b", "s", "zp", "", "bias"});
  const Tensor y =
      testing::run_both(node,
                        {f32({1, 3}, {1, 2, 3}), u8({2, 1, 8}, b), f32({2}, {0.5f, 2.f}),
                         u8({2}, {8, 1}), Tensor(), f32({2}, {1, -1})},
                        1)[0];
  EXPECT_TRUE(y.equals(f32({1, 2}, {11, 15})));
}

TEST(MatMulNBits, EveryWidthMatchesItsDequantization) {
  for (int64_t bits = 2; bits <= 8; ++bits) {
    for (bool zp : {false, true}) {
      SCOPED_TRACE(fmt::format("bits {} zero points {}", bits, zp));
      const Case c = make_case(3, 70, 5, bits, 32, zp, true, static_cast<uint32_t>(bits));
      const Tensor y = testing::run_node(c.node, c.inputs, 1)[0];
      EXPECT_TRUE(testing::tensors_near(y, expected(c), 1e-6, kRefRelTol));
    }
  }
}

TEST(MatMulNBits, FloatZeroPointsAndGIdx) {
  // Float zero points like the scales; g_idx sends row k to block g_idx[k] (here reversed).
  const int64_t k = 40, n = 3, block = 16, blocks = 3;
  Case c = make_case(2, k, n, 4, block, false, false, 7);
  std::vector<float> zps(static_cast<size_t>(n * blocks));
  for (size_t i = 0; i < zps.size(); ++i) zps[i] = 2.5f + static_cast<float>(i);
  std::vector<int32_t> g(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) g[i] = static_cast<int32_t>(blocks - 1 - i / block);
  c.node = nbits_node(k, n, 4, block, {"a", "b", "scales", "zp", "g"});
  c.inputs[3] = f32({n * blocks}, zps);
  c.inputs[4] = testing::i32({k}, g);
  c.inputs.resize(5);
  // W from the codes: the case's w used zero point 8 with block j's scale.
  const float* scales = c.inputs[2].data<float>();
  for (int64_t kk = 0; kk < k; ++kk) {
    for (int64_t col = 0; col < n; ++col) {
      const int64_t j = kk / block, group = g[kk];
      const float q = c.w[kk * n + col] / scales[col * blocks + j] + 8.f;
      c.w[kk * n + col] =
          (std::nearbyint(q) - zps[col * blocks + group]) * scales[col * blocks + group];
    }
  }
  const Tensor y = testing::run_both(c.node, c.inputs, 1)[0];
  EXPECT_TRUE(testing::tensors_near(y, expected(c), 1e-6, kRefRelTol));
}

TEST(MatMulNBits, AccuracyLevel4QuantizesAPerBlock) {
  // Eq. (161) is the float product of the block-quantized A with the dequantized W: the same
  // expectation as above with A replaced by â. Bits other than 4 (and levels 0-3) stay float.
  for (int64_t block : {16, 32, 128}) {
    for (bool zp : {false, true}) {
      SCOPED_TRACE(fmt::format("block {} zero points {}", block, zp));
      Case c = at_level_4(make_case(3, 300, 5, 4, block, zp, true, static_cast<uint32_t>(block)));
      const Tensor y = testing::run_node(c.node, c.inputs, 1)[0];
      const Tensor float_y = expected(c);
      c.inputs[0] = quantized_a(c.inputs[0], c.k, block);
      EXPECT_TRUE(testing::tensors_near(y, expected(c), 1e-6, kRefRelTol));
      EXPECT_FALSE(testing::tensors_near(y, float_y, 1e-6, kRefRelTol));  // not the float path
    }
  }
  const Case eight = at_level_4(make_case(2, 70, 3, 8, 32, true, false, 5));
  EXPECT_TRUE(testing::tensors_near(testing::run_node(eight.node, eight.inputs, 1)[0],
                                    expected(eight), 1e-6, kRefRelTol));
}

TEST(MatMulNBits, AccuracyLevel4KeepsNonFiniteInputsVisible) {
  // A NaN or infinity in a block of A makes that row's outputs NaN (a scale of max|a| / 127 would
  // hide it); other rows are untouched.
  Case c = at_level_4(make_case(2, 64, 3, 4, 32, true, false, 9));
  std::vector<float> a(c.inputs[0].data<float>(), c.inputs[0].data<float>() + 128);
  a[70] = std::numeric_limits<float>::infinity();
  c.inputs[0] = f32({2, 64}, a);
  const Tensor y = testing::run_both(c.node, c.inputs, 1)[0];
  for (int64_t col = 0; col < 3; ++col) {
    EXPECT_TRUE(std::isfinite(y.data<float>()[col]));
    EXPECT_TRUE(std::isnan(y.data<float>()[3 + col]));
  }
}

TEST(MatMulNBits, InfersShape) {
  const Node node = nbits_node(64, 10, 4, 32, {"a", "b", "s"});
  const auto out =
      testing::infer_node(node,
                          {ValueInfo{DType::kFloat32, SymbolicShape{Dim("batch"), 7, 64}, ""},
                           ValueInfo{DType::kUInt8, SymbolicShape{10, 2, 16}, ""},
                           ValueInfo{DType::kFloat32, SymbolicShape{20}, ""}},
                          1);
  EXPECT_EQ(out[0].dtype, DType::kFloat32);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("batch"), 7, 10}));
}

void expect_error(const Node& node, const std::vector<Tensor>& inputs, const std::string& what) {
  try {
    testing::run_node(node, inputs, 1);
    ADD_FAILURE() << "no error, expected one containing: " << what;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidModel) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("MatMulNBits"), std::string::npos) << e.what();
  }
}

TEST(MatMulNBits, InconsistentInputsAreNamed) {
  const Case c = make_case(1, 40, 3, 4, 16, true, false, 3);
  auto with = [&](int64_t k, int64_t n, int64_t bits, int64_t block) {
    return nbits_node(k, n, bits, block, {"a", "b", "scales", "zp"});
  };
  std::vector<Tensor> in(c.inputs.begin(), c.inputs.begin() + 4);
  expect_error(with(40, 3, 9, 16), in, "bits = 9, expected a width from 2 to 8");
  expect_error(with(40, 3, 1, 16), in, "bits = 1");
  expect_error(with(40, 3, 4, 24), in, "block_size = 24, expected a power of two >= 16");
  expect_error(with(41, 3, 4, 16), in, "input 0 (A) has shape [1,40], expected last dim K = 41");
  std::vector<Tensor> a64 = in;
  a64[0] = testing::random_tensor({1, 64}, 1);
  expect_error(with(64, 3, 4, 16), a64, "input 1 (B) has shape [3,3,8], expected");
  expect_error(with(40, 4, 4, 16), in, "expected [N, ceil(K / block_size)");
  std::vector<Tensor> bad_scales = in;
  bad_scales[2] = f32({8}, std::vector<float>(8, 1.f));
  expect_error(with(40, 3, 4, 16), bad_scales, "input 2 (scales) has shape [8] (8 elements)");
  std::vector<Tensor> bad_zp = in;
  bad_zp[3] = u8({3}, {0, 0, 0});
  expect_error(with(40, 3, 4, 16), bad_zp, "input 3 (zero_points) has shape [3]");
  Node level = with(40, 3, 4, 16);
  level.attributes["accuracy_level"].value = int64_t{5};
  expect_error(level, in, "accuracy_level = 5, expected 0 to 4");
  Node no_k = with(40, 3, 4, 16);
  no_k.attributes.erase("K");
  expect_error(no_k, in, "no 'K' attribute");
}

// ---- The AVX2 int4 kernel against the reference ----

Tensor run_fast(const Case& c, int threads, x86::Int4Isa isa = x86::int4_isa()) {
  std::vector<ValueInfo> infos;
  KernelContext ctx{c.node, 1, {}, {}, threads, false};
  for (const Tensor& t : c.inputs) {
    ctx.inputs.push_back(t.defined() ? TensorDesc{t.dtype(), t.shape(), &t, {}} : TensorDesc{});
  }
  ctx.inputs[0].constant = nullptr;  // A is an activation
  const Shape y_shape{c.inputs[0].numel() / c.k, c.n};
  ctx.outputs.push_back(TensorDesc{DType::kFloat32, y_shape, nullptr, {}});
  const std::unique_ptr<Kernel> kernel = x86::make_matmul_nbits(ctx, isa);
  if (!kernel) return Tensor();
  // The GEMV below int4_gemm_min_rows rows, the panels from there on; the integer loops for
  // accuracy_level 4 (AVX512_VNNI's for the AVX-512 loops where the CPU has it).
  if (c.node.attr_int("accuracy_level", 0) == 4) {
    const bool vnni = isa == x86::Int4Isa::kAvx512 && x86::cpu_features().avx512_vnni;
    EXPECT_EQ(kernel->impl(), std::string("x86:int4_int8_") + (vnni ? "avx512vnni" : "avx2"));
  } else {
    const std::string path = y_shape[0] >= x86::int4_gemm_min_rows(isa) ? "int4_gemm_" : "int4_";
    EXPECT_EQ(kernel->impl(), "x86:" + path + x86::int4_isa_name(isa));
  }
  Tensor y = Tensor::empty(DType::kFloat32, y_shape);
  std::vector<const void*> inputs;
  for (const Tensor& t : c.inputs) inputs.push_back(t.defined() ? t.raw_data() : nullptr);
  void* outputs[] = {y.raw_data()};
  const std::shared_ptr<void> scratch = aligned_alloc_shared(kernel->scratch_bytes());
  kernel->run(KernelArgs{inputs.data(), outputs, scratch.get(), nullptr});
  return y;
}

// Float sums in another order than the reference's double ones (eq. (144)): the loops sum a·s·q
// and a·s·z, each term up to 15 · max|a| · max s, and subtract, so |error| <= (K + 2) · 2^-22 ·
// 15 · max|a| · max s (a generous multiple of the float rounding of those sums).
double fast_tolerance(const Case& c) {
  double a_max = 0, s_max = 0;
  for (int64_t i = 0; i < c.inputs[0].numel(); ++i) {
    a_max = std::max(a_max, std::abs(static_cast<double>(c.inputs[0].data<float>()[i])));
  }
  for (int64_t i = 0; i < c.inputs[2].numel(); ++i) {
    s_max = std::max(s_max, std::abs(static_cast<double>(c.inputs[2].data<float>()[i])));
  }
  return (static_cast<double>(c.k) + 2) * std::ldexp(1.0, -22) * 15 * a_max * s_max;
}

// Also the integer loops of accuracy_level 4 (eq. (161)): A's codes are the reference's (the same
// function makes them) and the integer dot products exact, so the same float tolerance holds.
TEST(MatMulNBitsX86, Int4MatchesReferenceOnOddShapes) {
  if (!x86::cpu_features().avx2) GTEST_SKIP() << "no AVX2";
  struct Shape3 {
    int64_t m, k, n, block;
  };
  const Shape3 shapes[] = {{1, 32, 1, 32},
                           {1, 40, 7, 32},
                           {2, 100, 33, 64},
                           {3, 129, 5, 128},
                           {4, 256, 16, 32},
                           {5, 300, 9, 128},
                           {9, 75, 3, 32},
                           {1, 1000, 65, 256},
                           {1, 4096, 8, 32},
                           {7, 1, 3, 32},
                           {1, 96, 11, 32},
                           {2, 64, 6, 64},
                           // Panels: rows past the register tiles (8 on AVX-512, 6 on AVX2),
                           // columns past a panel of 32, K over several chunks of 256 rows and
                           // not a multiple of the block.
                           {8, 64, 32, 32},
                           {8, 1, 3, 32},
                           {17, 300, 33, 128},
                           {40, 600, 70, 64},
                           {11, 513, 64, 32},
                           {64, 1000, 96, 256},
                           // Blocks of rows (48 at K = 4096) and a short last block.
                           {100, 4096, 40, 32}};
  // Every column loop this CPU runs (AVX-512 takes 4 columns at a time at batch 1, 2 at batch 2).
  std::vector<x86::Int4Isa> isas = {x86::Int4Isa::kAvx2};
  if (x86::int4_isa() == x86::Int4Isa::kAvx512) isas.push_back(x86::Int4Isa::kAvx512);
  uint32_t seed = 100;
  for (const Shape3& s : shapes) {
    for (int combination = 0; combination < 8; ++combination) {
      const bool zp = combination & 1, bias = combination & 2, level_4 = combination & 4;
      {
        SCOPED_TRACE(fmt::format("m {} k {} n {} block {} zp {} bias {} accuracy_level {}", s.m,
                                 s.k, s.n, s.block, zp, bias, level_4 ? 4 : 0));
        Case c = make_case(s.m, s.k, s.n, 4, s.block, zp, bias, ++seed);
        if (level_4) c = at_level_4(std::move(c));
        const Tensor want = testing::run_node(c.node, c.inputs, 1)[0];
        for (x86::Int4Isa isa : isas) {
          SCOPED_TRACE(x86::int4_isa_name(isa));
          const Tensor got = run_fast(c, 1, isa);
          ASSERT_TRUE(got.defined());
          EXPECT_TRUE(testing::tensors_near(got, want, fast_tolerance(c), 0.0));
        }
      }
    }
  }
}

// Threads split the columns (GEMV) or the panels (GEMM); every column is summed the same way, so
// two threads give the one thread's floats exactly.
TEST(MatMulNBitsX86, ThreadsSplitTheColumnsExactly) {
  if (!x86::cpu_features().avx2) GTEST_SKIP() << "no AVX2";
  uint32_t seed = 300;
  for (int64_t m : {1, 3, 8, 40}) {
    for (int64_t n : {5, 70, 301}) {
      SCOPED_TRACE(fmt::format("m {} n {}", m, n));
      Case c = make_case(m, 200, n, 4, 32, true, true, ++seed);
      if (n == 70) c = at_level_4(std::move(c));
      const Tensor one = run_fast(c, 1), two = run_fast(c, 2);
      ASSERT_TRUE(one.defined() && two.defined());
      EXPECT_TRUE(testing::tensors_near(two, one, 0.0, 0.0));
    }
  }
  // accuracy_level 4: threads take whole packs of 16 / width columns (width: K's blocks, up to
  // 16). A kernel takes a second thread from 4 M multiply-adds on (make_matmul_nbits), so N is
  // sized for that, and odd.
  for (int64_t k : {32, 64, 100, 600}) {
    for (int64_t n : {4'500'000 / (4 * k) + 3, 4'500'000 / (4 * k) + 10}) {
      SCOPED_TRACE(fmt::format("accuracy_level 4, k {} n {}", k, n));
      const Case c = at_level_4(make_case(4, k, n, 4, 32, true, true, ++seed));
      const Tensor one = run_fast(c, 1), two = run_fast(c, 2);
      ASSERT_TRUE(one.defined() && two.defined());
      EXPECT_TRUE(testing::tensors_near(two, one, 0.0, 0.0));
    }
  }
}

// The integer loops quantize A with their own vector code: it must give the reference's codes and
// scales bit for bit (ties to even, zero, NaN and infinite blocks, a short last block).
TEST(MatMulNBitsX86, Int8QuantizationOfAIsTheReferences) {
  if (!x86::cpu_features().avx2) GTEST_SKIP() << "no AVX2";
  for (int64_t block : {32, 64, 128}) {
    const int64_t k = 7 * block + 21, blocks = 8;
    std::mt19937 rng(static_cast<uint32_t>(block));
    std::uniform_real_distribution<float> u(-3.f, 3.f);
    std::vector<float> a(static_cast<size_t>(k));
    for (float& v : a) v = u(rng);
    for (int64_t i = 0; i < block; ++i) a[i] = static_cast<float>(i % 9) - 4.5f;  // ties
    a[block - 1] = 127.f;  // scale 1: a · 127 / 127 = a, every x.5 a tie
    std::fill(a.begin() + block, a.begin() + 2 * block, 0.f);  // all zero
    a[2 * block + 3] = std::numeric_limits<float>::quiet_NaN();
    a[3 * block + 5] = -std::numeric_limits<float>::infinity();
    ref::NBitsShape s;
    s.k = k;
    s.block_size = block;
    std::vector<int8_t> want(static_cast<size_t>(blocks * block), 99), got(want);
    std::vector<float> want_scale(blocks), got_scale(blocks);
    ref::quantize_nbits_row(a.data(), s, want.data(), want_scale.data());
    x86::avx2::quantize_int8_blocks(a.data(), k, block, blocks, got.data(), got_scale.data());
    EXPECT_EQ(got, want) << "block " << block;
    for (int64_t j = 0; j < blocks; ++j) {
      EXPECT_EQ(std::bit_cast<uint32_t>(got_scale[j]), std::bit_cast<uint32_t>(want_scale[j]))
          << "block " << block << ", scale " << j;
    }
    EXPECT_EQ(want[1], -4);  // -3.5 rounds half to even
    EXPECT_EQ(want[2], -2);  // -2.5 too
    EXPECT_TRUE(std::isnan(want_scale[2]) && std::isnan(want_scale[3]));
  }
}

TEST(MatMulNBitsX86, DeclinesWhatItDoesNotHandle) {
  if (!x86::cpu_features().avx2) GTEST_SKIP() << "no AVX2";
  EXPECT_FALSE(run_fast(make_case(1, 64, 3, 8, 32, true, false, 1), 1).defined());  // bits 8
  EXPECT_FALSE(run_fast(make_case(1, 64, 3, 4, 16, true, false, 1), 1).defined());  // block 16
}

}  // namespace
}  // namespace quench
