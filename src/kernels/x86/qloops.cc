#include "kernels/x86/qloops.h"

#include "kernels/x86/cpu_features.h"
#include "kernels/x86/qloops_table.h"

namespace quench::x86 {

// Each ISA's table (qloops_<isa>.cc).
namespace baseline {
QLoops qloops();
}
namespace avx2 {
QLoops qloops();
}
namespace avx512 {
QLoops qloops();
}

namespace {

struct Chosen {
  QLoops loops;
  const char* isa;
};

const Chosen& chosen() {
  static const Chosen c = [] {
    const CpuFeatures& cpu = cpu_features();
    if (cpu.avx512) return Chosen{avx512::qloops(), "avx512"};
    if (cpu.avx2) return Chosen{avx2::qloops(), "avx2"};
    return Chosen{baseline::qloops(), "baseline"};
  }();
  return c;
}

const QLoops& loops() { return chosen().loops; }

}  // namespace

const char* qloops_isa() { return chosen().isa; }

void quantize_loop(const float* x, uint8_t* y, int64_t count, float scale, int32_t zero_point) {
  loops().quantize_u8(x, y, count, scale, zero_point);
}
void quantize_loop(const float* x, int8_t* y, int64_t count, float scale, int32_t zero_point) {
  loops().quantize_s8(x, y, count, scale, zero_point);
}

void range_with_zero(const float* x, int64_t count, float& min, float& max) {
  loops().range_with_zero(x, count, min, max);
}

void dequantize_loop(const uint8_t* x, float* y, int64_t count, float scale, int32_t zero_point) {
  loops().dequantize_u8(x, y, count, scale, zero_point);
}
void dequantize_loop(const int8_t* x, float* y, int64_t count, float scale, int32_t zero_point) {
  loops().dequantize_s8(x, y, count, scale, zero_point);
}

void add_requantize_loop(const uint8_t* a, const uint8_t* b, uint8_t* y, int64_t count,
                         int32_t a_zero_point, float a_ratio, int32_t b_zero_point, float b_ratio,
                         int32_t y_zero_point) {
  loops().add_requantize_u8(a, b, y, count, a_zero_point, a_ratio, b_zero_point, b_ratio,
                            y_zero_point);
}
void add_requantize_loop(const int8_t* a, const int8_t* b, int8_t* y, int64_t count,
                         int32_t a_zero_point, float a_ratio, int32_t b_zero_point, float b_ratio,
                         int32_t y_zero_point) {
  loops().add_requantize_s8(a, b, y, count, a_zero_point, a_ratio, b_zero_point, b_ratio,
                            y_zero_point);
}

void mul_requantize_loop(const uint8_t* a, const uint8_t* b, uint8_t* y, int64_t count,
                         int32_t a_zero_point, int32_t b_zero_point, float multiplier,
                         int32_t y_zero_point) {
  loops().mul_requantize_u8(a, b, y, count, a_zero_point, b_zero_point, multiplier, y_zero_point);
}
void mul_requantize_loop(const int8_t* a, const int8_t* b, int8_t* y, int64_t count,
                         int32_t a_zero_point, int32_t b_zero_point, float multiplier,
                         int32_t y_zero_point) {
  loops().mul_requantize_s8(a, b, y, count, a_zero_point, b_zero_point, multiplier, y_zero_point);
}

void requantize_loop(const int32_t* acc, uint8_t* y, int64_t count, float multiplier,
                     int32_t zero_point) {
  loops().requantize_u8(acc, y, count, multiplier, zero_point);
}
void requantize_loop(const int32_t* acc, int8_t* y, int64_t count, float multiplier,
                     int32_t zero_point) {
  loops().requantize_s8(acc, y, count, multiplier, zero_point);
}

void fake_quantize_loop(const float* x, float* y, int64_t count, float scale, float zero_point,
                        float qmin, float qmax) {
  loops().fake_quantize(x, y, count, scale, zero_point, qmin, qmax);
}

void fake_quantize_grad_loop(const float* x, const float* dy, float* dx, int64_t count, float scale,
                             float zero_point, float qmin, float qmax, double& dscale,
                             double& dzero_point) {
  loops().fake_quantize_grad(x, dy, dx, count, scale, zero_point, qmin, qmax, dscale, dzero_point);
}

}  // namespace quench::x86
