// Checkpoints (runtime/Checkpoint.h): a run restored from one continues exactly as the run
// that wrote it (same losses, same bytes in every buffer a checkpoint holds), and every cut
// or flipped byte of the file is refused with one line naming it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

#include "runtime/Checkpoint.h"
#include "runtime_test_util.h"

namespace lrc::runtime {
namespace {

using testing::compilePlan;
using testing::CompiledPlan;
using testing::TempDir;

float step(Executor& executor, uint32_t seed) {
  const testing::Batch batch = testing::makeBatch(executor.shape(), seed);
  return executor.trainStep(batch.images.data(), batch.labels.data());
}

std::vector<std::string> savedBuffers(const plan::Plan& plan, Executor& executor) {
  std::vector<std::string> out;
  for (const uint32_t i : checkpointBuffers(plan)) out.push_back(executor.readBuffer(i));
  return out;
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The mixed model: training BatchNorm (running statistics), Dropout (masks that follow the
// step), momentum.
class CheckpointTest : public ::testing::Test {
 protected:
  CheckpointTest() : p(compilePlan(testing::writeMixedModel(dir.file("mixed.onnx")), 4)) {
    std::filesystem::create_directories(ck);
  }
  TempDir dir{"checkpoint"};
  CompiledPlan p;
  std::string ck = dir.file("ck");
};

TEST_F(CheckpointTest, HoldsParametersOptimizerAndBatchNormStateByName) {
  std::vector<std::string> names;
  std::vector<plan::Role> roles;
  for (const uint32_t i : checkpointBuffers(p.plan)) {
    names.push_back(p.plan.buffers(static_cast<int>(i)).name());
    roles.push_back(p.plan.buffers(static_cast<int>(i)).role());
  }
  EXPECT_NE(std::find(names.begin(), names.end(), "c1.w"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "bn.mean"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "fc.w.momentum"), names.end());
  for (const plan::Role role : {plan::PARAMETER, plan::OPTIMIZER_STATE, plan::STATE})
    EXPECT_NE(std::find(roles.begin(), roles.end(), role), roles.end()) << plan::Role_Name(role);
}

TEST_F(CheckpointTest, ARestoredRunContinuesBitForBit) {
  RunSettings settings = defaultSettings(p.plan);
  settings.seed = 5;
  CpuBackend backendA, backendB;
  Executor a(p.plan, p.source(), backendA, settings);
  for (uint32_t s = 1; s <= 3; ++s) step(a, s);
  writeCheckpoint(ck, p.plan, a, {2, 1, 40});
  EXPECT_FALSE(std::filesystem::exists(checkpointPath(ck) + ".tmp"));

  Executor b(p.plan, p.source(), backendB, settings);
  EXPECT_NE(savedBuffers(p.plan, b), savedBuffers(p.plan, a));  // a fresh run is elsewhere
  const Checkpoint checkpoint(ck, p.plan);
  EXPECT_EQ(checkpoint.stepsDone(), 3u);
  EXPECT_EQ(checkpoint.loader().epoch, 2);
  EXPECT_EQ(checkpoint.loader().batchInEpoch, 1);
  EXPECT_EQ(checkpoint.loader().samples, 40);
  checkpoint.checkRun(settings, 40);
  checkpoint.restore(b);
  EXPECT_EQ(b.stepsDone(), 3u);
  EXPECT_EQ(savedBuffers(p.plan, b), savedBuffers(p.plan, a));
  for (uint32_t s = 4; s <= 6; ++s) {
    const float la = step(a, s), lb = step(b, s);
    EXPECT_EQ(std::memcmp(&la, &lb, sizeof la), 0) << "step " << s << ": " << la << " vs " << lb;
  }
  EXPECT_EQ(savedBuffers(p.plan, b), savedBuffers(p.plan, a));

  RunSettings other = settings;
  other.optimizer.momentum = 0.5;
  EXPECT_THROW(checkpoint.checkRun(other, 40), std::runtime_error);
  EXPECT_THROW(checkpoint.checkRun(settings, 41), std::runtime_error);
}

// Every prefix and every single flipped byte: a one-line error naming the file, never a
// crash nor a checkpoint taken as good.
TEST_F(CheckpointTest, EveryCutAndEveryFlippedByteIsRefused) {
  CpuBackend backend;
  Executor executor(p.plan, p.source(), backend, defaultSettings(p.plan));
  step(executor, 1);
  writeCheckpoint(ck, p.plan, executor, {0, 1, 8});
  const std::string path = checkpointPath(ck);
  const std::string good = readAll(path);
  ASSERT_EQ(good.size(), checkpointBytes(p.plan, executor.settings()));
  // The file changed in place (rewriting it whole each time makes ext4 flush it: minutes).
  auto expectRefused = [&](const std::string& what) {
    try {
      Checkpoint checkpoint(ck, p.plan);
      ADD_FAILURE() << what << " was accepted";
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << what << ": " << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << what << ": " << message;
    }
  };
  {
    std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
    for (size_t at = 0; at < good.size(); ++at) {
      const char flipped = static_cast<char>(good[at] ^ 0x10);
      file.seekp(static_cast<std::streamoff>(at)).write(&flipped, 1).flush();
      expectRefused("a flipped byte at " + std::to_string(at));
      file.seekp(static_cast<std::streamoff>(at)).write(&good[at], 1).flush();
    }
    ASSERT_TRUE(file.good());
  }
  EXPECT_NO_THROW(Checkpoint(ck, p.plan));
  for (size_t size = good.size(); size-- > 0;) {
    std::filesystem::resize_file(path, size);
    expectRefused("a cut at " + std::to_string(size));
  }
}

}  // namespace
}  // namespace lrc::runtime
