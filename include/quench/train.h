// FP32 training of a classifier: softmax cross-entropy on the model's first output against the
// dataset's labels, by mini-batch SGD or AdamW (docs/training.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "quench/data.h"
#include "quench/graph.h"

namespace quench {

struct TrainEpoch {
  int64_t epoch = 0;  // 1-based
  int64_t steps = 0;  // steps in this epoch
  double loss = 0;    // mean training loss over the epoch
  double train_accuracy = 0;
  double val_accuracy = -1;  // -1 without validation data
  double seconds = 0;
  double throughput = 0;  // training samples per second
};

struct TrainOptions {
  int64_t epochs = 1;
  int64_t steps = 0;  // > 0: train this many steps instead of whole epochs
  int64_t batch = 64;
  float lr = 0.01f;
  std::string optimizer = "sgd";  // "sgd" or "adamw"
  float momentum = 0.9f;
  bool nesterov = false;
  float weight_decay = 5e-4f;
  std::string schedule = "cosine";  // "cosine" (linear warm-up), "step" or "constant"
  int64_t warmup_steps = -1;        // -1: 2% of the steps (cosine)
  int64_t step_size = 0;            // step schedule: 0 = a third of the steps
  float gamma = 0.1f;               // step schedule
  uint64_t seed = 0;
  bool init_random = false;  // re-initialise every weight (Kaiming normal; biases 0; BN reset)
  int64_t crop_padding = 0;  // random crop of the image padded by this many pixels
  bool flip = false;         // random horizontal flip
  // >= 0: from this step on, batch norms use and keep their running statistics (frozen BN).
  int64_t freeze_bn_after = -1;
  // Checkpoints (docs/training.md, "Checkpoints"): the folder (created when missing; empty: none),
  // also written every `checkpoint_every` steps (0: at the end of each epoch only) and on Ctrl-C.
  std::string checkpoint_dir;
  int64_t checkpoint_every = 0;
  bool resume = false;     // continue from the checkpoint in checkpoint_dir (it must exist)
  int loader_threads = 1;  // threads building the next batches while a step runs (0: none)
  int threads = 0;         // threads of the GEMMs (0: OpenMP's default)
  bool progress = true;    // progress bar on stderr
  std::function<void(const TrainEpoch&)> on_epoch;  // after each epoch (or the last step)
};

struct TrainResult {
  Model model;  // the input model with the trained weights
  std::vector<TrainEpoch> epochs;
  int64_t steps = 0;
  double first_loss = 0;  // loss of the first step
  double last_loss = 0;   // mean loss of the last 10% of steps
  double seconds = 0;
};

// This process's place in a data-parallel run (`mpirun -np N quench train ...`, quench built with
// MPI): rank 0 of 1 when run alone. Each process trains on its slice of every batch, gradients are
// averaged every step, and only rank 0 reports and writes (docs/training.md (T23)-(T24)).
struct TrainProcess {
  int rank = 0;
  int count = 1;
};
TrainProcess train_process();

// Checks `options` before any work: kInvalidArgument for a value out of range; for a checkpoint
// folder, creates it when missing and throws kIo when it cannot be written or, with `resume`, holds
// no checkpoint. train_model() and quantization-aware training call it first; a caller with long
// work of its own before them (loading data) calls it earlier.
void check_train_options(const TrainOptions& options);

// Trains `model` on `train` (labels required) and reports accuracy on `val` (may be nullptr)
// after each epoch. Refuses, before any work, a model with an op that has no gradient between a
// weight and the output (kUnsupported naming node and op), an unlabeled dataset, and labels
// outside the model's classes (kInvalidArgument naming the sample); stops at a NaN or infinite
// loss naming the step (the last checkpoint is kept). Ctrl-C writes a checkpoint when a folder is
// given, then throws kInterrupted. With `resume`, refuses a checkpoint written for another model,
// data or options (kInvalidArgument naming the difference). Under mpirun every process calls it
// with the same options; `batch` is the global batch (a multiple of the process count); validation
// runs on rank 0, whose result holds the model.
TrainResult train_model(const Model& model, const Dataset& train, const Dataset* val,
                        const TrainOptions& options);

}  // namespace quench
