// Helpers for tests that run a model twice, on the reference and on the fast kernels, and check
// which implementation a session chose.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "quench/data.h"
#include "quench/session.h"
#ifdef QUENCH_WITH_ONEDNN
#include "kernels/onednn/context.h"
#endif

namespace quench::testing {

// Whether oneDNN's int8 products run here (built with oneDNN, exact on this CPU): otherwise
// quench's own or the reference kernels take them.
inline bool onednn_int8_exact() {
#ifdef QUENCH_WITH_ONEDNN
  return onednn::int8_products_exact();
#else
  return false;
#endif
}

inline std::vector<Shape> shapes_of(const std::vector<Tensor>& feeds) {
  std::vector<Shape> shapes;
  for (const Tensor& t : feeds) shapes.push_back(t.shape());
  return shapes;
}

// The implementation ("ref", "onednn:...") of the first step whose node is named `name_or_op`, or
// else whose op type it is; empty when there is none.
inline std::string impl_of(const Session& session, const std::vector<Tensor>& feeds,
                           const std::string& name_or_op) {
  const std::vector<StepInfo> steps = session.plan_steps(shapes_of(feeds));
  for (const StepInfo& step : steps) {
    if (step.node == name_or_op) return step.impl;
  }
  for (const StepInfo& step : steps) {
    if (step.op_type == name_or_op) return step.impl;
  }
  return "";
}

// Options of a one-thread session on the fast kernels or on the reference ones only.
inline SessionOptions one_thread(bool fast_kernels) {
  SessionOptions options;
  options.fast_kernels = fast_kernels;
  options.threads = 1;
  return options;
}

// The first `count` fmnist:test images, or 64 random images of that shape when the data set is
// not installed.
inline Tensor fmnist_images_or_random(int64_t count) {
  try {
    DataOptions options;
    return open_dataset("fmnist:test", options)->batch(0, count).images();
  } catch (const Error&) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> pixel(0.f, 1.f);
    Tensor x = Tensor::empty(DType::kFloat32, {64, 1, 28, 28});
    for (float& v : x.values<float>()) v = pixel(rng);
    return x;
  }
}

// Logits [images, classes] of two runs predict the same class for every image.
inline void expect_same_top1(const Tensor& got, const Tensor& want) {
  ASSERT_EQ(got.shape(), want.shape());
  const int64_t classes = want.shape().back();
  const auto g = got.to_double_vector(), w = want.to_double_vector();
  for (int64_t image = 0; image < want.shape()[0]; ++image) {
    auto top = [&](const std::vector<double>& v) {
      const auto row = v.begin() + image * classes;
      return std::max_element(row, row + classes) - row;
    };
    EXPECT_EQ(top(g), top(w)) << "image " << image;
  }
}

}  // namespace quench::testing
