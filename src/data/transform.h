// Per-sample image processing from DataOptions: channel conversion, resize, normalization,
// output layout, in that order.
#pragma once

#include <string>
#include <vector>

#include "quench/data.h"

namespace quench {

class SampleTransform {
 public:
  // `stored_shape`: one sample as the source yields it, [C,H,W] for images. Options that need
  // images fail (kInvalidArgument, naming `source`) for other shapes, as do unsupported channel
  // conversions and mean/std of the wrong length.
  SampleTransform(const DataOptions& options, const Shape& stored_shape, const std::string& source);

  const Shape& out_shape() const { return out_shape_; }
  int64_t out_numel() const { return out_numel_; }
  // Whether apply() would copy the sample unchanged.
  bool identity() const { return identity_; }
  // Whether the transform resizes, so that samples may come in other sizes than stored.
  bool resizes() const { return resize_; }

  // Transforms one [C,H,W] sample of the stored channel count. `height`/`width` may differ from
  // the stored shape only when resizes().
  void apply(const float* in, int64_t height, int64_t width, float* out) const;
  void apply(const float* in, float* out) const;

 private:
  Shape stored_shape_;
  Shape out_shape_;
  int64_t out_numel_ = 0;
  bool identity_ = true;
  bool resize_ = false;
  int64_t in_channels_ = 0;
  int64_t out_channels_ = 0;
  int64_t out_height_ = 0;
  int64_t out_width_ = 0;
  std::vector<float> mean_;  // per output channel
  std::vector<float> std_;   // per output channel
  bool nhwc_ = false;
};

}  // namespace quench
