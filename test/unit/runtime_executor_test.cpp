// The executor and the CPU backend on compiled plans: the measured peak equals the
// prediction, training lowers the loss, the step's parameter updates are the gradients of
// its loss (central differences through whole plans), evaluation leaves training state
// alone, the canary catches writes past the arena, and the initial data comes from the
// weights section (streamed from a plan file, its checksum checked before any step).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/Scratch.h"
#include "runtime_test_util.h"

namespace lrc::runtime {
namespace {

using testing::compilePlan;
using testing::CompiledPlan;
using testing::TempDir;

std::string modelsPath(const std::string& name) {
  const std::string path = std::string(LRC_TEST_MODELS_DIR) + "/" + name;
  if (!std::filesystem::exists(path))
    throw std::runtime_error(path + " is missing: run the ctest fixture make_test_models");
  return path;
}

float trainSteps(const CompiledPlan& p, const RunSettings& settings, int steps, std::vector<float>* losses = nullptr) {
  CpuBackend backend;
  Executor executor(p.plan, p.source(), backend, settings);
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
    const CompiledPlan p = compilePlan(model, batch);
    CpuBackend backend;
    Executor executor(p.plan, p.source(), backend, defaultSettings(p.plan));
    const testing::Batch data = testing::makeBatch(executor.shape(), 1);
    executor.trainStep(data.images.data(), data.labels.data());
    std::vector<float> logits(static_cast<size_t>(executor.shape().batch * executor.shape().classes));
    executor.evaluate(data.images.data(), logits.data());
    EXPECT_EQ(executor.measuredPeakBytes(), executor.predictedPeakBytes()) << model << " batch " << batch;
  }
}

// A convolution over a 4096-wide map: one output row's im2col columns are 16 * 9 * 4096 floats
// (2.25 MiB), 12 rows 27 MiB, more than the CPU kernels' cap (ops::kConvScratchCapBytes, 16
// MiB). The plan sizes that convolution's scratch to the 7-row chunk the kernels run (not
// the whole band's 12, which conv-batch-bytes=1 gives); the capped plan trains like the uncapped
// one and its measured peak is its prediction.
TEST(Executor, WideConvolutionScratchIsOneChunk) {
  TempDir dir("exec");
  testing::OnnxBuilder b(15, 5);
  b.input("image", {1, 2, 12, 4096});
  auto& c1 = b.node("Conv", {"image", b.weight("c1.w", {16, 2, 3, 3})}, "c1");
  testing::OnnxBuilder::intsAttr(c1, "pads", {1, 1, 1, 1});
  b.node("Relu", {"c1"}, "r1");
  auto& c2 = b.node("Conv", {"r1", b.weight("c2.w", {4, 16, 3, 3})}, "c2");
  testing::OnnxBuilder::intsAttr(c2, "pads", {1, 1, 1, 1});
  b.node("GlobalAveragePool", {"c2"}, "gap");
  auto& fl = b.node("Flatten", {"gap"}, "flat");
  testing::OnnxBuilder::intAttr(fl, "axis", 1);
  b.node("MatMul", {"flat", b.weight("fc.w", {4, 5})}, "logits");
  b.output("logits", {1, 5});
  const std::string model = b.save(dir.file("wide.onnx"));

  const int64_t row = 16 * 9 * 4096 * 4, cap = ops::kConvScratchCapBytes;
  ASSERT_GT(12 * row, cap);
  ASSERT_EQ(cap / row, 7);
  const auto largestScratch = [](const plan::Plan& plan) {
    int64_t most = 0;
    for (const plan::Buffer& buf : plan.buffers())
      if (buf.name().rfind("scratch:", 0) == 0) most = std::max<int64_t>(most, static_cast<int64_t>(buf.bytes()));
    return most;
  };
  compiler::TrainingOptions whole;
  whole.memory.convBatchBytes = 1;  // one image's whole band (the CUDA policy)
  const CompiledPlan capped = compilePlan(model, 1), uncapped = compilePlan(model, 1, compiler::defaultOptimizer(), whole);
  EXPECT_EQ(largestScratch(capped.plan), 7 * row);
  EXPECT_EQ(largestScratch(uncapped.plan), 12 * row);

  std::vector<float> losses[2];
  int64_t peaks[2] = {};
  for (int i = 0; i < 2; ++i) {
    const CompiledPlan& p = i == 0 ? capped : uncapped;
    CpuBackend backend;
    RunSettings settings = defaultSettings(p.plan);
    settings.optimizer.lr = 0.05;
    Executor run(p.plan, p.source(), backend, settings);
    const testing::Batch data = testing::makeBatch(run.shape(), 2);
    for (int step = 0; step < 2; ++step) losses[i].push_back(run.trainStep(data.images.data(), data.labels.data()));
    EXPECT_EQ(run.measuredPeakBytes(), run.predictedPeakBytes()) << (i == 0 ? "capped" : "uncapped");
    peaks[i] = static_cast<int64_t>(run.predictedPeakBytes());
  }
  EXPECT_LT(peaks[0], peaks[1]) << "the capped plan's peak";
  for (size_t step = 0; step < 2; ++step) EXPECT_NEAR(losses[0][step], losses[1][step], 1e-5 * std::abs(losses[1][step]));
}

// Row plans (2PS and OverL, distinct forward and backward strip counts) compute what the
// layerwise plan computes: the same losses step after step and the same trained parameters,
// up to float reordering, and their measured peak is their prediction.
TEST(Executor, RowPlansTrainLikeLayerwise) {
  TempDir dir("exec");
  const std::string models[] = {testing::fashionModelPath(), modelsPath("tiny_op13.onnx"),
                                testing::writeMixedModel(dir.file("mixed.onnx"))};
  for (const std::string& model : models) {
    compiler::TrainingOptions layerwise;
    layerwise.batchNorm.mode = passes::BatchNormMode::Frozen;
    const CompiledPlan base = compilePlan(model, 4, compiler::defaultOptimizer(), layerwise);
    std::vector<float> baseLosses;
    RunSettings settings = defaultSettings(base.plan);
    settings.optimizer.lr = 0.05;
    CpuBackend baseBackend;
    Executor baseRun(base.plan, base.source(), baseBackend, settings);
    const testing::Batch batch = testing::makeBatch(baseRun.shape(), 3);
    for (int i = 0; i < 3; ++i) baseLosses.push_back(baseRun.trainStep(batch.images.data(), batch.labels.data()));

    struct Strips {
      passes::RowStrategy strategy;
      int64_t strips, bpStrips;
    };
    for (const Strips& strips : {Strips{passes::RowStrategy::TwoPS, 3, 2}, Strips{passes::RowStrategy::OverL, 2, 3}}) {
      compiler::TrainingOptions options = layerwise;
      options.rows.layerwise = false;
      options.rows.partition.strategy = strips.strategy;
      options.rows.partition.strips = strips.strips;
      options.rows.partition.bpStrips = strips.bpStrips;
      const CompiledPlan p = compilePlan(model, 4, compiler::defaultOptimizer(), options);
      const std::string what = model + " " + std::string(passes::name(strips.strategy));
      EXPECT_TRUE(std::any_of(p.plan.buffers().begin(), p.plan.buffers().end(),
                              [](const plan::Buffer& b) { return b.height() > 0; }))
          << what << ": no row bands";
      CpuBackend backend;
      validatePlan(p.plan, p.weights.size(), what, backend);
      Executor run(p.plan, p.source(), backend, settings);
      for (int i = 0; i < 3; ++i) {
        const float loss = run.trainStep(batch.images.data(), batch.labels.data());
        EXPECT_NEAR(loss, baseLosses[static_cast<size_t>(i)], 1e-5 * std::abs(baseLosses[static_cast<size_t>(i)]))
            << what << " step " << i;
      }
      EXPECT_EQ(run.measuredPeakBytes(), run.predictedPeakBytes()) << what;
      for (const plan::Init& init : p.plan.inits()) {
        const plan::Buffer& b = p.plan.buffers(static_cast<int>(init.buffer()));
        if (b.role() != plan::PARAMETER) continue;
        std::vector<float> got(b.bytes() / 4), want(b.bytes() / 4);
        std::memcpy(got.data(), run.readBuffer(init.buffer()).data(), b.bytes());
        const int wantIndex = std::find_if(base.plan.buffers().begin(), base.plan.buffers().end(),
                                           [&](const plan::Buffer& x) { return x.name() == b.name(); }) -
                              base.plan.buffers().begin();
        ASSERT_LT(wantIndex, base.plan.buffers_size()) << b.name();
        std::memcpy(want.data(), baseRun.readBuffer(static_cast<uint32_t>(wantIndex)).data(), b.bytes());
        double err = 0, scale = 1e-12;
        for (size_t i = 0; i < got.size(); ++i) {
          err = std::max(err, std::abs(static_cast<double>(got[i]) - want[i]));
          scale = std::max(scale, std::abs(static_cast<double>(want[i])));
        }
        EXPECT_LE(err / scale, 1e-5) << what << ": " << b.name();
      }
    }
  }
}

TEST(Executor, TrainingLowersTheLoss) {
  TempDir dir("exec");
  const std::pair<std::string, double> models[] = {
      {testing::fashionModelPath(), 0.05},
      {testing::writeMixedModel(dir.file("mixed.onnx"), false), 0.5},  // few weights: a larger step
  };
  for (const auto& [model, lr] : models) {
    const CompiledPlan p = compilePlan(model, 8);
    RunSettings settings = defaultSettings(p.plan);
    settings.optimizer.lr = lr;
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
  const CompiledPlan base = compilePlan(testing::writeMixedModel(dir.file("mixed.onnx")), 4);
  RunSettings sgd, frozen;  // no momentum, no decay; lr 1 and 0
  sgd.optimizer.lr = 1.0;

  CpuBackend backend;
  Executor executor(base.plan, base.source(), backend, sgd);
  const testing::Batch batch = testing::makeBatch(executor.shape(), 5);
  executor.trainStep(batch.images.data(), batch.labels.data());

  std::mt19937 rng(11);
  int checked = 0;
  for (const plan::Init& init : base.plan.inits()) {
    const plan::Buffer& b = base.plan.buffers(static_cast<int>(init.buffer()));
    if (b.role() != plan::PARAMETER || init.bytes() == 0) continue;
    const size_t count = b.bytes() / 4;
    std::vector<float> before(count), after(count);
    std::memcpy(before.data(), base.weights.data() + init.weights_offset(), b.bytes());
    const std::string now = executor.readBuffer(init.buffer());
    std::memcpy(after.data(), now.data(), b.bytes());
    for (int k = 0; k < 3; ++k) {
      const size_t i = rng() % count;
      const double grad = static_cast<double>(before[i]) - static_cast<double>(after[i]);
      const float eps = 3e-3f;  // larger steps cross max-pool and ReLU switches
      auto lossWith = [&](float delta) {
        std::string weights = base.weights;
        const float value = before[i] + delta;
        std::memcpy(weights.data() + init.weights_offset() + 4 * i, &value, 4);
        CpuBackend bk;
        Executor ex(base.plan, plan::MemoryWeights(weights), bk, frozen);
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
  const CompiledPlan p = compilePlan(testing::fashionModelPath(), 4);
  RunSettings settings = defaultSettings(p.plan);
  settings.optimizer.lr = 0.05;
  std::vector<float> plain, interleaved;
  trainSteps(p, settings, 3, &plain);

  CpuBackend backend;
  Executor executor(p.plan, p.source(), backend, settings);
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
  const CompiledPlan p = compilePlan(testing::fashionModelPath(), 2);
  CpuBackend backend;
  Executor executor(p.plan, p.source(), backend, defaultSettings(p.plan));
  testing::Batch batch = testing::makeBatch(executor.shape(), 1);
  batch.labels[1] = 10;
  try {
    executor.trainStep(batch.images.data(), batch.labels.data());
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "label 10 of sample 1 of the batch is outside [0, 10), the plan's classes");
  }
}

// A source that hands the weights over in small chunks of odd sizes, so that inits start and
// end inside chunks and span several.
class SmallChunks final : public plan::WeightSource {
 public:
  SmallChunks(std::string_view bytes, uint64_t chunk) : bytes_(bytes), chunk_(chunk) {}
  uint64_t size() const override { return bytes_.size(); }
  void stream(const Sink& sink) const override {
    for (uint64_t at = 0; at < bytes_.size(); at += chunk_)
      sink(at, bytes_.data() + at, std::min<uint64_t>(chunk_, bytes_.size() - at));
  }

 private:
  std::string_view bytes_;
  uint64_t chunk_;
};

// Every initialized buffer holds its init's bytes of the weights section, or zeros.
void expectInitialData(const CompiledPlan& p, Executor& executor) {
  int withData = 0, zeroed = 0;
  for (const plan::Init& init : p.plan.inits()) {
    const plan::Buffer& b = p.plan.buffers(static_cast<int>(init.buffer()));
    const std::string expected =
        init.bytes() ? p.weights.substr(init.weights_offset(), init.bytes()) : std::string(b.bytes(), '\0');
    ASSERT_EQ(executor.readBuffer(init.buffer()), expected) << b.name();
    ++(init.bytes() ? withData : zeroed);
  }
  EXPECT_GT(withData, 0);
  EXPECT_GT(zeroed, 0);  // momentum (all-zero data is never stored)
}

TEST(Executor, StreamsTheInitialDataInChunks) {
  const CompiledPlan p = compilePlan(testing::fashionModelPath(), 2);
  for (uint64_t chunk : {uint64_t{1}, uint64_t{7}, uint64_t{4096}, uint64_t{1} << 20}) {
    CpuBackend backend;
    Executor executor(p.plan, SmallChunks(p.weights, chunk), backend, defaultSettings(p.plan));
    expectInitialData(p, executor);
  }
}

TEST(Executor, RunsAPlanFileStreamingItsWeights) {
  TempDir dir("exec");
  const CompiledPlan p = compilePlan(testing::fashionModelPath(), 4);
  const std::string path = dir.file("f.plan");
  std::ofstream(path, std::ios::binary) << p.fileBytes();
  CpuBackend fileBackend;
  const plan::PlanFile file = loadPlan(path, fileBackend);
  EXPECT_EQ(file.size(), p.weights.size());
  Executor fromFile(file.plan(), file, fileBackend, defaultSettings(file.plan()));
  expectInitialData(p, fromFile);

  CpuBackend memoryBackend;
  Executor inMemory(p.plan, p.source(), memoryBackend, defaultSettings(p.plan));
  const testing::Batch batch = testing::makeBatch(inMemory.shape(), 2);
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(fromFile.trainStep(batch.images.data(), batch.labels.data()),
              inMemory.trainStep(batch.images.data(), batch.labels.data()));
}

// Damaged weights get past loading (only the payload is read then) and stop the executor's
// construction: a one-line checksum error, before any step can run.
TEST(Executor, WeightsChecksumMismatchIsAnError) {
  TempDir dir("exec");
  const CompiledPlan p = compilePlan(testing::fashionModelPath(), 2);
  const std::string good = p.fileBytes();
  const size_t weightsStart = good.size() - 4 - p.weights.size();
  for (size_t at : {weightsStart, weightsStart + p.weights.size() / 2, good.size() - 5, good.size() - 1}) {
    std::string bad = good;
    bad[at] ^= 0x04;
    const std::string path = dir.file("bad.plan");
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
    CpuBackend backend;
    const plan::PlanFile file = loadPlan(path, backend);
    try {
      Executor executor(file.plan(), file, backend, defaultSettings(file.plan()));
      FAIL() << "no error for a flip at byte " << at;
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()), path + ": corrupt plan (checksum mismatch)");
    }
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
  try {
    backend.run(prepareStep(p, p.train().steps(0)), context);  // padded 3x3 needs a workspace: none given
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
  const PreparedStep prepared = prepareStep(p, step);
  const RunContext context;
  std::vector<float> x(40);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) - 20.5f;

  CpuBackend backend;
  backend.allocateArena(1000);
  EXPECT_EQ(backend.measuredPeakBytes(), 0u);
  backend.copyIn(0, x.data(), 64);
  EXPECT_EQ(backend.measuredPeakBytes(), 64u);
  backend.copyIn(0, x.data(), 160);
  backend.run(prepared, context);
  EXPECT_EQ(backend.measuredPeakBytes(), 352u);
  EXPECT_THROW(backend.copyIn(990, x.data(), 16), std::out_of_range);

  CpuBackend small;  // an arena that ends inside y: the guard catches the kernel's writes
  small.allocateArena(250);
  small.copyIn(0, x.data(), 160);
  small.run(prepared, context);
  try {
    small.measuredPeakBytes();
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("a kernel wrote past the arena"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lrc::runtime
