// The data loader (shuffling, augmentation) and the training loop on a small synthetic task.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "quench/error.h"
#include "quench/train.h"
#include "train/loader.h"
#include "train_test_data.h"

namespace quench::train {
namespace {

// n samples [1, h, w]: sample i holds values i*1000 + position; label i % classes (or none).
class TinyData : public Dataset {
 public:
  TinyData(int64_t n, int64_t h, int64_t w, int64_t classes, bool labeled = true)
      : n_(n), h_(h), w_(w), classes_(classes), labeled_(labeled) {}
  int64_t size() const override { return n_; }
  Shape sample_shape() const override { return {1, h_, w_}; }
  bool has_labels() const override { return labeled_; }
  Batch batch(int64_t start, int64_t count) const override {
    Batch b;
    Tensor x = Tensor::empty(DType::kFloat32, {count, 1, h_, w_});
    for (int64_t i = 0; i < count; ++i) {
      for (int64_t p = 0; p < h_ * w_; ++p) {
        x.data<float>()[i * h_ * w_ + p] = static_cast<float>((start + i) * 1000 + p);
      }
      if (labeled_) b.labels.push_back((start + i) % classes_);
    }
    b.inputs.push_back(x);
    return b;
  }

 private:
  int64_t n_, h_, w_, classes_;
  bool labeled_;
};

int64_t sample_of(const Tensor& x, int64_t i, int64_t per) {
  // The sample id survives crop and flip in every non-zero value: value / 1000.
  for (int64_t p = 0; p < per; ++p) {
    const float v = x.data<float>()[i * per + p];
    if (v != 0.0f) return static_cast<int64_t>(v) / 1000;
  }
  return 0;
}

TEST(TrainLoader, EpochIsAPermutationAndSeeded) {
  TinyData data(20, 2, 3, 4);
  Loader a(data, {5, 7, 0, false});
  Loader b(data, {5, 7, 0, false});
  Loader c(data, {5, 8, 0, false});
  EXPECT_EQ(a.batches_per_epoch(), 4);
  std::vector<int64_t> order_a, order_b, order_c, order_a2;
  for (int epoch = 0; epoch < 2; ++epoch) {
    a.start_epoch(epoch);
    b.start_epoch(epoch);
    c.start_epoch(epoch);
    for (int64_t i = 0; i < 4; ++i) {
      const Batch ba = a.batch(i), bb = b.batch(i), bc = c.batch(i);
      for (int64_t s = 0; s < 5; ++s) {
        const int64_t id = sample_of(ba.images(), s, 6);
        EXPECT_EQ(ba.labels[s], id % 4);  // labels follow their samples
        (epoch == 0 ? order_a : order_a2).push_back(id);
        if (epoch == 0) {
          order_b.push_back(sample_of(bb.images(), s, 6));
          order_c.push_back(sample_of(bc.images(), s, 6));
        }
      }
    }
  }
  EXPECT_EQ(std::set<int64_t>(order_a.begin(), order_a.end()).size(), 20u);
  EXPECT_EQ(order_a, order_b);
  EXPECT_NE(order_a, order_c);
  EXPECT_NE(order_a, order_a2);  // reshuffled every epoch
}

TEST(TrainLoader, ShardsSplitEachBatchBetweenProcesses) {
  // Two processes with the same seed serve the two halves of the batch one process serves.
  TinyData data(24, 2, 3, 4);
  Loader whole(data, {6, 5, 0, false});
  Loader first(data, {6, 5, 0, false, 0, 2});
  Loader second(data, {6, 5, 0, false, 1, 2});
  EXPECT_EQ(first.batches_per_epoch(), whole.batches_per_epoch());
  for (Loader* l : {&whole, &first, &second}) l->start_epoch(1);
  for (int64_t i = 0; i < whole.batches_per_epoch(); ++i) {
    const Batch w = whole.batch(i), a = first.batch(i), b = second.batch(i);
    ASSERT_EQ(a.labels.size(), 3u);
    ASSERT_EQ(b.labels.size(), 3u);
    for (int64_t s = 0; s < 3; ++s) {
      EXPECT_EQ(sample_of(a.images(), s, 6), sample_of(w.images(), s, 6));
      EXPECT_EQ(sample_of(b.images(), s, 6), sample_of(w.images(), s + 3, 6));
    }
  }
  // A batch that does not divide over the processes is refused, naming both numbers.
  try {
    Loader odd(data, {5, 5, 0, false, 0, 2});
    ADD_FAILURE() << "batch 5 over 2 processes was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("batch 5 does not divide evenly over 2 processes"),
              std::string::npos)
        << e.what();
  }
}

TEST(TrainLoader, CropAndFipMoveWholeImages) {
  TinyData data(4, 3, 4, 2);
  Loader loader(data, {4, 3, 1, true});
  loader.start_epoch(0);
  int flipped = 0, shifted = 0;
  for (int rep = 0; rep < 8; ++rep) {
    const Batch b = loader.batch(0);
    for (int64_t s = 0; s < 4; ++s) {
      const int64_t id = sample_of(b.images(), s, 12);
      const float* img = b.images().data<float>() + s * 12;
      // Find the shift and flip that explain the output; each pixel must be the source pixel
      // or padding.
      bool explained = false;
      for (int dy = -1; dy <= 1 && !explained; ++dy) {
        for (int dx = -1; dx <= 1 && !explained; ++dx) {
          for (int f = 0; f < 2 && !explained; ++f) {
            bool ok = true;
            for (int y = 0; y < 3 && ok; ++y) {
              for (int x = 0; x < 4 && ok; ++x) {
                const int sy = y + dy, sx = (f ? 3 - x : x) + dx;
                const float want =
                    sy >= 0 && sy < 3 && sx >= 0 && sx < 4 ? id * 1000.0f + sy * 4 + sx : 0.0f;
                ok = img[y * 4 + x] == want;
              }
            }
            if (ok) {
              explained = true;
              flipped += f;
              shifted += dy != 0 || dx != 0;
            }
          }
        }
      }
      EXPECT_TRUE(explained) << "sample " << id;
    }
  }
  EXPECT_GT(flipped, 0);
  EXPECT_GT(shifted, 0);
}

TEST(TrainLoader, UnlabeledDataIsRefused) {
  TinyData data(4, 2, 2, 2, false);
  EXPECT_THROW(Loader(data, {2, 0, 0, false}), Error);
}

// logits = Gemm(Flatten(x), W, b): a linear classifier of [1, 2, 2] inputs into 2 classes.
Model linear_model() {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  g.outputs = {"logits"};
  g.values["x"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("N"), 1, 2, 2}, ""};
  g.values["logits"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("N"), 2}, ""};
  g.initializers["W"] = Tensor::zeros(DType::kFloat32, {2, 4});
  g.initializers["b"] = Tensor::zeros(DType::kFloat32, {2});
  Node flat;
  flat.name = "flat";
  flat.op_type = "Flatten";
  flat.inputs = {"x"};
  flat.outputs = {"f"};
  Node gemm;
  gemm.name = "fc";
  gemm.op_type = "Gemm";
  gemm.inputs = {"f", "W", "b"};
  gemm.outputs = {"logits"};
  gemm.set_attr("transB", int64_t{1});
  g.nodes = {flat, gemm};
  return m;
}

