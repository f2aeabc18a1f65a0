#include "data/transform.h"

#include <cmath>
#include <cstring>

#include "core/check.h"
#include "data/stb.h"

namespace quench {
namespace {

// Largest resize target per side; far beyond any model input, small enough for stb's int math.
constexpr int64_t kMaxResizeSide = 1 << 14;

// ITU-R BT.601 luma, the weights stb_image and most libraries use for RGB -> grey.
constexpr float kLumaRed = 0.299f;
constexpr float kLumaGreen = 0.587f;
constexpr float kLumaBlue = 0.114f;

std::vector<float> per_channel(const std::vector<float>& values, int64_t channels, float fallback,
                               std::string_view name, const std::string& source) {
  if (values.empty()) return std::vector<float>(static_cast<size_t>(channels), fallback);
  if (values.size() == 1) return std::vector<float>(static_cast<size_t>(channels), values[0]);
  QUENCH_CHECK(static_cast<int64_t>(values.size()) == channels, ErrorKind::kInvalidArgument,
               "{}: {} has {} values but the samples have {} channels (give 1 or {})", source, name,
               values.size(), channels, channels);
  return values;
}

}  // namespace

SampleTransform::SampleTransform(const DataOptions& options, const Shape& stored_shape,
                                 const std::string& source)
    : stored_shape_(stored_shape), out_shape_(stored_shape) {
  out_numel_ = shape_numel(stored_shape);
  const bool wants_resize = options.resize_height != 0 || options.resize_width != 0;
  const bool image_options = options.channels != 0 || wants_resize || !options.mean.empty() ||
                             !options.std.empty() || options.layout != DataLayout::kNCHW;
  if (!image_options) return;
  QUENCH_CHECK(stored_shape.size() == 3, ErrorKind::kInvalidArgument,
               "{}: channels, resize, mean/std and layout need image samples [C,H,W], got "
               "samples of shape {}",
               source, shape_str(stored_shape));

  in_channels_ = stored_shape[0];
  out_channels_ = options.channels == 0 ? in_channels_ : options.channels;
  QUENCH_CHECK(options.channels == 0 || options.channels == 1 || options.channels == 3,
               ErrorKind::kInvalidArgument, "{}: channels must be 1 or 3, got {}", source,
               options.channels);
  QUENCH_CHECK(in_channels_ == out_channels_ || in_channels_ == 1 || in_channels_ == 3,
               ErrorKind::kInvalidArgument,
               "{}: cannot convert samples of {} channels to {} (only 1 <-> 3)", source,
               in_channels_, out_channels_);

  out_height_ = stored_shape[1];
  out_width_ = stored_shape[2];
  if (wants_resize) {
    QUENCH_CHECK(options.resize_height > 0 && options.resize_height <= kMaxResizeSide &&
                     options.resize_width > 0 && options.resize_width <= kMaxResizeSide,
                 ErrorKind::kInvalidArgument,
                 "{}: resize must give a height and a width in [1, {}], got {}x{}", source,
                 kMaxResizeSide, options.resize_height, options.resize_width);
    resize_ = true;
    out_height_ = options.resize_height;
    out_width_ = options.resize_width;
  }

  mean_ = per_channel(options.mean, out_channels_, 0.0f, "mean", source);
  std_ = per_channel(options.std, out_channels_, 1.0f, "std", source);
  for (float s : std_) {
    QUENCH_CHECK(std::isfinite(s) && s != 0.0f, ErrorKind::kInvalidArgument,
                 "{}: std values must be finite and nonzero, got {}", source, s);
  }
  nhwc_ = options.layout == DataLayout::kNHWC;
  out_shape_ = nhwc_ ? Shape{out_height_, out_width_, out_channels_}
                     : Shape{out_channels_, out_height_, out_width_};
  out_numel_ = shape_numel(out_shape_);
  identity_ = false;
}

void SampleTransform::apply(const float* in, float* out) const {
  if (identity_) {
    std::memcpy(out, in, static_cast<size_t>(out_numel_) * sizeof(float));
    return;
  }
  apply(in, stored_shape_[1], stored_shape_[2], out);
}

void SampleTransform::apply(const float* in, int64_t height, int64_t width, float* out) const {
  if (identity_) {
    std::memcpy(out, in, static_cast<size_t>(out_numel_) * sizeof(float));
    return;
  }
  const float* current = in;
  const int64_t in_plane = height * width;
  std::vector<float> converted;
  if (in_channels_ != out_channels_) {
    converted.resize(static_cast<size_t>(out_channels_ * in_plane));
    if (in_channels_ == 1) {
      for (int64_t channel = 0; channel < out_channels_; ++channel) {
        std::memcpy(&converted[channel * in_plane], in, in_plane * sizeof(float));
      }
    } else {
      const float* red = in;
      const float* green = in + in_plane;
      const float* blue = in + 2 * in_plane;
      for (int64_t pixel = 0; pixel < in_plane; ++pixel) {
        converted[pixel] =
            kLumaRed * red[pixel] + kLumaGreen * green[pixel] + kLumaBlue * blue[pixel];
      }
    }
    current = converted.data();
  }

  const int64_t out_plane = out_height_ * out_width_;
  std::vector<float> resized;
  if (height != out_height_ || width != out_width_) {
    QUENCH_CHECK(resize_, ErrorKind::kInternal, "sample of {}x{} given to a transform for {}x{}",
                 height, width, out_height_, out_width_);
    resized.resize(static_cast<size_t>(out_channels_ * out_plane));
    for (int64_t channel = 0; channel < out_channels_; ++channel) {
      resize_plane(current + channel * in_plane, static_cast<int>(width), static_cast<int>(height),
                   &resized[channel * out_plane], static_cast<int>(out_width_),
                   static_cast<int>(out_height_));
    }
    current = resized.data();
  }

  for (int64_t channel = 0; channel < out_channels_; ++channel) {
    const float mean = mean_[channel];
    const float std = std_[channel];
    const float* plane = current + channel * out_plane;
    if (nhwc_) {
      for (int64_t pixel = 0; pixel < out_plane; ++pixel) {
        out[pixel * out_channels_ + channel] = (plane[pixel] - mean) / std;
      }
    } else {
      float* out_plane_start = out + channel * out_plane;
      for (int64_t pixel = 0; pixel < out_plane; ++pixel) {
        out_plane_start[pixel] = (plane[pixel] - mean) / std;
      }
    }
  }
}

}  // namespace quench
