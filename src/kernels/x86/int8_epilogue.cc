#include "kernels/x86/int8_epilogue.h"

namespace quench::x86 {

RequantBounds requant_bounds(const Epilogue& e, OutKind out) {
  const double q_min = out == OutKind::kU8 ? 0 : -128;
  const double q_max = out == OutKind::kU8 ? 255 : 127;
  const double saturation_low = q_min - e.zero_point, saturation_high = q_max - e.zero_point;
  RequantBounds b;
  b.low = static_cast<float>(e.low);
  b.high = static_cast<float>(e.high);
  b.q_low = static_cast<float>(saturation_low);
  b.q_high = static_cast<float>(saturation_high);
  const double low = b.low, high = b.high;
  const double merged_low = low > saturation_low ? low : saturation_low;
  const double merged_high = high < saturation_high ? high : saturation_high;
  b.merged_low = static_cast<float>(merged_low < saturation_high ? merged_low : saturation_high);
  b.merged_high = static_cast<float>(merged_high > saturation_low ? merged_high : saturation_low);
  return b;
}

}  // namespace quench::x86
