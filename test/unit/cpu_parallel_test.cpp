// The CPU backend's threads (runtime/cpu/Parallel.h): every index once whatever the thread
// count, exceptions from any chunk reach the caller, nested loops run, and kernels that split
// their work give bit-identical results on 1 and 3 threads.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "runtime/cpu/BatchNorm.h"
#include "runtime/cpu/Elementwise.h"
#include "runtime/cpu/Optimizer.h"
#include "runtime/cpu/Parallel.h"
#include "runtime/cpu/Pool.h"
#include "test/unit/cpu_kernels_test_util.h"

namespace lrc::cpu {
namespace {

// Restores one thread (the library default) after each test.
class Parallel : public ::testing::Test {
 protected:
  void TearDown() override { set_threads(1); }
};

TEST_F(Parallel, EveryIndexOnceForAnyThreadCount) {
  for (int t : {1, 2, 3, 8}) {
    set_threads(t);
    EXPECT_EQ(threads(), t);
    for (int64_t count : {int64_t{1}, int64_t{2}, int64_t{7}, int64_t{100}, int64_t{100000}}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(count));
      parallel_for(count, kParallelMinElements, [&](int64_t begin, int64_t end) {
        ASSERT_LE(0, begin);
        ASSERT_LE(begin, end);
        ASSERT_LE(end, count);
        for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
      });
      for (int64_t i = 0; i < count; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << t << " threads, " << i;
    }
  }
}

TEST_F(Parallel, SmallLoopsStayOnTheCallingThread) {
  set_threads(4);
  int calls = 0;  // not atomic: one chunk, on this thread
  parallel_for(10, 1, [&](int64_t begin, int64_t end) {
    EXPECT_EQ(begin, 0);
    EXPECT_EQ(end, 10);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

TEST_F(Parallel, ExceptionsReachTheCaller) {
  set_threads(3);
  EXPECT_THROW(parallel_each(64, kParallelMinElements,
                             [](int64_t i) {
                               if (i == 50) throw std::runtime_error("chunk failed");
                             }),
               std::runtime_error);
  // The pool still works after it.
  std::atomic<int64_t> sum{0};
  parallel_each(64, kParallelMinElements, [&](int64_t i) { sum += i; });
  EXPECT_EQ(sum.load(), 64 * 63 / 2);
}

TEST_F(Parallel, NestedLoopsRun) {
  set_threads(2);
  std::vector<std::atomic<int>> hits(16 * 16);
  parallel_each(16, kParallelMinElements, [&](int64_t i) {
    parallel_each(16, kParallelMinElements, [&](int64_t j) { hits[static_cast<size_t>(i * 16 + j)]++; });
  });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST_F(Parallel, BadCountsAndCores) {
  EXPECT_THROW(set_threads(0), std::invalid_argument);
  EXPECT_GE(physical_cores(), 1);
}

// A BatchNorm training step, ReLU, max pooling and an SGD update on maps large enough to be
// split: the same bits on 1 and 3 threads.
std::vector<float> kernelResults(int t) {
  set_threads(t);
  constexpr int64_t N = 3, C = 16, H = 32, W = 32, HW = H * W;
  const std::vector<float> x = testing::randomFloats(N * C * HW, 1), dy = testing::randomFloats(N * C * HW, 2);
  const std::vector<float> gamma = testing::randomFloats(C, 3, 0.5f, 1.5f), beta = testing::randomFloats(C, 4);
  std::vector<float> y(x.size()), dx(x.size()), mean(C), invStd(C), runMean(C, 0.0f), runVar(C, 1.0f);
  std::vector<float> dgamma(C), dbeta(C);
  batchnorm_train_forward(y.data(), mean.data(), invStd.data(), runMean.data(), runVar.data(), x.data(), gamma.data(),
                          beta.data(), N, C, HW, 1e-5f, 0.1f);
  batchnorm_train_backward(dx.data(), dgamma.data(), dbeta.data(), dy.data(), x.data(), gamma.data(), mean.data(),
                           invStd.data(), N, C, HW);
  relu_forward(y.data(), y.data(), static_cast<int64_t>(y.size()));
  Pool2dParams p;
  p.h = {.kernel = 3, .stride = 2, .padBegin = 1, .padEnd = 1, .dilation = 1};
  p.w = p.h;
  const int64_t OH = 16, OW = 16;
  std::vector<float> pooled(N * C * OH * OW), dPool(x.size());
  maxpool2d_rows_forward(full_band(pooled.data(), N, C, OH, OW), full_band(y.data(), N, C, H, W), p, 0, OH);
  maxpool2d_rows_backward(full_band(dPool.data(), N, C, H, W), full_band(pooled.data(), N, C, OH, OW),
                          full_band(y.data(), N, C, H, W), p, 0, OH);
  std::vector<float> param = x, buf(x.size(), 0.0f);
  OptimizerParams o;
  o.lr = 0.1;
  o.momentum = 0.9;
  o.weightDecay = 1e-4;
  sgd_update(param.data(), buf.data(), dx.data(), static_cast<int64_t>(param.size()), o);
  std::vector<float> all;
  for (const std::vector<float>* v : {&y, &dx, &mean, &invStd, &runMean, &runVar, &dgamma, &dbeta, &pooled, &dPool,
                                      &param, &buf})
    all.insert(all.end(), v->begin(), v->end());
  return all;
}

TEST_F(Parallel, KernelsGiveTheSameBitsOnAnyThreadCount) {
  const std::vector<float> one = kernelResults(1), three = kernelResults(3);
  ASSERT_EQ(one.size(), three.size());
  EXPECT_EQ(std::memcmp(one.data(), three.data(), one.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace lrc::cpu
