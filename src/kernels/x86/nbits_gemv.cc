#include "kernels/x86/nbits_gemv.h"

#include <algorithm>
#include <cstring>

#include "kernels/x86/cpu_features.h"
#include "kernels/x86/nbits_gemm.h"
#include "kernels/x86/nbits_int8.h"
#include "kernels/x86/parallel_units.h"
#include "ops/quantized/matmul_nbits.h"

namespace quench::x86 {
namespace {

constexpr int64_t kTileRows = 4;

// Scratch bytes per thread, rounded up to keep every thread's part 64-byte aligned.
size_t per_thread(size_t bytes) { return (bytes + 63) / 64 * 64; }

// A's rows in the order the nibbles unpack (eq. (122)): in every 32 elements, the 16 even ones
// then the 16 odd ones; zeros past K.
void permute_rows(const float* a, int64_t rows, int64_t k, int64_t padded, float* perm) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = a + r * k;
    float* p = perm + r * padded;
    for (int64_t c = 0; c < padded; c += 32) {
      for (int64_t i = 0; i < 16; ++i) {
        p[c + i] = c + 2 * i < k ? x[c + 2 * i] : 0.f;
        p[c + 16 + i] = c + 2 * i + 1 < k ? x[c + 2 * i + 1] : 0.f;
      }
    }
  }
}

// Threads take contiguous ranges of columns (unit_columns at a time); A in float (eq. (144)) or,
// for accuracy_level 4, quantized to int8 per block (eq. (161)).
class Int4GemvKernel final : public Kernel {
 public:
  Int4GemvKernel(Int4Weights w, int64_t m, bool has_bias, Int4Isa isa, int threads)
      : w_(std::move(w)), m_(m), has_bias_(has_bias), isa_(isa), threads_(split(threads)) {}
  Int4GemvKernel(const Int4Weights& w, int64_t m, bool has_bias, Int8DotIsa isa, int threads)
      : grouped_(group_int4_weights(w)),
        m_(m),
        has_bias_(has_bias),
        int8_(true),
        int8_isa_(isa),
        threads_(split(threads)) {}
  void run(const KernelArgs& a) const override {
    const auto* x = static_cast<const float*>(a.inputs[kNBitsA]);
    const auto* bias = has_bias_ ? static_cast<const float*>(a.inputs[kNBitsBias]) : nullptr;
    auto* y = static_cast<float*>(a.outputs[0]);
    const size_t bytes = thread_bytes();
    const int64_t n = columns(), per = unit_columns(), groups = (n + per - 1) / per;
    parallel_units(threads_, threads_, [&](int64_t unit, int thread) {
      const int64_t n0 = per * (groups * unit / threads_);
      const int64_t n1 = std::min(n, per * (groups * (unit + 1) / threads_));
      void* scratch = static_cast<char*>(a.scratch) + thread * bytes;
      if (int8_) {
        gemv_int4_int8(grouped_, x, m_, bias, y, n0, n1, scratch, int8_isa_);
      } else {
        gemv_int4(w_, x, m_, bias, y, n0, n1, scratch, isa_);
      }
    });
  }
  size_t scratch_bytes() const override { return static_cast<size_t>(threads_) * thread_bytes(); }
  std::string impl() const override {
    return int8_ ? std::string("x86:int4_int8_") + int8_dot_isa_name(int8_isa_)
                 : std::string("x86:int4_") + int4_isa_name(isa_);
  }

 private:
  int64_t columns() const { return int8_ ? grouped_.n : w_.n; }
  // Threads take whole groups of this many columns: the float loops' widest column group, or
  // the integer loops' packs (at least 4 columns).
  int64_t unit_columns() const {
    return int8_ ? std::max<int64_t>(4, grouped_.columns_per_pack()) : 4;
  }
  int split(int threads) const {
    const int64_t units = (columns() + unit_columns() - 1) / unit_columns();
    return static_cast<int>(std::min<int64_t>(std::max(threads, 1), units));
  }
  size_t thread_bytes() const {
    return per_thread(int8_ ? int4_int8_scratch_bytes(grouped_, m_) : int4_scratch_bytes(w_, m_));
  }

  Int4Weights w_;               // the float loops' weights, or
  Int4GroupedWeights grouped_;  // the integer loops'

  int64_t m_;
  bool has_bias_;
  Int4Isa isa_ = Int4Isa::kAvx2;
  bool int8_ = false;
  Int8DotIsa int8_isa_ = Int8DotIsa::kAvx2;
  int threads_;
};

// int4_gemm_min_rows rows or more: the panels of nbits_gemm.h.
class Int4GemmKernel final : public Kernel {
 public:
  Int4GemmKernel(const Int4Weights& w, int64_t m, bool has_bias, Int4Isa isa, int threads)
      : w_(pack_int4_panels(w)), m_(m), has_bias_(has_bias), isa_(isa), threads_(threads) {}
  void run(const KernelArgs& a) const override {
    gemm_int4(w_, static_cast<const float*>(a.inputs[kNBitsA]), m_,
              has_bias_ ? static_cast<const float*>(a.inputs[kNBitsBias]) : nullptr,
              static_cast<float*>(a.outputs[0]), a.scratch, threads_, isa_);
  }
  size_t scratch_bytes() const override { return int4_gemm_scratch_bytes(threads_); }
  std::string impl() const override { return std::string("x86:int4_gemm_") + int4_isa_name(isa_); }

