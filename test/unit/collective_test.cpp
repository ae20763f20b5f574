// The data-parallel kernels on the CPU backend (the reference) against their formulas, with a
// fake second rank (fake_collective.h): allreduce_start averages in place, and nothing happens
// without ranks; batchnorm_stats with sync=1 counts every rank's elements.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cpu_kernels_test_util.h"
#include "fake_collective.h"
#include "hand_plan.h"
#include "runtime/cpu/CpuBackend.h"

namespace lrc::runtime::testing {
namespace {

using cpu::testing::randomFloats;

TEST(Collective, AllreduceAveragesInPlace) {
  const Shape a = {3, 4, 5};
  const std::vector<float> v = randomFloats(elementsOf(a), 11);
  const HandPlan p = oneStepPlan("allreduce_start", {whole(a, v)}, {}, {{"bucket", {2}}}, {});
  ASSERT_EQ(p.validationError(), "");
  FakeTwoRanks ranks;
  RunContext context;
  context.collective = &ranks;
  CpuBackend cpu;
  const StepRun two = runPlanStep(cpu, p, {whole(a, v)}, context, "allreduce_wait");
  ASSERT_EQ(two.operands[0].size(), v.size());
  for (size_t i = 0; i < v.size(); ++i)
    EXPECT_EQ(two.operands[0][i], (v[i] + FakeTwoRanks::otherValue(static_cast<int64_t>(i))) * 0.5f) << i;
  EXPECT_EQ(ranks.started, 1);
  EXPECT_EQ(ranks.waited, 1);

  CpuBackend alone;  // one process: the collective steps leave their operands alone
  EXPECT_EQ(runPlanStep(alone, p, {whole(a, v)}, {}, "allreduce_wait").operands[0], v);
}

// The other rank's map equals this one's: the mean and inverse std are this map's, the running
// variance's unbiased factor is over both maps' elements (2M / (2M - 1), not M / (M - 1)).
TEST(Collective, SyncedBatchNormStatisticsCountEveryRank) {
  const Shape x = {2, 3, 4, 5}, c = {3};
  const std::vector<float> v = randomFloats(elementsOf(x), 21), rm = randomFloats(3, 22),
                           rv = randomFloats(3, 23, 0.5f, 2.0f);
  const FloatAttrs floats = {{"epsilon", 1e-5}, {"momentum", 0.9}};  // PyTorch's momentum 0.1
  const std::vector<Arg> in = {whole(x, v), whole(c, rm), whole(c, rv)};
  const HandPlan plain = oneStepPlan("batchnorm_stats", in, {result(c), result(c)}, {}, floats);
  const HandPlan synced = oneStepPlan("batchnorm_stats", in, {result(c), result(c)}, {{"sync", {1}}}, floats);
  ASSERT_EQ(synced.validationError(), "");
  FakeTwoRanks ranks;
  RunContext context;
  context.collective = &ranks;
  CpuBackend a, b;
  const StepRun one = runPlanStep(a, plain, in, context);  // sync=0: the collective is not asked
  const StepRun both = runPlanStep(b, synced, in, context);
  const double M = 2 * 4 * 5;
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_NEAR(both.results[0][k], one.results[0][k], 1e-6);
    EXPECT_NEAR(both.results[1][k], one.results[1][k], 1e-5);
    EXPECT_NEAR(both.operands[1][k], one.operands[1][k], 1e-6);  // running mean
    const double invstd = one.results[1][k], var = 1.0 / (invstd * invstd) - 1e-5;
    EXPECT_NEAR(one.operands[2][k], 0.9 * rv[k] + 0.1 * var * M / (M - 1), 1e-4);
    EXPECT_NEAR(both.operands[2][k], 0.9 * rv[k] + 0.1 * var * 2 * M / (2 * M - 1), 1e-4);
    EXPECT_GT(std::abs(both.operands[2][k] - one.operands[2][k]), 1e-4);
  }
}

}  // namespace
}  // namespace lrc::runtime::testing
