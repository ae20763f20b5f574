// The executor's kernel profile (Executor::enableProfile, lrc-run --profile): off by default,
// the warm-up step untimed, every train-program step timed once per timed step, the kernels'
// total within the steps' wall time, evaluation never timed, results unchanged by timing,
// and the JSON it writes.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "runtime_test_util.h"

namespace lrc::runtime {
namespace {

using testing::compilePlan;
using testing::CompiledPlan;

double sum(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}

// A layerwise plan and a 2PS row plan (bands, rows_copy, rows_sum) of the README's model.
std::vector<CompiledPlan> tinyPlans() {
  std::vector<CompiledPlan> plans;
  plans.push_back(compilePlan(testing::fashionModelPath(), 2));
  compiler::TrainingOptions rows;
  rows.batchNorm.mode = passes::BatchNormMode::Frozen;
  rows.rows.layerwise = false;
  rows.rows.partition.strips = 3;
  rows.rows.partition.bpStrips = 2;
  plans.push_back(compilePlan(testing::fashionModelPath(), 2, compiler::defaultOptimizer(), rows));
  return plans;
}

TEST(Profile, OffByDefault) {
  const CompiledPlan p = compilePlan(testing::fashionModelPath(), 2);
  CpuBackend backend;
  Executor executor(p.plan, p.source(), backend, defaultSettings(p.plan));
  const testing::Batch batch = testing::makeBatch(executor.shape(), 1);
  executor.trainStep(batch.images.data(), batch.labels.data());
  EXPECT_EQ(executor.profile(), nullptr);
}

TEST(Profile, EveryStepTimedAfterWarmup) {
  for (const CompiledPlan& p : tinyPlans()) {
    CpuBackend backend;
    Executor executor(p.plan, p.source(), backend, defaultSettings(p.plan));
    executor.enableProfile(1);
    const testing::Batch batch = testing::makeBatch(executor.shape(), 2);
    const int steps = 4;
    double timedWall = 0;  // the wall time of the steps after the warm-up, measured outside
    for (int i = 0; i < steps; ++i) {
      const auto start = std::chrono::steady_clock::now();
      executor.trainStep(batch.images.data(), batch.labels.data());
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (i == 0) {
        ASSERT_NE(executor.profile(), nullptr);
        EXPECT_EQ(executor.profile()->stepsTimed, 0u) << "the warm-up step is not timed";
        EXPECT_EQ(sum(executor.profile()->stepSeconds), 0.0);
      } else {
        timedWall += seconds;
      }
    }
    const Profile& profile = *executor.profile();
    EXPECT_EQ(profile.warmupSteps, 1u);
    EXPECT_EQ(profile.stepsTimed, static_cast<uint64_t>(steps - 1));
    ASSERT_EQ(profile.stepSeconds.size(), static_cast<size_t>(p.plan.train().steps_size()));
    for (double s : profile.stepSeconds) EXPECT_GE(s, 0.0);

    // Per kernel: every step of the train program counted, once per timed step.
    std::map<std::string, uint64_t> stepsOfKernel;
    for (const plan::Step& step : p.plan.train().steps()) ++stepsOfKernel[step.kernel()];
    const std::vector<KernelTime> kernels = kernelTimes(p.plan, profile);
    ASSERT_EQ(kernels.size(), stepsOfKernel.size());
    double kernelTotal = 0;
    for (const KernelTime& k : kernels) {
      ASSERT_TRUE(stepsOfKernel.count(k.kernel)) << k.kernel;
      EXPECT_EQ(k.calls, stepsOfKernel[k.kernel] * profile.stepsTimed) << k.kernel;
      EXPECT_GE(k.seconds, 0.0) << k.kernel;
      kernelTotal += k.seconds;
    }
    EXPECT_NEAR(kernelTotal, sum(profile.stepSeconds), 1e-9);
    EXPECT_GT(kernelTotal, 0.0);
    // The kernels run inside the steps: their total is at most the steps' wall time.
    EXPECT_LE(kernelTotal, profile.wallSeconds);
    EXPECT_LE(profile.wallSeconds, timedWall);

    // Evaluation is not timed.
    const std::vector<double> before = profile.stepSeconds;
    std::vector<float> logits(static_cast<size_t>(executor.shape().batch * executor.shape().classes));
    executor.evaluate(batch.images.data(), logits.data());
    EXPECT_EQ(executor.profile()->stepsTimed, static_cast<uint64_t>(steps - 1));
    EXPECT_EQ(executor.profile()->stepSeconds, before);

    // Enabling again starts a new profile.
    executor.enableProfile(0);
    executor.trainStep(batch.images.data(), batch.labels.data());
    EXPECT_EQ(executor.profile()->stepsTimed, 1u);
    EXPECT_EQ(executor.profile()->warmupSteps, 0u);
  }
}

TEST(Profile, TimingChangesNoResult) {
  for (const CompiledPlan& p : tinyPlans()) {
    std::vector<float> losses[2];
    std::string weights[2];
    for (int profiled = 0; profiled < 2; ++profiled) {
      CpuBackend backend;
      Executor executor(p.plan, p.source(), backend, defaultSettings(p.plan));
      if (profiled) executor.enableProfile(1);
      const testing::Batch batch = testing::makeBatch(executor.shape(), 4);
      for (int i = 0; i < 3; ++i) losses[profiled].push_back(executor.trainStep(batch.images.data(), batch.labels.data()));
      for (const plan::Init& init : p.plan.inits()) weights[profiled] += executor.readBuffer(init.buffer());
    }
    EXPECT_EQ(losses[0], losses[1]);
    EXPECT_TRUE(weights[0] == weights[1]);
  }
}

TEST(Profile, Json) {
  CompiledPlan p = compilePlan(testing::fashionModelPath(), 2);
  CpuBackend backend;
  Executor executor(p.plan, p.source(), backend, defaultSettings(p.plan));
  executor.enableProfile(1);
  const testing::Batch batch = testing::makeBatch(executor.shape(), 5);
  for (int i = 0; i < 3; ++i) executor.trainStep(batch.images.data(), batch.labels.data());
  const Profile profile = *executor.profile();

  // Origins are escaped (a quote, a backslash, a control character).
  p.plan.mutable_train()->mutable_steps(0)->set_origin("a\"b\\c\nd");
  const std::string json = profileJson(p.plan, profile);
  EXPECT_EQ(json.rfind("{\"steps_timed\": 2, \"warmup_steps\": 1, \"wall_seconds\": ", 0), 0u) << json;
  EXPECT_NE(json.find("\"kernels\": {"), std::string::npos);
  EXPECT_NE(json.find("\"per_step\": ["), std::string::npos);
  EXPECT_NE(json.find("\"origin\": \"a\\\"b\\\\c\\u000ad\""), std::string::npos) << json;
  for (const KernelTime& k : kernelTimes(p.plan, profile)) {
    std::string entry = "\"";
    entry += k.kernel;
    entry += "\": {\"calls\": ";
    entry += std::to_string(k.calls);
    entry += ", \"seconds\": ";
    EXPECT_NE(json.find(entry), std::string::npos) << entry;
  }
  for (int i = 0; i < p.plan.train().steps_size(); ++i) {
    std::string entry = "{\"index\": ";
    entry += std::to_string(i);
    entry += ", \"kernel\": \"";
    entry += p.plan.train().steps(i).kernel();
    entry += "\", \"origin\": ";
    EXPECT_NE(json.find(entry), std::string::npos) << entry;
  }
  std::string pastLast = "\"index\": ";
  pastLast += std::to_string(p.plan.train().steps_size());
  pastLast += ",";
  EXPECT_EQ(json.find(pastLast), std::string::npos);
  EXPECT_EQ(json.back(), '\n');
}

}  // namespace
}  // namespace lrc::runtime
