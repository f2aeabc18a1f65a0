// TensorRT's calibration cache: "TRT-<version>-EntropyCalibration2", then "<name>: <scale>" per
// tensor in name order, the scale max(|min|, |max|) / 127 as the 8 lowercase hex digits of its
// float32 bit pattern.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "core/file_util.h"
#include "quench/calibration.h"

namespace quench {

void CalibrationTable::save_tensorrt_cache(const std::filesystem::path& path,
                                           int trt_version) const {
  std::string text = fmt::format("TRT-{}-EntropyCalibration2\n", trt_version);
  for (const auto& [name, observer] : observers) {
    const CalibratedRange range = observer.range();
    const float scale = std::max(std::abs(range.min), std::abs(range.max)) / 127.f;
    text += fmt::format("{}: {:08x}\n", name, std::bit_cast<uint32_t>(scale));
  }
  write_file_atomic(path, text);
}

}  // namespace quench
