// Optimizer steps and schedules against values worked out by hand from docs/training.md
// (T12)-(T15).
#include <gtest/gtest.h>

#include "quench/error.h"
#include "train/optimizer.h"

namespace quench::train {
namespace {

// The optimizers update in float32; the hand values are exact decimals or double results.
constexpr float kStepTol = 1e-5f;

std::map<std::string, Tensor> one(float v) { return {{"p", Tensor::from_vector<float>({1}, {v})}}; }
float value(const std::map<std::string, Tensor>& m) { return m.at("p").data<float>()[0]; }

TEST(TrainOptimizer, SgdMomentumWeightDecay) {
  // lr 0.5, μ 0.9, λ 0.1, p = 1, g = 2 twice:
  //   step 1: g' = 2.1, v = 2.1, p = 1 − 1.05 = −0.05
  //   step 2: g' = 2 − 0.005 = 1.995, v = 1.89 + 1.995 = 3.885, p = −0.05 − 1.9425 = −1.9925
  auto opt = make_optimizer({"sgd", 0.9f, false, 0.1f});
  auto params = one(1.0f);
  opt->step(params, one(2.0f), 0.5f);
  EXPECT_NEAR(value(params), -0.05f, kStepTol);
  opt->step(params, one(2.0f), 0.5f);
  EXPECT_NEAR(value(params), -1.9925f, kStepTol);
}

TEST(TrainOptimizer, SgdNesterov) {
  // step 1: v = 2, p = 1 − 0.5 · (2 + 0.9 · 2) = −0.9
  auto opt = make_optimizer({"sgd", 0.9f, true, 0.0f});
  auto params = one(1.0f);
  opt->step(params, one(2.0f), 0.5f);
  EXPECT_NEAR(value(params), -0.9f, kStepTol);
}

TEST(TrainOptimizer, AdamW) {
  // lr 0.1, λ 0.01, p = 1, g = 0.5 then −1:
  //   step 1: p = 0.999, m̂ = 0.5, v̂ = 0.25, p = 0.999 − 0.1 · 0.5 / 0.5 = 0.899
  //   step 2: p = 0.898101, m̂ = −0.055 / 0.19, v̂ = 0.00124975 / 0.001999,
  //           p = 0.898101 + 0.1 · 0.366099… = 0.934711354
  OptimizerOptions o;
  o.kind = "adamw";
  o.weight_decay = 0.01f;
  auto opt = make_optimizer(o);
  auto params = one(1.0f);
  opt->step(params, one(0.5f), 0.1f);
  EXPECT_NEAR(value(params), 0.899f, kStepTol);
  opt->step(params, one(-1.0f), 0.1f);
  EXPECT_NEAR(value(params), 0.934711354f, kStepTol);
}

TEST(TrainOptimizer, BadOptionsAreClearErrors) {
  EXPECT_THROW(make_optimizer({"rmsprop"}), Error);
  EXPECT_THROW(make_optimizer({"sgd", 1.5f}), Error);
  EXPECT_THROW(check_schedule({"linear", 10}), Error);
  EXPECT_THROW(check_schedule({"cosine", 10, 10}), Error);
}

TEST(TrainSchedule, CosineWithWarmup) {
  // T = 10, W = 2: 0.5, 1 during warm-up, then (1 + cos(π (s − 2) / 8)) / 2.
  const ScheduleOptions s{"cosine", 10, 2};
  EXPECT_NEAR(learning_rate(s, 1.0f, 0), 0.5f, kStepTol);
  EXPECT_NEAR(learning_rate(s, 1.0f, 1), 1.0f, kStepTol);
  EXPECT_NEAR(learning_rate(s, 1.0f, 2), 1.0f, kStepTol);
  EXPECT_NEAR(learning_rate(s, 1.0f, 4), 0.8535533906f, kStepTol);
  EXPECT_NEAR(learning_rate(s, 1.0f, 5), 0.6913417162f, kStepTol);
  EXPECT_NEAR(learning_rate(s, 1.0f, 6), 0.5f, kStepTol);
}

TEST(TrainSchedule, Step) {
  const ScheduleOptions s{"step", 100, 0, 30, 0.1f};
  EXPECT_NEAR(learning_rate(s, 2.0f, 29), 2.0f, kStepTol);
  EXPECT_NEAR(learning_rate(s, 2.0f, 30), 0.2f, kStepTol);
  EXPECT_NEAR(learning_rate(s, 2.0f, 65), 0.02f, kStepTol);
}

}  // namespace
}  // namespace quench::train
