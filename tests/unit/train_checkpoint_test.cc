// Training checkpoints: an interrupted run resumed from its checkpoint ends bit for bit where an
// uninterrupted one does; checkpoints of other runs, truncated or corrupt files and unwritable
// folders are refused with the reason; a NaN loss keeps the last checkpoint. Also the prefetching
// data loader, which must serve exactly the loader's batches.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>

#include "quench/error.h"
#include "quench/files.h"
#include "quench/interrupt.h"
#include "quench/train.h"
#include "test_util.h"
#include "train/checkpoint.h"
#include "train/loader.h"
#include "train/loop.h"
#include "train/prefetch.h"
#include "train/tape.h"
#include "train_test_data.h"

namespace quench::train {
namespace {

// BatchNormalization (running statistics: buffers) → Flatten → Gemm into 2 classes.
Model model(bool with_batch_norm = true) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  g.outputs = {"logits"};
  g.values["x"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("N"), 1, 2, 2}, ""};
  g.values["logits"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("N"), 2}, ""};
  g.initializers["W"] =
      Tensor::from_vector<float>({2, 4}, {0.1f, -0.2f, 0.3f, 0.f, 0.f, 0.2f, -0.1f, 0.4f});
  g.initializers["b"] = Tensor::zeros(DType::kFloat32, {2});
  g.initializers["gamma"] = Tensor::from_vector<float>({1}, {1});
  g.initializers["beta"] = Tensor::from_vector<float>({1}, {0});
  g.initializers["mean"] = Tensor::from_vector<float>({1}, {0});
  g.initializers["var"] = Tensor::from_vector<float>({1}, {1});
  std::string x = "x";
  if (with_batch_norm) {
    g.nodes.push_back(testing::make_node("BatchNormalization",
                                         {"x", "gamma", "beta", "mean", "var"}, {"xn"}, {}));
    x = "xn";
  }
  g.nodes.push_back(testing::make_node("Flatten", {x}, {"f"}, {}));
  Node gemm = testing::make_node("Gemm", {"f", "W", "b"}, {"logits"}, {});
  gemm.set_attr("transB", int64_t{1});
  g.nodes.push_back(gemm);
  return m;
}

TrainOptions options(const std::string& optimizer) {
  TrainOptions o;
  o.epochs = 4;  // 8 steps of 8 samples each
  o.batch = 8;
  o.lr = 0.2f;
  o.optimizer = optimizer;
  o.nesterov = optimizer == "sgd";
  o.crop_padding = 1;
  o.flip = true;
  o.seed = 3;
  o.threads = 1;
  o.progress = false;
  return o;
}

void expect_same_weights(const TrainResult& got, const TrainResult& want) {
  for (const char* name : {"W", "b", "mean", "var"}) {
    EXPECT_TRUE(testing::same(got.model.graph.initializers.at(name),
                              want.model.graph.initializers.at(name)))
        << name;
  }
}

class TrainCheckpoint : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainCheckpoint, InterruptedAndResumedEqualsUninterrupted) {
  Separable data;
  const Model m = model();
  TrainOptions o = options(GetParam());
  const TrainResult whole = train_model(m, data, &data, o);

  TempDir dir;
  o.checkpoint_dir = (dir.path() / "ck").string();
  o.checkpoint_every = 3;
  // Ctrl-C after epoch 2: seen at the first step of epoch 3, so the checkpoint is mid-epoch.
  o.on_epoch = [](const TrainEpoch& e) {
    if (e.epoch == 2) request_interrupt();
  };
  try {
    train_model(m, data, &data, o);
    FAIL() << "expected an interrupt";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInterrupted);
  }
  clear_interrupt();
  ASSERT_TRUE(std::filesystem::exists(checkpoint_path(o.checkpoint_dir)));
  o.on_epoch = nullptr;
  o.resume = true;
  const TrainResult resumed = train_model(m, data, &data, o);
  EXPECT_EQ(resumed.steps, whole.steps);
  expect_same_weights(resumed, whole);
  ASSERT_EQ(resumed.epochs.size(), whole.epochs.size());
  for (size_t i = 0; i < whole.epochs.size(); ++i) {
    EXPECT_EQ(resumed.epochs[i].loss, whole.epochs[i].loss) << i;
    EXPECT_EQ(resumed.epochs[i].train_accuracy, whole.epochs[i].train_accuracy) << i;
    EXPECT_EQ(resumed.epochs[i].val_accuracy, whole.epochs[i].val_accuracy) << i;
  }
  EXPECT_EQ(resumed.first_loss, whole.first_loss);
  EXPECT_EQ(resumed.last_loss, whole.last_loss);

  // Resuming the finished run's checkpoint trains no more and gives the same model.
  const TrainResult again = train_model(m, data, &data, o);
  EXPECT_EQ(again.steps, whole.steps);
  expect_same_weights(again, whole);
}

