// Data for evaluation and calibration: .npy files and datasets of images streamed in batches.
//
// Dataset specs (the --data argument of `quench run`, `quench eval` and `quench calibrate`):
//
//   fmnist:train | fmnist:test   Fashion-MNIST from the Debian package dataset-fashion-mnist
//                                (/usr/share/datasets/fashion-mnist, or $QUENCH_FMNIST_DIR).
//                                60000 / 10000 labeled samples [1,28,28], pixel values / 255.
//   idx:IMAGES[,LABELS]          IDX files (the MNIST format), gzipped or not (detected from the
//                                bytes). Images [N,H,W] become samples [1,H,W]; labels are
//                                optional.
//   npy:X.npy[,Y.npy]            X [N,C,H,W] ([N,H,W] is read as [N,1,H,W]; [N,D] as vectors).
//                                float32/float64/float16 values are taken as they are; uint8
//                                values are multiplied by the scale (1/255 by default). Y holds
//                                integer labels [N]. Rows are read from the file per batch.
//   npy:NAME=A.npy,NAME2=B.npy[,labels=Y.npy]
//                                One array [N, ...] per model input, fed to the input NAME (a
//                                transformer's input_ids and attention_mask, say). Values keep
//                                their type (floats become float32); the model input's integer
//                                type is matched when the batch is fed. No transforms apply.
//   folder:DIR                   PNG, JPEG, BMP or PGM/PPM images. If DIR has subfolders, each
//                                is a class (searched recursively) and the label is the index of
//                                its name in sorted order (ImageNet style); otherwise the images
//                                directly in DIR form an unlabeled set. Files are taken in sorted
//                                path order; hidden files and other extensions are skipped.
//                                Grey images give 1 channel, colour images 3 (alpha dropped).
//                                Without a resize, every image must have the size of the first
//                                (checked as batches are read).
//   random:N[:CxHxW]             N samples of uniform [0,1) noise, unlabeled, identical for a
//                                given seed however they are batched. Without a shape in the
//                                spec, DataOptions::random_shape is used.
//   DIR or FILE.npy              The same as folder:DIR or npy:FILE.npy.
//
// File names may not contain ','. Samples are float32; then, for every source, in this order:
//   channels  1 -> 3 repeats the grey plane, 3 -> 1 takes the BT.601 luma;
//   resize    bilinear (a triangle filter; when shrinking it averages the covered pixels, as
//             PIL does), edges clamped;
//   mean/std  (x - mean[c]) / std[c];
//   layout    NCHW, or NHWC (samples [H,W,C]).
// offset and limit then select a contiguous range of samples.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "quench/tensor.h"

namespace quench {

// ---- .npy files (NumPy format versions 1.0, 2.0 and 3.0, C order, little-endian) ----

// Reads a .npy file. Supported dtypes: <f4 <f8 <f2 |u1 |i1 <i2 <u2 <i4 <u4 <i8 <u8 |b1.
// Throws quench::Error naming the file for a missing file, bad magic, malformed header,
// unsupported dtype or order, huge dims, or data shorter or longer than the shape needs.
Tensor read_npy(const std::filesystem::path& path);

// Writes `tensor` as a .npy file (format 1.0, or 2.0 for very long headers), atomically.
void write_npy(const Tensor& tensor, const std::filesystem::path& path);

// ---- Datasets ----

enum class DataLayout { kNCHW, kNHWC };

struct DataOptions {
  int64_t offset = 0;  // first sample used
  int64_t limit = 0;   // at most this many samples from `offset`; 0: all

  int channels = 0;           // 0: as stored; 1: grayscale; 3: RGB
  int64_t resize_height = 0;  // both 0: keep the stored size
  int64_t resize_width = 0;
  std::vector<float> mean;      // per channel, or one value for all; empty: 0
  std::vector<float> std;       // per channel, or one value for all; empty: 1
  float scale = 1.0f / 255.0f;  // multiplier for 8-bit values (images, uint8 IDX/npy data)
  DataLayout layout = DataLayout::kNCHW;

  Shape random_shape;  // sample shape for random:N without a shape in the spec
  uint64_t seed = 0;   // for random:N
};

// One input a dataset delivers per sample.
struct DataInput {
  std::string name;  // the model input it feeds; empty: the model's only input
  DType dtype = DType::kFloat32;
  Shape sample_shape;
};

struct Batch {
  // One tensor [B, sample...] per Dataset::inputs(); image datasets give one float32 tensor
  // [B, C, H, W] ([B, H, W, C] for NHWC).
  std::vector<Tensor> inputs;
  std::vector<int64_t> labels;  // one per sample; empty if the dataset is unlabeled

  const Tensor& images() const { return inputs.at(0); }  // the first (for images, only) input
};

class Dataset {
 public:
  virtual ~Dataset();
  virtual int64_t size() const = 0;
  // The shape of one sample of the first input as batch() delivers it: [C,H,W] ([H,W,C] for
  // NHWC).
  virtual Shape sample_shape() const = 0;
  // Every input a sample holds; by default one unnamed float32 input of sample_shape().
  virtual std::vector<DataInput> inputs() const { return {{"", DType::kFloat32, sample_shape()}}; }
  virtual bool has_labels() const = 0;
  // Class names indexed by label, where the source knows them (image folders, Fashion-MNIST).
  virtual std::vector<std::string> class_names() const { return {}; }
  // Samples [start, start + count). Safe to call from several threads at once.
  virtual Batch batch(int64_t start, int64_t count) const = 0;
};

// Opens the dataset named by `spec` (syntax at the top of this file). Headers and labels are
// read and checked here; image data is read per batch (gzipped IDX files are decompressed
// into memory once). Throws quench::Error for a malformed spec, missing or corrupt files,
// inconsistent options, or an empty dataset.
std::unique_ptr<Dataset> open_dataset(const std::string& spec, const DataOptions& options = {});

}  // namespace quench
