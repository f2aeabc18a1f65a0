// Session::run from 8 threads at once on one session, each with its own batch sizes: every
// result bit-identical to the same run made serially, on an FP32 model and on an INT8 (QDQ)
// one. Run under ThreadSanitizer by scripts/sanitize.sh (QUENCH_SANITIZE=thread).
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {

constexpr int kThreads = 8;
constexpr int kRoundsPerThread = 6;
// Batch sizes the threads cycle through: several input-shape signatures, so that plans are
// made, cached and shared while other threads run.
constexpr int64_t kBatches[] = {1, 2, 3, 5, 8};

void expect_concurrent_runs_match_serial(const std::string& model_path, int session_threads) {
  SessionOptions options;
  options.threads = session_threads;
  const Session session = Session::load(model_path, options);
  std::vector<Tensor> inputs;
  for (int64_t batch : kBatches) {
    inputs.push_back(
        testing::random_tensor({batch, 1, 28, 28}, static_cast<uint32_t>(batch), 0.f, 1.f));
  }
  // Serial results from a separate session, so that no plan is shared with the threaded runs.
  const Session serial_session = Session::load(model_path, options);
  std::vector<Tensor> serial;
  for (const Tensor& input : inputs) serial.push_back(serial_session.run({input})[0]);

  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int round = 0; round < kRoundsPerThread; ++round) {
          const size_t i = static_cast<size_t>(t + round) % inputs.size();
          if (!session.run({inputs[i]})[0].equals(serial[i])) ++mismatches[t];
        }
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(mismatches[t], 0) << model_path << ": thread " << t;
    EXPECT_EQ(errors[t], "") << model_path << ": thread " << t;
  }
}

TEST(SessionConcurrency, Fp32EightThreadsMatchSerialBitForBit) {
  expect_concurrent_runs_match_serial(std::string(QUENCH_TEST_MODELS) + "/cnn.onnx", 1);
}

TEST(SessionConcurrency, Int8EightThreadsMatchSerialBitForBit) {
  expect_concurrent_runs_match_serial(std::string(QUENCH_TEST_MODELS) + "/ort/cnn.ort_qdq.onnx", 1);
}

TEST(SessionConcurrency, TwoThreadsPerRunMatchSerial) {
  // Each run itself parallel (OpenMP inside oneDNN and quench's kernels) while 8 run at once.
  expect_concurrent_runs_match_serial(std::string(QUENCH_TEST_MODELS) + "/ort/cnn.ort_qdq.onnx", 2);
}

}  // namespace
}  // namespace quench
