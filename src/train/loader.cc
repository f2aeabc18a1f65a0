#include "train/loader.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <string>

#include "quench/error.h"

namespace quench::train {

namespace {

// SplitMix64's finaliser: distinct keys give unrelated seeds.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

Loader::Loader(const Dataset& data, const LoaderOptions& options) : o_(options) {
  if (o_.batch <= 0) throw Error(ErrorKind::kInvalidArgument, "batch size must be > 0");
  if (o_.crop_padding < 0) throw Error(ErrorKind::kInvalidArgument, "crop padding must be >= 0");
  if (o_.shards < 1 || o_.shard < 0 || o_.shard >= o_.shards || o_.batch % o_.shards != 0) {
    throw Error(ErrorKind::kInvalidArgument,
                "batch " + std::to_string(o_.batch) + " does not divide evenly over " +
                    std::to_string(o_.shards) + " processes (make it a multiple of " +
                    std::to_string(o_.shards) + ")");
  }
  if (!data.has_labels()) {
    throw Error(ErrorKind::kInvalidArgument,
                "the training data has no labels (training needs a labeled dataset)");
  }
  const auto inputs = data.inputs();
  sample_ = data.sample_shape();
  if (inputs.size() != 1 || inputs[0].dtype != DType::kFloat32 || sample_.size() != 3) {
    throw Error(ErrorKind::kInvalidArgument,
                "training reads one float32 image input [C, H, W] per sample; the data gives " +
                    std::to_string(inputs.size()) + " input(s) of shape " + shape_str(sample_));
  }
  const int64_t n = data.size();
  const int64_t per = shape_numel(sample_);
  images_.resize(static_cast<size_t>(n * per));
  labels_.reserve(static_cast<size_t>(n));
  constexpr int64_t kChunk = 1024;
  for (int64_t start = 0; start < n; start += kChunk) {
    const Batch b = data.batch(start, std::min(kChunk, n - start));
    const Tensor& x = b.images();
    std::copy(x.data<float>(), x.data<float>() + x.numel(), images_.begin() + start * per);
    labels_.insert(labels_.end(), b.labels.begin(), b.labels.end());
  }
  if (std::min(o_.batch, n) / o_.shards == 0) {
    throw Error(ErrorKind::kInvalidArgument, "the training data has " + std::to_string(n) +
                                                 " samples, fewer than the " +
                                                 std::to_string(o_.shards) + " processes");
  }
  order_.resize(static_cast<size_t>(n));
  std::iota(order_.begin(), order_.end(), 0);
}

int64_t Loader::batches_per_epoch() const { return std::max<int64_t>(1, size() / o_.batch); }

void Loader::start_epoch(int64_t epoch) {
  epoch_ = epoch;
  std::mt19937_64 rng(o_.seed * 1000003u + static_cast<uint64_t>(epoch));
  std::iota(order_.begin(), order_.end(), 0);
  std::shuffle(order_.begin(), order_.end(), rng);
}

Batch Loader::batch(int64_t index) const {
  // The augmentation's own stream, from the batch's place alone.
  uint64_t key = o_.seed;
  for (int64_t part : {epoch_, index, static_cast<int64_t>(o_.shard)}) {
    key = mix(key ^ static_cast<uint64_t>(part));
  }
  std::mt19937_64 rng(key);
  const int64_t global = std::min(o_.batch, size());
  const int64_t count = global / o_.shards;
  const int64_t first = index * o_.batch + o_.shard * count;
  const int64_t c = sample_[0], h = sample_[1], w = sample_[2];
  const int64_t per = c * h * w;
  Batch b;
  Shape shape = {count, c, h, w};
  Tensor x = Tensor::empty(DType::kFloat32, shape);
  float* out = x.data<float>();
  std::uniform_int_distribution<int64_t> shift(-o_.crop_padding, o_.crop_padding);
  std::bernoulli_distribution coin(0.5);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t sample = order_[static_cast<size_t>((first + i) % size())];
    b.labels.push_back(labels_[static_cast<size_t>(sample)]);
    const float* src = images_.data() + sample * per;
    float* dst = out + i * per;
    const int64_t dy = o_.crop_padding > 0 ? shift(rng) : 0;
    const int64_t dx = o_.crop_padding > 0 ? shift(rng) : 0;
    const bool flip = o_.flip && coin(rng);
    // Output pixel (y, x) reads the padded image at (y + dy, x + dx), flipped first.
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t y = 0; y < h; ++y) {
        const int64_t sy = y + dy;
        for (int64_t xx = 0; xx < w; ++xx) {
          const int64_t fx = flip ? w - 1 - xx : xx;
          const int64_t sx = fx + dx;
          dst[(ch * h + y) * w + xx] =
              sy >= 0 && sy < h && sx >= 0 && sx < w ? src[(ch * h + sy) * w + sx] : 0.0f;
        }
      }
    }
  }
  b.inputs.push_back(std::move(x));
  return b;
}

}  // namespace quench::train
