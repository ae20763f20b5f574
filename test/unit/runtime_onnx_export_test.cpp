// --save-onnx (runtime/OnnxExport): the written model's initializers are the arena's trained
// values (BatchNorm running statistics included); the model passes the ONNX checker (the
// importer runs it) and, compiled again, gives the trained plan's logits.
#include <gtest/gtest.h>

#include <cstring>

#include "runtime/OnnxExport.h"
#include "runtime_test_util.h"

namespace lrc::runtime {
namespace {

using testing::compilePlan;
using testing::CompiledPlan;
using testing::TempDir;

std::vector<float> evalLogits(const CompiledPlan& c, const std::vector<float>& images) {
  CpuBackend backend;
  Executor executor(c.plan, c.source(), backend, defaultSettings(c.plan));
  std::vector<float> logits(static_cast<size_t>(executor.shape().batch * executor.shape().classes));
  executor.evaluate(images.data(), logits.data());
  return logits;
}

void roundTrip(const std::string& model, int64_t batch) {
  TempDir dir("export");
  const CompiledPlan compiled = compilePlan(model, batch);
  const plan::Plan& p = compiled.plan;
  CpuBackend backend;
  RunSettings settings = defaultSettings(p);
  settings.optimizer.lr = 0.05;
  Executor executor(p, compiled.source(), backend, settings);
  const testing::Batch data = testing::makeBatch(executor.shape(), 2);
  for (int i = 0; i < 3; ++i) executor.trainStep(data.images.data(), data.labels.data());
  std::vector<float> trained(static_cast<size_t>(batch * executor.shape().classes));
  executor.evaluate(data.images.data(), trained.data());

  checkOnnxExport(p, "p.plan");
  const std::string saved = dir.file("trained.onnx");
  writeFileAtomically(saved, exportOnnx(p, "p.plan", [&](uint32_t i) { return executor.readBuffer(i); }));
  EXPECT_FALSE(std::filesystem::exists(saved + ".tmp"));

  // Every initializer the plan holds carries the buffer's bytes now.
  onnx::ModelProto m;
  std::ifstream in(saved, std::ios::binary);
  ASSERT_TRUE(m.ParseFromIstream(&in));
  std::map<std::string, const onnx::TensorProto*> initializers;
  for (const onnx::TensorProto& t : m.graph().initializer()) initializers[t.name()] = &t;
  int written = 0;
  for (int i = 0; i < p.buffers_size(); ++i) {
    const plan::Buffer& b = p.buffers(i);
    if (b.onnx_name().empty()) continue;
    ASSERT_TRUE(initializers.count(b.onnx_name())) << b.onnx_name();
    EXPECT_EQ(initializers[b.onnx_name()]->raw_data(), executor.readBuffer(static_cast<uint32_t>(i))) << b.onnx_name();
    ++written;
  }
  EXPECT_GT(written, 0);

  // Import it again (the ONNX checker runs), compile, evaluate: the same logits.
  const CompiledPlan again = compilePlan(saved, batch);
  const std::vector<float> reloaded = evalLogits(again, data.images);
  ASSERT_EQ(reloaded.size(), trained.size());
  for (size_t i = 0; i < trained.size(); ++i) EXPECT_FLOAT_EQ(reloaded[i], trained[i]) << i;
  // ...and they are not the untrained model's.
  EXPECT_NE(evalLogits(compiled, data.images), trained);
}

TEST(OnnxExport, FashionCnnRoundTrip) { roundTrip(testing::fashionModelPath(), 4); }

TEST(OnnxExport, MixedModelRoundTrip) {
  TempDir dir("export");
  roundTrip(testing::writeMixedModel(dir.file("mixed.onnx")), 4);
}

TEST(OnnxExport, RunningStatisticsAreWritten) {
  const plan::Plan p = compilePlan(testing::fashionModelPath(), 4).plan;
  int stats = 0;
  for (const plan::Buffer& b : p.buffers())
    if (b.role() == plan::STATE && !b.onnx_name().empty()) ++stats;
  EXPECT_EQ(stats, 4);  // two BatchNorms' running mean and variance
}

TEST(OnnxExport, ErrorsNameThePlan) {
  plan::Plan p = compilePlan(testing::fashionModelPath(), 2).plan;
  p.mutable_buffers(2)->set_onnx_name("no.such.initializer");
  try {
    checkOnnxExport(p, "p.plan");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(),
                 "plan p.plan's ONNX model: no initializer 'no.such.initializer' for buffer 'features.0.weight'");
  }
  p.set_onnx_model("garbage that is not a model");
  EXPECT_THROW(checkOnnxExport(p, "p.plan"), std::runtime_error);
}

TEST(OnnxExport, WriteFailureLeavesNoFile) {
  TempDir dir("export");
  const std::string path = dir.file("missing-dir/out.onnx");
  EXPECT_THROW(writeFileAtomically(path, "data"), std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

}  // namespace
}  // namespace lrc::runtime