TEST(TrainLoop, LinearClassifierLearns) {
  Separable data;
  TrainOptions o;
  o.epochs = 10;
  o.batch = 8;
  o.lr = 0.5f;
  o.progress = false;
  const TrainResult r = train_model(linear_model(), data, &data, o);
  EXPECT_EQ(r.steps, 80);
  EXPECT_LT(r.last_loss, 0.5 * r.first_loss);
  EXPECT_EQ(r.epochs.back().val_accuracy, 1.0);
  // The output model carries the trained weights.
  EXPECT_NE(r.model.graph.initializers.at("W").to_double_vector()[0], 0.0);
}

// x → BatchNormalization → Flatten → Gemm: the linear classifier behind a batch norm.
Model batch_norm_model() {
  Model m = linear_model();
  Graph& g = m.graph;
  g.initializers["gamma"] = Tensor::from_vector<float>({1}, {1});
  g.initializers["beta"] = Tensor::from_vector<float>({1}, {0});
  g.initializers["mean"] = Tensor::from_vector<float>({1}, {0});
  g.initializers["var"] = Tensor::from_vector<float>({1}, {1});
  Node bn;
  bn.name = "bn";
  bn.op_type = "BatchNormalization";
  bn.inputs = {"x", "gamma", "beta", "mean", "var"};
  bn.outputs = {"xn"};
  g.nodes.front().inputs = {"xn"};
  g.nodes.insert(g.nodes.begin(), bn);
  return m;
}

TEST(TrainLoop, FreezeBatchNormKeepsTheRunningStatisticsFromThatStep) {
  const Model m = batch_norm_model();
  Separable data;
  TrainOptions o;
  o.steps = 2;
  o.batch = 8;
  o.schedule = "constant";
  o.threads = 1;
  o.progress = false;
  const TrainResult two = train_model(m, data, nullptr, o);
  o.steps = 5;
  const TrainResult five = train_model(m, data, nullptr, o);
  o.freeze_bn_after = 2;
  const TrainResult frozen = train_model(m, data, nullptr, o);
  const auto value = [](const TrainResult& r, const char* name) {
    return r.model.graph.initializers.at(name).data<float>()[0];
  };
  for (const char* stat : {"mean", "var"}) {
    // Frozen after step 2: the statistics of the 2-step run, which the unfrozen run moves on from.
    EXPECT_EQ(value(frozen, stat), value(two, stat)) << stat;
    EXPECT_NE(value(five, stat), value(two, stat)) << stat;
  }
  // Training goes on while frozen, on a different function than the unfrozen run's (this
  // one-channel scale is not trained: default_parameters() leaves single-value tensors alone).
  EXPECT_NE(value(frozen, "W"), value(two, "W"));
  EXPECT_NE(value(frozen, "W"), value(five, "W"));
  o.freeze_bn_after = -2;
  EXPECT_THROW(train_model(m, data, nullptr, o), Error);
}

TEST(TrainLoop, NanLossStopsNamingTheStep) {
  Separable data;
  TrainOptions o;
  o.steps = 50;
  o.batch = 8;
  o.lr = 1e30f;
  o.momentum = 0.0f;
  o.schedule = "constant";
  o.progress = false;
  try {
    train_model(linear_model(), data, nullptr, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at step"), std::string::npos) << e.what();
  }
}

TEST(TrainLoop, LabelsOutsideTheClassesAreRefused) {
  Separable data(1);  // labels 1 and 2 for a 2-class model
  TrainOptions o;
  o.steps = 1;
  o.progress = false;
  try {
    train_model(linear_model(), data, nullptr, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("label 2 of training sample 1"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace quench::train
