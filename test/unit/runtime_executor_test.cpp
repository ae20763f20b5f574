// The executor and the CPU backend on compiled plans: the measured peak equals the
// prediction, training lowers the loss, the step's parameter updates are the gradients of
// its loss (central differences through whole plans), evaluation leaves training state
// alone, and the canary catches writes past the arena.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "runtime_test_util.h"

namespace lrc::runtime {
namespace {

using testing::compilePlan;
using testing::TempDir;

std::string modelsPath(const std::string& name) {
  const std::string path = std::string(LRC_TEST_MODELS_DIR) + "/" + name;
  if (!std::filesystem::exists(path))
    throw std::runtime_error(path + " is missing: run the ctest fixture make_test_models");
  return path;
}

float trainSteps(const plan::Plan& p, const RunSettings& settings, int steps, std::vector<float>* losses = nullptr) {
  CpuBackend backend;
  Executor executor(p, backend, settings);
  const testing::Batch batch = testing::makeBatch(executor.shape(), 3);
  float loss = 0;
  for (int i = 0; i < steps; ++i) {
    loss = executor.trainStep(batch.images.data(), batch.labels.data());
    if (losses) losses->push_back(loss);
  }
  return loss;
}

TEST(Executor, MeasuredPeakEqualsPredicted) {
  TempDir dir("exec");
  const std::vector<std::pair<std::string, int64_t>> models = {
      {testing::fashionModelPath(), 2},
      {testing::fashionModelPath(), 16},
      {testing::writeMixedModel(dir.file("mixed.onnx")), 4},
      {modelsPath("tiny_op13.onnx"), 3},  // frozen BatchNorm, residual Add, GlobalAveragePool
      {modelsPath("tiny_op18.onnx"), 2},  // training BatchNorm
  };
  for (const auto& [model, batch] : models) {
    const plan::Plan p = compilePlan(model, batch);
    CpuBackend backend;
    Executor executor(p, backend, defaultSettings(p));
    const testing::Batch data = testing::makeBatch(executor.shape(), 1);
    executor.trainStep(data.images.data(), data.labels.data());
    std::vector<float> logits(static_cast<size_t>(executor.shape().batch * executor.shape().classes));
    executor.evaluate(data.images.data(), logits.data());
    EXPECT_EQ(executor.measuredPeakBytes(), executor.predictedPeakBytes()) << model << " batch " << batch;
  }
}

TEST(Executor, TrainingLowersTheLoss) {
  TempDir dir("exec");
  const std::pair<std::string, double> models[] = {
      {testing::fashionModelPath(), 0.05},
      {testing::writeMixedModel(dir.file("mixed.onnx"), false), 0.5},  // few weights: a larger step
  };
  for (const auto& [model, lr] : models) {
    const plan::Plan p = compilePlan(model, 8);
    RunSettings settings = defaultSettings(p);
    settings.lr = lr;
    std::vector<float> losses;
    trainSteps(p, settings, 20, &losses);
    for (float l : losses) ASSERT_TRUE(std::isfinite(l)) << model;
    EXPECT_LT(losses.back(), 0.5f * losses.front()) << model << ": " << losses.front() << " -> " << losses.back();
  }
}

// With lr 1 and no momentum or decay, one step moves every parameter by minus its gradient;
// central differences of the loss (a fresh executor each time, so Dropout draws the same
// mask) must agree.
TEST(Executor, UpdatesAreTheLossGradient) {
  TempDir dir("exec");
  const plan::Plan base = compilePlan(testing::writeMixedModel(dir.file("mixed.onnx")), 4);
  RunSettings sgd{1.0, 0.0, 0.0, 0};
  RunSettings frozen{0.0, 0.0, 0.0, 0};

  CpuBackend backend;
  Executor executor(base, backend, sgd);
  const testing::Batch batch = testing::makeBatch(executor.shape(), 5);
  executor.trainStep(batch.images.data(), batch.labels.data());

  std::mt19937 rng(11);
  int checked = 0;
  for (const plan::Init& init : base.inits()) {
    const plan::Buffer& b = base.buffers(static_cast<int>(init.buffer()));
    if (b.role() != plan::PARAMETER) continue;
    const size_t count = b.bytes() / 4;
    std::vector<float> before(count), after(count);
    std::memcpy(before.data(), init.data().data(), b.bytes());
    const std::string now = executor.readBuffer(init.buffer());
    std::memcpy(after.data(), now.data(), b.bytes());
    for (int k = 0; k < 3; ++k) {
      const size_t i = rng() % count;
      const double grad = static_cast<double>(before[i]) - static_cast<double>(after[i]);
      const float eps = 3e-3f;  // larger steps cross max-pool and ReLU switches
      auto lossWith = [&](float delta) {
        plan::Plan p = base;
        for (plan::Init& in : *p.mutable_inits()) {
          if (in.buffer() != init.buffer()) continue;
          std::vector<float> values = before;
          values[i] += delta;
          in.set_data(values.data(), b.bytes());
        }
        CpuBackend bk;
        Executor ex(p, bk, frozen);
        return static_cast<double>(ex.trainStep(batch.images.data(), batch.labels.data()));
      };
      const double numeric = (lossWith(eps) - lossWith(-eps)) / (2.0 * eps);
      EXPECT_NEAR(grad, numeric, 1e-3 + 2e-2 * std::abs(numeric)) << b.name() << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GE(checked, 3 * 5);  // c1.w, bn.scale, bn.bias, fc.w, fc.b
}

TEST(Executor, EvaluationLeavesTrainingStateAlone) {
  const plan::Plan p = compilePlan(testing::fashionModelPath(), 4);
  RunSettings settings = defaultSettings(p);
  settings.lr = 0.05;
  std::vector<float> plain, interleaved;
  trainSteps(p, settings, 3, &plain);

  CpuBackend backend;
  Executor executor(p, backend, settings);
  const testing::Batch batch = testing::makeBatch(executor.shape(), 3);
  std::vector<float> logits(static_cast<size_t>(4 * 10)), again(logits.size());
  for (int i = 0; i < 3; ++i) {
    interleaved.push_back(executor.trainStep(batch.images.data(), batch.labels.data()));
    executor.evaluate(batch.images.data(), logits.data());
    executor.evaluate(batch.images.data(), again.data());
    EXPECT_EQ(logits, again);
  }
  EXPECT_EQ(plain, interleaved);
}

TEST(Executor, RejectsLabelsOutsideTheClasses) {
  const plan::Plan p = compilePlan(testing::fashionModelPath(), 2);
  CpuBackend backend;
  Executor executor(p, backend, defaultSettings(p));
  testing::Batch batch = testing::makeBatch(executor.shape(), 1);
  batch.labels[1] = 10;
  try {
    executor.trainStep(batch.images.data(), batch.labels.data());
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "label 10 of sample 1 of the batch is outside [0, 10), the plan's classes");
  }
}

TEST(Executor, KernelErrorsNameTheStep) {
  // A hand-made plan whose gemm C the validator would refuse: the backend's kernel error
  // comes back with the program, step and origin.
  plan::Plan p;
  auto buffer = [&](const std::string& name, std::vector<int64_t> shape, uint64_t offset) {
    plan::Buffer* b = p.add_buffers();
    b->set_name(name);
    uint64_t n = 1;
    for (int64_t d : shape) {
      b->add_shape(d);
      n *= static_cast<uint64_t>(d);
    }
    b->set_offset(offset);
    b->set_bytes(4 * n);
  };
  buffer("x", {2, 1, 3, 3}, 0);
  buffer("w", {1, 1, 3, 3}, 64);
  buffer("y", {2, 1, 3, 3}, 128);
  p.set_arena_bytes(256);
  plan::Step* conv = p.mutable_train()->add_steps();
  conv->set_kernel("conv2d");
  conv->set_origin("the_conv");
  conv->add_inputs(0);
  conv->add_inputs(1);
  conv->add_outputs(2);
  conv->set_scratch(-1);
  for (const char* name : {"dilation", "stride"}) {
    plan::Attr* a = conv->add_attrs();
    a->set_name(name);
    a->add_ints(1);
    a->add_ints(1);
  }
  plan::Attr* pad = conv->add_attrs();
  pad->set_name("pad");
  for (int i = 0; i < 4; ++i) pad->add_ints(1);
  plan::Attr* group = conv->add_attrs();
  group->set_name("group");
  group->add_ints(1);
  CpuBackend backend;
  backend.allocateArena(p.arena_bytes());
  RunContext context;
  context.plan = &p;
  try {
    backend.run(p.train().steps(0), context);  // padded 3x3 needs a workspace: none given
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("workspace is null"), std::string::npos) << e.what();
  }
}

TEST(CpuBackend, CanaryMeasuresThePeakAndCatchesOverruns) {
  // y = relu(x), x f32[40] at 0, y f32[40] at 192: bytes [192, 352).
  plan::Plan p;
  for (uint64_t offset : {0, 192}) {
    plan::Buffer* b = p.add_buffers();
    b->add_shape(40);
    b->set_offset(offset);
    b->set_bytes(160);
  }
  plan::Step step;
  step.set_kernel("relu");
  step.add_inputs(0);
  step.add_outputs(1);
  RunContext context;
  context.plan = &p;
  std::vector<float> x(40);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) - 20.5f;

  CpuBackend backend;
  backend.allocateArena(1000);
  EXPECT_EQ(backend.measuredPeakBytes(), 0u);
  backend.copyIn(0, x.data(), 64);
  EXPECT_EQ(backend.measuredPeakBytes(), 64u);
  backend.copyIn(0, x.data(), 160);
  backend.run(step, context);
  EXPECT_EQ(backend.measuredPeakBytes(), 352u);
  EXPECT_THROW(backend.copyIn(990, x.data(), 16), std::out_of_range);

  CpuBackend small;  // an arena that ends inside y: the guard catches the kernel's writes
  small.allocateArena(250);
  small.copyIn(0, x.data(), 160);
  small.run(step, context);
  try {
    small.measuredPeakBytes();
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("a kernel wrote past the arena"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lrc::runtime