TEST_P(TrainCheckpoint, InterruptedMidEpochAfterAnUpdateResumesExactly) {
  Separable data;
  const Model m = model();
  TrainOptions o = options(GetParam());
  const TrainResult whole = train_model(m, data, nullptr, o);
  TempDir dir;
  o.checkpoint_dir = (dir.path() / "ck").string();
  // Ctrl-C after the update of step 13 (batch 5 of epoch 2), seen by the progress poll.
  int updates = 0;
  LoopHooks hooks;
  hooks.checkpoint_settings = {{"run", "train"}, {"init", "keep"}};  // as train_model's
  hooks.after_update = [&](std::map<std::string, Tensor>&) {
    if (++updates == 13) request_interrupt();
  };
  {
    check_train_options(o);  // makes the folder, as train_model() does
    Tape tape(m.graph, default_parameters(m.graph));
    EXPECT_THROW(run_training(tape, m, data, nullptr, o, hooks), Error);
  }
  clear_interrupt();
  EXPECT_EQ(updates, 13);
  o.resume = true;
  const TrainResult resumed = train_model(m, data, nullptr, o);
  EXPECT_EQ(resumed.steps, whole.steps);
  expect_same_weights(resumed, whole);
  EXPECT_EQ(resumed.epochs.back().loss, whole.epochs.back().loss);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, TrainCheckpoint, ::testing::Values("sgd", "adamw"));