 private:
  Int4Panels w_;
  int64_t m_;
  bool has_bias_;
  Int4Isa isa_;
  int threads_;
};

bool available(Int4Isa isa) {
  return isa == Int4Isa::kAvx512 ? cpu_features().avx512 : cpu_features().avx2;
}

}  // namespace

Int4Isa int4_isa() { return available(Int4Isa::kAvx512) ? Int4Isa::kAvx512 : Int4Isa::kAvx2; }

const char* int4_isa_name(Int4Isa isa) { return isa == Int4Isa::kAvx512 ? "avx512" : "avx2"; }

size_t int4_scratch_bytes(const Int4Weights& w, int64_t rows) {
  // The reordered rows, then their block sums (eq. (144)).
  return static_cast<size_t>(std::min(rows, kTileRows) * w.k_blocks * (w.block_size + 1)) *
         sizeof(float);
}

void gemv_int4(const Int4Weights& w, const float* a, int64_t rows, const float* bias, float* y,
               int64_t n0, int64_t n1, void* scratch, Int4Isa isa) {
  const int64_t padded = w.k_blocks * w.block_size;
  float* perm = static_cast<float*>(scratch);
  for (int64_t r0 = 0; r0 < rows; r0 += kTileRows) {
    const int64_t tile = std::min(kTileRows, rows - r0);
    permute_rows(a + r0 * w.k, tile, w.k, padded, perm);
    float* sums = perm + std::min(rows, kTileRows) * padded;
    for (int64_t r = 0; r < tile; ++r) {
      for (int64_t j = 0; j < w.k_blocks; ++j) {
        const float* x = perm + r * padded + j * w.block_size;
        float s = 0.f;
        for (int64_t i = 0; i < w.block_size; ++i) s += x[i];
        sums[r * w.k_blocks + j] = s;
      }
    }
    (isa == Int4Isa::kAvx512 ? avx512::int4_columns : avx2::int4_columns)(
        w, perm, sums, tile, bias, y + r0 * w.n, w.n, n0, n1);
  }
}

std::unique_ptr<Kernel> make_matmul_nbits(KernelContext& ctx) {
  return make_matmul_nbits(ctx, int4_isa());
}

std::unique_ptr<Kernel> make_matmul_nbits(KernelContext& ctx, Int4Isa isa) {
  if (!cpu_features().avx2 || !available(isa)) return nullptr;
  const NBitsKernelPlan p = plan_nbits_kernel(ctx);
  const ref::NBitsShape& s = p.shape;
  if (s.bits != 4 || s.block_size % 32 != 0 || p.has_g_idx || p.float_zero_points) return nullptr;
  for (size_t i : {kNBitsB, kNBitsScales, kNBitsZeroPoints}) {
    if (ctx.has_input(i) && ctx.inputs[i].constant == nullptr) return nullptr;
  }
  Int4Weights w;
  w.k = s.k;
  w.n = s.n;
  w.block_size = s.block_size;
  w.k_blocks = s.k_blocks();
  const Tensor& b = *ctx.inputs[kNBitsB].constant;
  w.b.assign(b.data<uint8_t>(), b.data<uint8_t>() + b.numel());
  const Tensor& scales = *ctx.inputs[kNBitsScales].constant;
  w.scales.assign(scales.data<float>(), scales.data<float>() + scales.numel());
  w.zero_points.assign(static_cast<size_t>(s.n * w.k_blocks),
                       static_cast<int8_t>(s.default_zero_point()));
  if (p.has_zero_points) {
    const uint8_t* packed = ctx.inputs[kNBitsZeroPoints].constant->data<uint8_t>();
    for (int64_t n = 0; n < s.n; ++n) {
      for (int64_t j = 0; j < w.k_blocks; ++j) {
        w.zero_points[n * w.k_blocks + j] =
            static_cast<int8_t>(ref::unpack_bits(packed + n * s.zero_point_bytes(), j, 4));
      }
    }
  }
  // Threads only where each gets about 2 M multiply-adds (~30 µs of work): a parallel region
  // costs microseconds, as much as a small transformer's products take whole (vit's are 50 x 64
  // x 256 at one image).
  constexpr int64_t kMultiplyAddsPerThread = int64_t{1} << 21;
  const int threads = static_cast<int>(
      std::clamp<int64_t>(p.m * s.k * s.n / kMultiplyAddsPerThread, 1, std::max(ctx.threads, 1)));
  if (ref::nbits_int8_compute(s, p.has_g_idx, p.float_zero_points)) {
    // The AVX-512 column loops ask for AVX512_VNNI here; AVX2's integer loop otherwise.
    const Int8DotIsa dot = isa == Int4Isa::kAvx512 && cpu_features().avx512_vnni
                               ? Int8DotIsa::kAvx512Vnni
                               : Int8DotIsa::kAvx2;
    return std::make_unique<Int4GemvKernel>(w, p.m, p.has_bias, dot, threads);
  }
  if (p.m >= int4_gemm_min_rows(isa)) {
    return std::make_unique<Int4GemmKernel>(w, p.m, p.has_bias, isa, threads);
  }
  return std::make_unique<Int4GemvKernel>(std::move(w), p.m, p.has_bias, isa, threads);
}

}  // namespace quench::x86