// Runs `o` expecting an Error of `kind` whose message holds `text`.
void expect_refused(const Model& m, const TrainOptions& o, ErrorKind kind,
                    const std::string& text) {
  Separable data;
  try {
    train_model(m, data, nullptr, o);
    FAIL() << "expected an error with '" << text << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(TrainCheckpointFile, OtherRunsAndDamagedFilesAreRefused) {
  Separable data;
  TempDir dir;
  TrainOptions o = options("sgd");
  o.epochs = 1;
  o.checkpoint_dir = (dir.path() / "ck").string();
  train_model(model(), data, nullptr, o);
  const auto file = checkpoint_path(o.checkpoint_dir);
  ASSERT_TRUE(std::filesystem::exists(file));
  o.resume = true;
  TrainOptions other = o;
  other.batch = 4;
  expect_refused(model(), other, ErrorKind::kInvalidArgument, "batch 8, this run has batch 4");
  other = o;
  other.epochs = 2;
  expect_refused(model(), other, ErrorKind::kInvalidArgument, "steps 8, this run has steps 16");
  // Same parameters (W and b), another graph: no batch norm.
  expect_refused(model(false), o, ErrorKind::kInvalidArgument, "graph or its starting weights");

  const std::string bytes = read_file(file);
  const auto write = [&](const std::string& content) {
    std::ofstream(file, std::ios::binary) << content;
  };
  write(bytes.substr(0, bytes.size() - 5));
  expect_refused(model(), o, ErrorKind::kIo, "truncated");
  std::string flipped = bytes;
  flipped[bytes.size() - 3] ^= 1;
  write(flipped);
  expect_refused(model(), o, ErrorKind::kIo, "digest");
  write("QUENCHCK\xff\xff\xff\xff\xff\xff\xff\xff");
  expect_refused(model(), o, ErrorKind::kIo, "header");
  write("not a checkpoint");
  expect_refused(model(), o, ErrorKind::kIo, "QUENCHCK");
  std::filesystem::remove(file);
  expect_refused(model(), o, ErrorKind::kIo, "no checkpoint to resume");

  // Checked before any training: a folder that cannot be made, and --resume without a folder.
  o.resume = false;
  o.checkpoint_dir = (dir.path() / "missing" / "ck").string();
  expect_refused(model(), o, ErrorKind::kIo, "cannot create checkpoint folder");
  o.checkpoint_dir.clear();
  o.resume = true;
  expect_refused(model(), o, ErrorKind::kInvalidArgument, "need a --checkpoint folder");
}

// The fuzz seeds (tests/fuzz/make_seeds.py writes the format on its own, in Python): the valid
// ones read back with the key fuzz_checkpoint.cc uses, the damaged ones are refused.
TEST(TrainCheckpointFile, FuzzSeedsFollowTheFormat) {
  const std::filesystem::path seeds =
      std::filesystem::path(QUENCH_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / "checkpoint";
  CheckpointKey key;
  key.parameters = {{"W", {2, 2}}, {"b", {2}}};
  key.start_hash = "0000000000000000";
  key.settings = {{"batch", "8"}};
  TempDir dir;
  const auto read = [&](const std::string& seed) {
    std::filesystem::copy_file(seeds / seed, checkpoint_path(dir.path()),
                               std::filesystem::copy_options::overwrite_existing);
    return read_checkpoint(dir.path(), key);
  };
  const CheckpointState sgd = read("sgd.qckpt");
  EXPECT_EQ(sgd.step, 3);
  ASSERT_EQ(sgd.epochs.size(), 1u);
  EXPECT_TRUE(
      testing::same(sgd.tensors.at("parameter/b"), Tensor::from_vector<float>({2}, {0.0f, 0.5f})));
  const CheckpointState adamw = read("adamw.qckpt");
  EXPECT_EQ(adamw.tensors.at("optimizer/shared/t").data<int64_t>()[0], 3);
  EXPECT_THROW(read("truncated.qckpt"), Error);
  EXPECT_THROW(read("other_key.qckpt"), Error);
}

TEST(TrainCheckpointFile, NanLossKeepsTheLastCheckpoint) {
  TempDir dir;
  TrainOptions o = options("sgd");
  o.checkpoint_dir = (dir.path() / "ck").string();
  o.checkpoint_every = 1;
  o.lr = 1e30f;
  o.momentum = 0.f;
  o.nesterov = false;
  o.schedule = "constant";
  expect_refused(model(false), o, ErrorKind::kInvalidArgument, "stays in");
  EXPECT_TRUE(std::filesystem::exists(checkpoint_path(o.checkpoint_dir)));
}

// n samples [1, 3, 3] whose values name the sample.
class Counting : public Dataset {
 public:
  int64_t size() const override { return 40; }
  Shape sample_shape() const override { return {1, 3, 3}; }
  bool has_labels() const override { return true; }
  Batch batch(int64_t start, int64_t count) const override {
    Batch b;
    Tensor x = Tensor::empty(DType::kFloat32, {count, 1, 3, 3});
    for (int64_t i = 0; i < count * 9; ++i) {
      x.data<float>()[i] = static_cast<float>(start * 9 + i + 1);
    }
    for (int64_t i = 0; i < count; ++i) b.labels.push_back((start + i) % 3);
    b.inputs.push_back(x);
    return b;
  }
};

TEST(TrainPrefetch, ServesTheLoadersBatchesWithAnyWorkerCount) {
  Counting data;
  const LoaderOptions lo{4, 11, 1, true};
  Loader reference(data, lo);
  for (int workers : {0, 1, 3}) {
    Loader loader(data, lo);
    Prefetcher prefetch(loader, workers);
    for (int64_t epoch = 0; epoch < 3; ++epoch) {
      const int64_t first = epoch == 1 ? 4 : 0;  // a resumed epoch starts later
      prefetch.start_epoch(epoch, first, loader.batches_per_epoch() - first);
      reference.start_epoch(epoch);
      // Epoch 2 stops early: its remaining batches are dropped by the next start.
      const int64_t last = epoch == 2 ? 3 : loader.batches_per_epoch();
      for (int64_t i = first; i < last; ++i) {
        const Batch got = prefetch.next();
        const Batch want = reference.batch(i);
        EXPECT_TRUE(testing::same(got.images(), want.images()))
            << workers << " workers, epoch " << epoch << ", batch " << i;
        EXPECT_EQ(got.labels, want.labels);
      }
    }
    prefetch.start_epoch(5, 0, loader.batches_per_epoch());
    reference.start_epoch(5);
    EXPECT_TRUE(testing::same(prefetch.next().images(), reference.batch(0).images()));
  }
}

}  // namespace
}  // namespace quench::train
