// Kernel conformance (after ggml's test-backend-ops): every kernel of runtime/Backend.h's
// kernel of the op table (ops/Ops.def), in one-step plans (hand_plan.h) on random data of odd sizes, on whole tensors
// and on row bands (result bands, operand bands holding more rows than a step reads, `rows`
// on backward steps), run on each backend and on the CPU backend, the reference. Every
// result, every operand after the step (the in-place updates: BatchNorm's running
// statistics, the optimizers' parameter and state) and the measured peak must agree, within a
// normalized error bound per op. The backends: "cuda-emulated", the CUDA backend's kernels
// and dispatch as host loops, always; "cuda" on the GPU, skipped with the reason where there
// is none.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "cpu_kernels_test_util.h"
#include "fake_collective.h"
#include "hand_plan.h"
#include "runtime/cpu/Conv.h"
#include "runtime/cpu/Optimizer.h"
#include "runtime/kernels/Pad.h"
#include "runtime/kernels/Resize.h"
#include "runtime/cuda/Backends.h"

namespace lrc::runtime::testing {
namespace {

using cpu::testing::distinctFloats;
using cpu::testing::normalizedError;
using cpu::testing::randomFloats;

// Bounds on normalizedError(backend, cpu). Copies, selections and one operation per element
// give the same bits; a few terms summed in another order, exp and log, differ in the last
// bits; sums over channels, windows, maps or the batch differ by more.
constexpr double kExact = 0;
constexpr double kFewTerms = 1e-6;
constexpr double kManyTerms = 1e-5;

// One step: its kernel, operands and results, attributes and what it runs with.
struct Case {
  std::string kernel;
  std::vector<Arg> inputs, outputs;
  IntAttrs ints = {};
  FloatAttrs floats = {};
  RunContext context = {};
  std::string then = {};  // a kernel run after it on the same operands (runPlanStep)
};

IntAttrs with(IntAttrs attrs, const std::string& name, std::vector<int64_t> values) {
  attrs.push_back({name, std::move(values)});
  return attrs;
}

std::vector<int64_t> attrOf(const IntAttrs& attrs, const std::string& name) {
  for (const auto& [n, v] : attrs)
    if (n == name) return v;
  throw std::logic_error("no attribute " + name);
}

using RowMap = std::function<RowRange(RowRange)>;
const RowMap sameRows = [](RowRange r) { return r; };

// The rows of a `height`-row input that output rows read through `axis` (conv or pool).
RowMap windowRows(const kernels::WindowAxis& axis, int64_t height) {
  return [=](RowRange r) { return kernels::window_input_rows(axis, r.begin, r.end, height); };
}

class BackendConformance : public ::testing::TestWithParam<std::string> {
 public:
  void expectConformsPublic(const Case& c, double tolerance) const { expectConforms(c, tolerance); }

 protected:
  void SetUp() override {
    std::string why;
    if (GetParam() == "cuda" && !cudaDeviceAvailable(&why)) GTEST_SKIP() << why;
  }

  // A fresh backend under test: each plan gets an arena of its own. "cpu-im2col" (the
  // CpuConvPaths suite) is the CPU backend on its im2col convolutions, against the CPU backend
  // on its oneDNN (blocked) ones.
  std::unique_ptr<Backend> backend() const {
    if (GetParam() == "cpu-im2col") return std::make_unique<CpuBackend>();
    return GetParam() == "cuda" ? makeCudaBackend(CudaOptions{}) : makeEmulatedCudaBackend();
  }

  // Runs `c` on the CPU backend and on the backend under test: results and operands agree
  // within `tolerance`, and both measure the same peak.
  void expectConforms(const Case& c, double tolerance) const {
    const HandPlan p = oneStepPlan(c.kernel, c.inputs, c.outputs, c.ints, c.floats);
    SCOPED_TRACE(plan::printPlan(p.plan()));
    ASSERT_EQ(p.validationError(), "");
    CpuBackend cpu;
    const cpu::ConvPath path = cpu::conv_path();
    if (GetParam() == "cpu-im2col") cpu::set_conv_path(cpu::ConvPath::kDnnl);
    const StepRun want = runPlanStep(cpu, p, c.inputs, c.context, c.then);
    cpu::set_conv_path(path);
    StepRun got;
    try {
      if (GetParam() == "cpu-im2col") cpu::set_conv_path(cpu::ConvPath::kIm2col);
      const std::unique_ptr<Backend> device = backend();
      got = runPlanStep(*device, p, c.inputs, c.context, c.then);
      cpu::set_conv_path(path);
    } catch (const std::exception& e) {
      cpu::set_conv_path(path);
      FAIL() << GetParam() << " failed: " << e.what();
    }
    for (size_t i = 0; i < want.results.size(); ++i)
      EXPECT_LE(normalizedError(got.results[i], want.results[i]), tolerance) << "result " << i;
    for (size_t i = 0; i < want.operands.size(); ++i)
      EXPECT_LE(normalizedError(got.operands[i], want.operands[i]), tolerance) << "operand " << i << " after the step";
    EXPECT_EQ(got.peakBytes, want.peakBytes) << "measured peak";
  }

  // A forward step on whole tensors, then strip by strip: result 0 a band of each ragged
  // strip r of its rows, operand 0 a band holding the rows `need(r)` and one more each side.
  void expectConformsOnStrips(const Case& c, const RowMap& need, double tolerance) const {
    expectConforms(c, tolerance);
    const Arg x = c.inputs[0];
    const Shape y = c.outputs[0].shape;
    for (RowRange r : raggedStrips(y[2])) {
      Case strip = c;
      strip.inputs[0] = band(x.shape, *x.values, widened(need(r), 1, x.shape[2]));
      strip.outputs[0] = result(y, r);
      expectConforms(strip, tolerance);
    }
  }

  // A backward step on whole tensors, then with `rows` = each ragged strip r of the output
  // gradient (operand 0): dy a band holding r and a row more each side (the whole dy for the
  // middle strip); the forward-map operands `maps` bands of the rows `reach(r)` and one more
  // each side, and so result 0 when `bandResult`.
  void expectConformsOnGradRows(const Case& c, const RowMap& reach, const std::vector<size_t>& maps, bool bandResult,
                                double tolerance) const {
    expectConforms(c, tolerance);
    const Arg dy = c.inputs[0];
    const std::vector<RowRange> strips = raggedStrips(dy.shape[2]);
    for (size_t k = 0; k < strips.size(); ++k) {
      const RowRange r = strips[k];
      Case strip = c;
      strip.ints.push_back({"rows", {r.begin, r.end}});
      if (k != 1) strip.inputs[0] = band(dy.shape, *dy.values, widened(r, 1, dy.shape[2]));
      for (size_t i : maps) {
        const Arg& a = c.inputs[i];
        strip.inputs[i] = band(a.shape, *a.values, widened(reach(r), 1, a.shape[2]));
      }
      const Shape& dx = c.outputs[0].shape;
      if (bandResult) strip.outputs[0] = result(dx, widened(reach(r), 1, dx[2]));
      expectConforms(strip, tolerance);
    }
  }

  // The convolution cases (kConvCases), shared with CpuConvPaths.
  void conv2dCases() const;
  void conv2dGradInputCases() const;
  void conv2dGradWeightCases() const;
};

TEST_P(BackendConformance, SupportsEveryKernel) {
  const std::unique_ptr<Backend> device = backend();
  int kernels = 0;
  for (const lrc::ops::OpInfo& op : lrc::ops::kOps) {
    if (!op.kernel) continue;
    ++kernels;
    EXPECT_TRUE(device->supports(*kernelByName(op.name))) << op.name;
  }
  EXPECT_EQ(kernels, lrc::ops::kOpCount - 1);  // all but pipeline_grad
}

// ---- convolutions ----

struct ConvCase {
  Shape x, w;
  bool bias;
  IntAttrs attrs;

  kernels::WindowAxis axis(size_t i) const { return windowAxis(attrs, i, w[2 + i]); }
  Shape y() const {
    return {x[0], w[0], kernels::window_output_size(axis(0), x[2]), kernels::window_output_size(axis(1), x[3])};
  }
};

const ConvCase kConvCases[] = {
    {{3, 5, 7, 9}, {4, 5, 3, 3}, true, convAttrs({1, 1}, {1, 1, 1, 1}, {1, 1}, 1)},    // padded, with bias
    {{3, 5, 7, 9}, {4, 5, 3, 3}, false, convAttrs({1, 1}, {0, 0, 0, 0}, {1, 1}, 1)},   // no bias, no padding
    {{2, 6, 9, 11}, {9, 2, 3, 5}, true, convAttrs({2, 3}, {2, 1, 0, 2}, {1, 2}, 3)},   // grouped, strided, dilated
    {{3, 5, 7, 9}, {5, 1, 3, 3}, false, convAttrs({1, 1}, {2, 2, 2, 2}, {2, 2}, 5)},   // depthwise, dilated
    {{3, 5, 7, 9}, {3, 5, 1, 1}, true, convAttrs({2, 2}, {0, 0, 0, 0}, {1, 1}, 1)},    // 1x1, strided
    {{1, 3, 11, 5}, {2, 3, 5, 2}, true, convAttrs({3, 1}, {1, 0, 3, 1}, {1, 1}, 1)},   // stride 3, asymmetric pads
    {{3, 5, 7, 9}, {6, 5, 1, 1}, true, convAttrs({1, 1}, {0, 0, 0, 0}, {1, 1}, 1)},    // 1x1 direct: batched GEMM
    {{3, 6, 7, 9}, {4, 3, 1, 1}, false, convAttrs({1, 1}, {0, 0, 0, 0}, {1, 1}, 2)},   // 1x1 direct, grouped
    // 1x1 direct over 28x28: the CPU's oneDNN path runs its forward and input gradient on
    // oneDNN's plain GEMM convolution (runtime/cpu/Conv.cpp), a strip's on im2col.
    {{2, 4, 28, 28}, {3, 4, 1, 1}, true, convAttrs({1, 1}, {0, 0, 0, 0}, {1, 1}, 1)},
    // The scratch (kScratchFloats) holds the columns of 2 of these 5 whole images: the device
    // backend's image chunks 2, 2, 1 (a strip's fewer rows fit more images).
    {{5, 4, 30, 30}, {3, 4, 3, 3}, true, convAttrs({1, 1}, {1, 1, 1, 1}, {1, 1}, 1)},
};

TEST_P(BackendConformance, Conv2d) { conv2dCases(); }
TEST_P(BackendConformance, Conv2dGradInput) { conv2dGradInputCases(); }
TEST_P(BackendConformance, Conv2dGradWeight) { conv2dGradWeightCases(); }

// The CPU backend's im2col convolutions against its oneDNN ones (blocked, the default;
// runtime/cpu/Conv.h; im2col again without oneDNN), whole maps and strips.
class CpuConvPaths : public BackendConformance {};
TEST_P(CpuConvPaths, Conv2d) { conv2dCases(); }
TEST_P(CpuConvPaths, Conv2dGradInput) { conv2dGradInputCases(); }
TEST_P(CpuConvPaths, Conv2dGradWeight) { conv2dGradWeightCases(); }
INSTANTIATE_TEST_SUITE_P(Cpu, CpuConvPaths, ::testing::Values("cpu-im2col"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

void BackendConformance::conv2dCases() const {
  uint32_t seed = 100;
  for (const ConvCase& c : kConvCases) {
    const std::vector<float> x = randomFloats(elementsOf(c.x), seed++), w = randomFloats(elementsOf(c.w), seed++),
                             b = randomFloats(c.w[0], seed++);
    Case step{"conv2d", {whole(c.x, x), whole(c.w, w)}, {result(c.y())}, c.attrs};
    if (c.bias) step.inputs.push_back(whole({c.w[0]}, b));
    expectConformsOnStrips(step, windowRows(c.axis(0), c.x[2]), kManyTerms);
  }
}

void BackendConformance::conv2dGradInputCases() const {
  uint32_t seed = 200;
  for (const ConvCase& c : kConvCases) {
    const std::vector<float> dy = randomFloats(elementsOf(c.y()), seed++), w = randomFloats(elementsOf(c.w), seed++);
    const Case step{"conv2d_grad_input", {whole(c.y(), dy), whole(c.w, w)}, {result(c.x)},
                    with(c.attrs, "input_shape", c.x)};
    expectConformsOnGradRows(step, windowRows(c.axis(0), c.x[2]), {}, true, kManyTerms);
  }
}

void BackendConformance::conv2dGradWeightCases() const {
  uint32_t seed = 300;
  for (const ConvCase& c : kConvCases) {
    const std::vector<float> dy = randomFloats(elementsOf(c.y()), seed++), x = randomFloats(elementsOf(c.x), seed++);
    const Case step{"conv2d_grad_weight", {whole(c.y(), dy), whole(c.x, x)}, {result(c.w)},
                    with(c.attrs, "kernel", {c.w[2], c.w[3]})};
    expectConformsOnGradRows(step, windowRows(c.axis(0), c.x[2]), {1}, false, kManyTerms);
  }
}

// ConvTranspose: x [N, Cin, H, W], w [Cin, Cout / group, kh, kw]; attrs the equivalent
// convolution's, output_padding apart (only the forward reads it).
struct ConvTCase {
  Shape x, w;
  bool bias;
  IntAttrs attrs;
  Shape outputPadding;

  kernels::WindowAxis axis(size_t i) const { return windowAxis(attrs, i, w[2 + i]); }
  Shape y() const {
    return {x[0], w[1] * attrOf(attrs, "group")[0], ops::transposedOutputSize(axis(0), x[2], outputPadding[0]),
            ops::transposedOutputSize(axis(1), x[3], outputPadding[1])};
  }
  // The rows of x that output rows r reach.
  RowMap xRows() const {
    const kernels::WindowAxis h = axis(0);
    const int64_t height = x[2];
    return [=](RowRange r) { return kernels::transposed_input_rows(h, r.begin, r.end, height); };
  }
};

const ConvTCase kConvTCases[] = {
    {{2, 4, 5, 6}, {4, 3, 2, 2}, true, convAttrs({2, 2}, {0, 0, 0, 0}, {1, 1}, 1), {0, 0}},   // PyTorch's k2 s2
    {{2, 4, 5, 6}, {4, 3, 3, 3}, false, convAttrs({2, 2}, {1, 1, 1, 1}, {1, 1}, 1), {1, 1}},  // k3 s2 p1 output_padding 1
    {{2, 4, 5, 6}, {4, 2, 4, 4}, true, convAttrs({2, 2}, {1, 1, 1, 1}, {1, 1}, 1), {0, 0}},   // k4 s2 p1
    {{1, 6, 4, 5}, {6, 2, 3, 4}, true, convAttrs({3, 2}, {1, 0, 2, 1}, {2, 1}, 3), {2, 1}},   // grouped, stride 3, dilated
    {{3, 5, 4, 4}, {5, 2, 1, 1}, false, convAttrs({1, 1}, {0, 0, 0, 0}, {1, 1}, 1), {0, 0}},  // 1x1 direct
    {{5, 4, 12, 12}, {4, 3, 4, 4}, true, convAttrs({2, 2}, {1, 1, 1, 1}, {1, 1}, 1), {0, 0}},  // image chunks
};

TEST_P(BackendConformance, ConvTranspose2d) {
  uint32_t seed = 350;
  for (const ConvTCase& c : kConvTCases) {
    const std::vector<float> x = randomFloats(elementsOf(c.x), seed++), w = randomFloats(elementsOf(c.w), seed++);
    const Shape y = c.y();
    const std::vector<float> b = randomFloats(y[1], seed++);
    Case step{"conv_transpose2d", {whole(c.x, x), whole(c.w, w)}, {result(y)},
              with(c.attrs, "output_padding", c.outputPadding)};
    if (c.bias) step.inputs.push_back(whole({y[1]}, b));
    expectConformsOnStrips(step, c.xRows(), kManyTerms);
  }
}

TEST_P(BackendConformance, ConvTranspose2dGradInput) {
  uint32_t seed = 370;
  for (const ConvTCase& c : kConvTCases) {
    const std::vector<float> dy = randomFloats(elementsOf(c.y()), seed++), w = randomFloats(elementsOf(c.w), seed++);
    const Case step{"conv_transpose2d_grad_input", {whole(c.y(), dy), whole(c.w, w)}, {result(c.x)}, c.attrs};
    expectConformsOnGradRows(step, c.xRows(), {}, true, kManyTerms);
  }
}

TEST_P(BackendConformance, ConvTranspose2dGradWeight) {
  uint32_t seed = 390;
  for (const ConvTCase& c : kConvTCases) {
    const std::vector<float> dy = randomFloats(elementsOf(c.y()), seed++), x = randomFloats(elementsOf(c.x), seed++);
    const Case step{"conv_transpose2d_grad_weight", {whole(c.y(), dy), whole(c.x, x)}, {result(c.w)},
                    with(c.attrs, "kernel", {c.w[2], c.w[3]})};
    expectConformsOnGradRows(step, c.xRows(), {1}, false, kManyTerms);
  }
}

TEST_P(BackendConformance, ChannelSum) {
  uint32_t seed = 400;
  for (const Shape& dy : {Shape{3, 5, 7, 9}, Shape{2, 9, 5, 2}, Shape{1, 1, 13, 1}}) {
    const std::vector<float> v = randomFloats(elementsOf(dy), seed++);
    expectConformsOnGradRows({"channel_sum", {whole(dy, v)}, {result({dy[1]})}}, sameRows, {}, false, kManyTerms);
  }
}

// ---- element-wise ----

const Shape kMap = {3, 5, 7, 9};

TEST_P(BackendConformance, Relu) {
  const std::vector<float> x = randomFloats(elementsOf(kMap), 500);
  expectConformsOnStrips({"relu", {whole(kMap, x)}, {result(kMap)}}, sameRows, kExact);
  const std::vector<float> flat = randomFloats(77, 501);
  expectConforms({"relu", {whole({7, 11}, flat)}, {result({7, 11})}}, kExact);
}

TEST_P(BackendConformance, ReluGrad) {
  const std::vector<float> dy = randomFloats(elementsOf(kMap), 510), y = randomFloats(elementsOf(kMap), 511);
  expectConformsOnGradRows({"relu_grad", {whole(kMap, dy), whole(kMap, y)}, {result(kMap)}}, sameRows, {1}, true,
                           kExact);
  const std::vector<float> dyFlat = randomFloats(77, 512), yFlat = randomFloats(77, 513);
  expectConforms({"relu_grad", {whole({7, 11}, dyFlat), whole({7, 11}, yFlat)}, {result({7, 11})}}, kExact);
}

// The other activations (runtime/kernels/Unary.h), with their attributes: the forward on
// strips and whole tensors, the gradient (dy, saved) on rows. exp and multiply-adds may round
// differently on the GPU.
struct ActivationCase {
  std::string kernel;
  FloatAttrs floats;
  double bound;
};

const ActivationCase kActivations[] = {
    {"sigmoid", {}, kFewTerms},
    {"hardsigmoid", {{"alpha", 0.2}, {"beta", 0.5}}, kFewTerms},
    {"hardsigmoid", {{"alpha", 1.0 / 6}, {"beta", 0.5}}, kFewTerms},
    {"hardswish", {}, kFewTerms},
    {"clip", {{"min", 0.0}, {"max", 2.0}}, kExact},
    {"clip", {{"min", -INFINITY}, {"max", 0.5}}, kExact},
    {"erf", {}, kFewTerms},
    {"pow", {{"exponent", 2.0}}, kFewTerms},
    {"pow", {{"exponent", 3.0}}, kFewTerms},
};

TEST_P(BackendConformance, Activations) {
  uint32_t seed = 570;
  for (const ActivationCase& c : kActivations) {
    SCOPED_TRACE(c.kernel);
    const std::vector<float> x = randomFloats(elementsOf(kMap), seed++, -4.0f, 4.0f), flat = randomFloats(77, seed++);
    expectConformsOnStrips({c.kernel, {whole(kMap, x)}, {result(kMap)}, {}, c.floats}, sameRows, c.bound);
    expectConforms({c.kernel, {whole({7, 11}, flat)}, {result({7, 11})}, {}, c.floats}, c.bound);
  }
}

TEST_P(BackendConformance, ActivationGrads) {
  uint32_t seed = 590;
  for (const ActivationCase& c : kActivations) {
    SCOPED_TRACE(c.kernel);
    const std::string kernel = c.kernel + "_grad";
    // saved: the forward's result (inside and outside the ranges where gradients pass) or input
    const std::vector<float> dy = randomFloats(elementsOf(kMap), seed++),
                             saved = randomFloats(elementsOf(kMap), seed++, -4.0f, 4.0f),
                             dyFlat = randomFloats(77, seed++), savedFlat = randomFloats(77, seed++, -4.0f, 4.0f);
    expectConformsOnGradRows({kernel, {whole(kMap, dy), whole(kMap, saved)}, {result(kMap)}, {}, c.floats}, sameRows,
                             {1}, true, c.bound);
    expectConforms({kernel, {whole({7, 11}, dyFlat), whole({7, 11}, savedFlat)}, {result({7, 11})}, {}, c.floats},
                   c.bound);
  }
}

// Ops whose domain is x > 0 (sqrt, a fractional pow): the same cases on positive values.
const ActivationCase kPositiveActivations[] = {
    {"sqrt", {}, kFewTerms},
    {"pow", {{"exponent", 0.5}}, kFewTerms},
    {"pow", {{"exponent", -1.5}}, kFewTerms},
};

TEST_P(BackendConformance, PositiveDomainActivations) {
  uint32_t seed = 610;
  for (const ActivationCase& c : kPositiveActivations) {
    SCOPED_TRACE(c.kernel);
    const std::vector<float> x = randomFloats(elementsOf(kMap), seed++, 0.25f, 4.0f),
                             dy = randomFloats(elementsOf(kMap), seed++), flat = randomFloats(77, seed++, 0.25f, 4.0f);
    expectConformsOnStrips({c.kernel, {whole(kMap, x)}, {result(kMap)}, {}, c.floats}, sameRows, c.bound);
    expectConforms({c.kernel, {whole({7, 11}, flat)}, {result({7, 11})}, {}, c.floats}, c.bound);
    expectConformsOnGradRows({c.kernel + "_grad", {whole(kMap, dy), whole(kMap, x)}, {result(kMap)}, {}, c.floats},
                             sameRows, {1}, true, c.bound);
  }
}

TEST_P(BackendConformance, Identity) {
  const std::vector<float> x = randomFloats(elementsOf(kMap), 520), flat = randomFloats(77, 521);
  expectConformsOnStrips({"identity", {whole(kMap, x)}, {result(kMap)}}, sameRows, kExact);
  expectConforms({"identity", {whole({7, 11}, flat)}, {result({7, 11})}}, kExact);
}

TEST_P(BackendConformance, Flatten) {
  const std::vector<float> x = randomFloats(elementsOf(kMap), 530);
  const std::pair<int64_t, Shape> cases[] = {{0, {1, 945}}, {1, {3, 315}}, {2, {15, 63}}, {4, {945, 1}}};
  for (const auto& [axis, y] : cases) expectConforms({"flatten", {whole(kMap, x)}, {result(y)}, {{"axis", {axis}}}}, kExact);
}

TEST_P(BackendConformance, Reshape) {
  const std::vector<float> x = randomFloats(elementsOf(kMap), 540);
  for (const Shape& y : {Shape{15, 63}, Shape{945}, Shape{3, 5, 63}, Shape{9, 7, 5, 3}})
    expectConforms({"reshape", {whole(kMap, x)}, {result(y)}, {{"shape", y}}}, kExact);
}

// ---- the binary family (add, sub, mul, div) and reduce_mean ----

const char* const kBinaryKernels[] = {"add", "sub", "mul", "div"};

// Values at least 0.5 from 0 (div's denominators).
std::vector<float> awayFromZero(std::vector<float> v) {
  for (float& x : v) x = x < 0 ? x - 0.5f : x + 0.5f;
  return v;
}

TEST_P(BackendConformance, Binary) {
  const std::vector<float> a = randomFloats(elementsOf(kMap), 550), b = awayFromZero(randomFloats(elementsOf(kMap), 551)),
                           small = awayFromZero(randomFloats(45, 552)), column = randomFloats(7, 553),
                           row = awayFromZero(randomFloats(11, 554)), one = awayFromZero(randomFloats(1, 555)),
                           gate = awayFromZero(randomFloats(kMap[0] * kMap[1], 556)),
                           channel = awayFromZero(randomFloats(kMap[1], 557));
  const Shape gateShape = {kMap[0], kMap[1], 1, 1}, channelShape = {kMap[1], 1, 1};
  for (const std::string kernel : kBinaryKernels) {
    SCOPED_TRACE(kernel);
    expectConforms({kernel, {whole(kMap, a), whole(kMap, b)}, {result(kMap)}}, kExact);
    // Broadcasting, numpy's rules.
    expectConforms({kernel, {whole(kMap, a), whole({5, 1, 9}, small)}, {result(kMap)}}, kExact);
    expectConforms({kernel, {whole({5, 1, 9}, small), whole(kMap, b)}, {result(kMap)}}, kExact);
    expectConforms({kernel, {whole({7, 1}, column), whole({1, 11}, row)}, {result({7, 11})}}, kExact);
    expectConforms({kernel, {whole({1}, one), whole(kMap, b)}, {result(kMap)}}, kExact);
    // On rows: the result a band, the operands bands of other rows (a row more, a band of all
    // rows, starting two rows earlier) or whole maps, or a whole per-channel operand.
    for (RowRange r : raggedStrips(kMap[2])) {
      const RowRange earlier = {std::max<int64_t>(r.begin - 2, 0), r.end};
      expectConforms({kernel, {band(kMap, a, widened(r, 1, kMap[2])), band(kMap, b, {0, kMap[2]})}, {result(kMap, r)}},
                     kExact);
      expectConforms({kernel, {whole(kMap, a), band(kMap, b, earlier)}, {result(kMap, r)}}, kExact);
      expectConforms({kernel, {band(kMap, a, earlier), whole(gateShape, gate)}, {result(kMap, r)}}, kExact);
      expectConforms({kernel, {whole(channelShape, channel), band(kMap, b, earlier)}, {result(kMap, r)}}, kExact);
    }
  }
}

// Each operand's gradient, summed over its broadcast axes (on rows: a per-channel operand's
// over the rows propagated).
TEST_P(BackendConformance, BinaryGrad) {
  const std::vector<float> dy = randomFloats(elementsOf(kMap), 557), a = randomFloats(elementsOf(kMap), 558),
                           small = awayFromZero(randomFloats(45, 559)),
                           gate = awayFromZero(randomFloats(kMap[0] * kMap[1], 560));
  const Shape gateShape = {kMap[0], kMap[1], 1, 1};
  for (const std::string kernel : kBinaryKernels) {
    SCOPED_TRACE(kernel);
    for (int64_t operand : {0, 1}) {
      const IntAttrs attrs = {{"operand", {operand}}};
      expectConforms({kernel + "_grad", {whole(kMap, dy), whole(kMap, a), whole({5, 1, 9}, small)},
                      {result(operand == 0 ? kMap : Shape{5, 1, 9})}, attrs},
                     kExact);
      expectConformsOnGradRows({kernel + "_grad", {whole(kMap, dy), whole(kMap, a), whole(gateShape, gate)},
                                {result(operand == 0 ? kMap : gateShape)}, attrs},
                               sameRows, {1}, operand == 0, kExact);
    }
  }
}

TEST_P(BackendConformance, ReduceMean) {
  const std::vector<float> x = randomFloats(elementsOf(kMap), 561);
  for (const auto& [axes, keptShape, droppedShape] :
       {std::tuple<Shape, Shape, Shape>{{2, 3}, {3, 5, 1, 1}, {3, 5}}, {{1}, {3, 1, 7, 9}, {3, 7, 9}},
        {{0, 2, 3}, {1, 5, 1, 1}, {5}}}) {
    for (int64_t keepdims : {0, 1})
      for (int64_t sum : {0, 1}) {  // sum=1: ONNX ReduceSum
        const Shape y = keepdims ? keptShape : droppedShape;
        expectConforms({"reduce_mean", {whole(kMap, x)}, {result(y)}, {{"axes", axes}, {"keepdims", {keepdims}}, {"sum", {sum}}}},
                       kExact);
        const std::vector<float> dy = randomFloats(elementsOf(y), 562);
        expectConforms({"reduce_mean_grad", {whole(y, dy)}, {result(kMap)}, {{"axes", axes}, {"input_shape", kMap}, {"sum", {sum}}}},
                       kExact);
      }
  }
}

// Concat along every axis of whole tensors; on rows (channels), operand bands of more rows
// than the result's, or whole maps.
TEST_P(BackendConformance, Concat) {
  const Shape other = {3, 2, 7, 9};
  const std::vector<float> a = randomFloats(elementsOf(kMap), 556), b = randomFloats(elementsOf(other), 557),
                           c = randomFloats(elementsOf(kMap), 564);
  expectConforms({"concat", {whole(kMap, a), whole(other, b), whole(kMap, a)}, {result({3, 12, 7, 9})}, {{"axis", {1}}}},
                 kExact);
  for (int64_t axis : {0, 2, 3}) {
    Shape y = kMap;
    y[static_cast<size_t>(axis)] *= 2;
    expectConforms({"concat", {whole(kMap, a), whole(kMap, c)}, {result(y)}, {{"axis", {axis}}}}, kExact);
  }
  expectConforms({"concat", {whole({7, 11}, randomFloats(77, 561)), whole({7, 3}, randomFloats(21, 562))}, {result({7, 14})},
                  {{"axis", {1}}}},
                 kExact);
  for (RowRange r : raggedStrips(kMap[2]))
    expectConforms({"concat", {band(kMap, a, widened(r, 1, kMap[2])), whole(other, b)}, {result({3, 7, 7, 9}, r)},
                    {{"axis", {1}}}},
                   kExact);
}

TEST_P(BackendConformance, Slice) {
  const std::vector<float> x = randomFloats(elementsOf(kMap), 558);
  expectConformsOnStrips({"slice", {whole(kMap, x)}, {result({3, 3, 7, 9})}, {{"axis", {1}}, {"start", {1}}, {"end", {4}}}},
                         sameRows, kExact);
  expectConforms({"slice", {whole(kMap, x)}, {result({3, 5, 7, 4})}, {{"axis", {3}}, {"start", {5}}, {"end", {9}}}},
                 kExact);
}

TEST_P(BackendConformance, SliceGrad) {
  const std::vector<float> dy = randomFloats(3 * 3 * 7 * 9, 559);
  expectConformsOnGradRows({"slice_grad", {whole({3, 3, 7, 9}, dy)}, {result(kMap)},
                            {{"axis", {1}}, {"start", {1}}, {"end", {4}}, {"input_shape", kMap}}},
                           sameRows, {}, true, kExact);
  expectConforms({"slice_grad", {whole({3, 5, 7, 4}, randomFloats(3 * 5 * 7 * 4, 563))}, {result(kMap)},
                  {{"axis", {3}}, {"start", {5}}, {"end", {9}}, {"input_shape", kMap}}},
                 kExact);
}

// On rows (of an operand band that holds more), and its gradient: the shuffle by C/g groups.
TEST_P(BackendConformance, ChannelShuffle) {
  const Shape s = {3, 12, 7, 9};
  const std::vector<float> x = randomFloats(elementsOf(s), 565);
  for (int64_t groups : {2, 3, 12})
    expectConformsOnStrips({"channel_shuffle", {whole(s, x)}, {result(s)}, {{"groups", {groups}}}}, sameRows, kExact);
}

// Every permutation family ShuffleNet and channels-last round trips use, and a reversal.
TEST_P(BackendConformance, Transpose) {
  const std::vector<float> x = randomFloats(elementsOf(kMap), 566);
  expectConforms({"transpose", {whole(kMap, x)}, {result({3, 7, 9, 5})}, {{"perm", {0, 2, 3, 1}}}}, kExact);
  expectConforms({"transpose", {whole({3, 7, 9, 5}, x)}, {result(kMap)}, {{"perm", {0, 3, 1, 2}}}}, kExact);
  expectConforms({"transpose", {whole({3, 5, 1, 7, 9}, x)}, {result({9, 7, 1, 5, 3})}, {{"perm", {4, 3, 2, 1, 0}}}}, kExact);
  const std::vector<float> g = randomFloats(3 * 12 * 7 * 9, 567);
  expectConforms({"transpose", {whole({3, 2, 6, 7, 9}, g)}, {result({3, 6, 2, 7, 9})}, {{"perm", {0, 2, 1, 3, 4}}}}, kExact);
}

TEST_P(BackendConformance, SumTo) {
  const std::vector<float> x = randomFloats(elementsOf(kMap), 560);
  for (const Shape& y : {Shape{5, 1, 9}, Shape{3, 1, 1, 1}, Shape{1}, Shape{7, 9}, kMap})
    expectConforms({"sum_to", {whole(kMap, x)}, {result(y)}, {{"shape", y}}}, kManyTerms);
}

// ---- pooling and padding ----

struct PoolCase {
  IntAttrs attrs;  // kernel, stride, pad, ceil_mode, and dilation (max) or count_include_pad (average)

  kernels::WindowAxis axis(size_t i) const { return windowAxis(attrs, i, attrOf(attrs, "kernel").at(i)); }
  Shape y(const Shape& x) const {
    const bool ceil = attrOf(attrs, "ceil_mode").at(0) != 0;
    return {x[0], x[1], kernels::window_output_size(axis(0), x[2], ceil), kernels::window_output_size(axis(1), x[3], ceil)};
  }
};

const PoolCase kMaxPoolCases[] = {
    {{{"kernel", {3, 3}}, {"stride", {2, 2}}, {"pad", {1, 1, 1, 1}}, {"dilation", {1, 1}}, {"ceil_mode", {0}}}},
    {{{"kernel", {2, 3}}, {"stride", {2, 2}}, {"pad", {0, 1, 1, 0}}, {"dilation", {1, 1}}, {"ceil_mode", {1}}}},
    {{{"kernel", {3, 2}}, {"stride", {1, 3}}, {"pad", {2, 0, 1, 1}}, {"dilation", {2, 1}}, {"ceil_mode", {1}}}},
    {{{"kernel", {2, 2}}, {"stride", {2, 2}}, {"pad", {0, 0, 0, 0}}, {"dilation", {1, 1}}, {"ceil_mode", {0}}}},
};

const PoolCase kAvgPoolCases[] = {
    {{{"kernel", {3, 3}}, {"stride", {2, 2}}, {"pad", {1, 1, 1, 1}}, {"ceil_mode", {0}}, {"count_include_pad", {0}}}},
    {{{"kernel", {3, 3}}, {"stride", {2, 2}}, {"pad", {1, 1, 1, 1}}, {"ceil_mode", {0}}, {"count_include_pad", {1}}}},
    {{{"kernel", {2, 3}}, {"stride", {2, 2}}, {"pad", {0, 1, 1, 1}}, {"ceil_mode", {1}}, {"count_include_pad", {0}}}},
    {{{"kernel", {2, 3}}, {"stride", {2, 2}}, {"pad", {0, 1, 1, 1}}, {"ceil_mode", {1}}, {"count_include_pad", {1}}}},
    {{{"kernel", {3, 2}}, {"stride", {1, 2}}, {"pad", {1, 0, 2, 1}}, {"ceil_mode", {0}}, {"count_include_pad", {1}}}},
};

TEST_P(BackendConformance, MaxPool) {
  // Distinct values: no ties, so the maximum of a window is one element on every backend.
  const std::vector<float> x = distinctFloats(elementsOf(kMap), 600);
  for (const PoolCase& c : kMaxPoolCases)
    expectConformsOnStrips({"maxpool", {whole(kMap, x)}, {result(c.y(kMap))}, c.attrs}, windowRows(c.axis(0), kMap[2]),
                           kExact);
}

TEST_P(BackendConformance, MaxPoolGrad) {
  const std::vector<float> x = distinctFloats(elementsOf(kMap), 610);
  uint32_t seed = 611;
  for (const PoolCase& c : kMaxPoolCases) {
    const std::vector<float> dy = randomFloats(elementsOf(c.y(kMap)), seed++);
    expectConformsOnGradRows({"maxpool_grad", {whole(c.y(kMap), dy), whole(kMap, x)}, {result(kMap)}, c.attrs},
                             windowRows(c.axis(0), kMap[2]), {1}, true, kFewTerms);
  }
}

TEST_P(BackendConformance, AvgPool) {
  const std::vector<float> x = randomFloats(elementsOf(kMap), 620);
  for (const PoolCase& c : kAvgPoolCases)
    expectConformsOnStrips({"avgpool", {whole(kMap, x)}, {result(c.y(kMap))}, c.attrs}, windowRows(c.axis(0), kMap[2]),
                           kFewTerms);
}

TEST_P(BackendConformance, AvgPoolGrad) {
  uint32_t seed = 630;
  for (const PoolCase& c : kAvgPoolCases) {
    const std::vector<float> dy = randomFloats(elementsOf(c.y(kMap)), seed++);
    expectConformsOnGradRows(
        {"avgpool_grad", {whole(c.y(kMap), dy)}, {result(kMap)}, with(c.attrs, "input_shape", kMap)},
        windowRows(c.axis(0), kMap[2]), {}, true, kFewTerms);
  }
}

// ---- resize (ops/Resize.h) ----

// coord (0 half_pixel, 1 pytorch_half_pixel, 2 align_corners, 3 asymmetric), mode (0 nearest,
// 1 linear), nearest_mode (0 round_prefer_floor, 1 round_prefer_ceil, 2 floor, 3 ceil), the
// scales and the output size, of kMap's 7x9.
struct ResizeCase {
  int64_t coord, mode, nearest;
  double sh, sw;
  int64_t oh, ow;
  IntAttrs ints() const { return {{"coord", {coord}}, {"mode", {mode}}, {"nearest_mode", {nearest}}, {"size", {oh, ow}}}; }
  FloatAttrs floats() const { return {{"scales", {sh, sw}}}; }
  Shape y() const { return {kMap[0], kMap[1], oh, ow}; }
  RowMap rows() const {
    const kernels::ResizeParams p = {{kMap[2], oh, sh, ops::ResizeCoord(coord), mode == 1, ops::ResizeNearest(nearest)},
                                     {kMap[3], ow, sw, ops::ResizeCoord(coord), mode == 1, ops::ResizeNearest(nearest)}};
    return [p](RowRange r) { return kernels::resize_input_rows(p, r.begin, r.end); };
  }
};

const ResizeCase kResizeCases[] = {
    {0, 1, 0, 2.0, 2.0, 14, 18},         // bilinear x2 (F.interpolate, align_corners=False)
    {3, 0, 2, 2.0, 3.0, 14, 27},         // nearest x2, x3 (F.interpolate's nearest)
    {2, 1, 0, 13.0 / 7, 5.0 / 9, 13, 5},  // align_corners, up and down (sizes)
    {0, 0, 1, 1.5, 1.5, 10, 13},         // nearest round_prefer_ceil, fractional
    {1, 1, 0, 0.6, 0.5, 4, 4},           // pytorch_half_pixel, downsampled
    {3, 0, 3, 0.5, 0.75, 3, 6},          // nearest ceil, asymmetric, downsampled
};

TEST_P(BackendConformance, Resize) {
  const std::vector<float> x = randomFloats(elementsOf(kMap), 700);
  for (const ResizeCase& c : kResizeCases)
    expectConformsOnStrips({"resize", {whole(kMap, x)}, {result(c.y())}, c.ints(), c.floats()}, c.rows(), kFewTerms);
}

TEST_P(BackendConformance, ResizeGrad) {
  uint32_t seed = 710;
  for (const ResizeCase& c : kResizeCases) {
    const std::vector<float> dy = randomFloats(elementsOf(c.y()), seed++);
    expectConformsOnGradRows({"resize_grad", {whole(c.y(), dy)}, {result(kMap)}, with(c.ints(), "input_shape", kMap), c.floats()},
                             c.rows(), {}, true, kFewTerms);
  }
}

TEST_P(BackendConformance, GlobalAvgPool) {
  uint32_t seed = 640;
  for (const Shape& x : {kMap, Shape{1, 4, 13, 2}, Shape{2, 3, 1, 1}}) {
    const std::vector<float> v = randomFloats(elementsOf(x), seed++);
    expectConforms({"global_avgpool", {whole(x, v)}, {result({x[0], x[1], 1, 1})}}, kManyTerms);
  }
}

TEST_P(BackendConformance, GlobalAvgPoolGrad) {
  uint32_t seed = 650;
  for (const Shape& x : {kMap, Shape{1, 4, 13, 2}, Shape{2, 3, 1, 1}}) {
    const std::vector<float> dy = randomFloats(x[0] * x[1], seed++);
    expectConforms({"global_avgpool_grad", {whole({x[0], x[1], 1, 1}, dy)}, {result(x)}, {{"input_shape", x}}},
                   kFewTerms);
  }
}

TEST_P(BackendConformance, Pad) {
  const std::vector<float> x = randomFloats(elementsOf(kMap), 660);
  const std::pair<std::vector<int64_t>, double> cases[] = {
      {{1, 0, 2, 1, 0, 2, 1, 3}, 0.5},         // every axis padded, N and C too
      {{0, -1, -2, 0, -1, 0, -1, -3}, 0.0},    // negative pads crop (a pad's backward)
      {{0, 0, 2, -1, 0, 0, -3, 2}, -1.5},      // rows padded above and cropped below
  };
  for (const auto& [pads, value] : cases) {
    Shape y = kMap;
    kernels::PadParams p;
    p.value = static_cast<float>(value);
    for (size_t i = 0; i < 8; ++i) p.pads[i] = pads[i];
    for (size_t i = 0; i < 4; ++i) y[i] += pads[i] + pads[i + 4];
    expectConformsOnStrips({"pad", {whole(kMap, x)}, {result(y)}, {{"pads", pads}}, {{"value", value}}},
                           [&](RowRange r) { return kernels::pad_input_rows(p, r.begin, r.end, kMap[2]); }, kExact);
  }
}

// ---- BatchNorm ----

// A BatchNorm's operands besides the map: scale, bias, running mean and variance.
struct Channels {
  std::vector<float> scale, bias, mean, var;
  explicit Channels(int64_t c, uint32_t seed)
      : scale(randomFloats(c, seed)),
        bias(randomFloats(c, seed + 1)),
        mean(randomFloats(c, seed + 2)),
        var(randomFloats(c, seed + 3, 0.5f, 2.0f)) {}
};

TEST_P(BackendConformance, BatchNorm) {
  const FloatAttrs floats = {{"epsilon", 1e-5}, {"momentum", 0.9}};
  uint32_t seed = 700;
  for (const Shape& x : {kMap, Shape{7, 5}, Shape{3, 5, 7}}) {
    const std::vector<float> v = randomFloats(elementsOf(x), seed++);
    const Channels ch(x[1], seed);
    seed += 4;
    const Shape c = {x[1]};
    const std::vector<Arg> inputs = {whole(x, v), whole(c, ch.scale), whole(c, ch.bias), whole(c, ch.mean),
                                     whole(c, ch.var)};
    // Training: the batch statistics, the running statistics (operands 3 and 4) updated in
    // place, or not (update_stats=0, a strip's recompute).
    expectConforms({"batchnorm", inputs, {result(x)}, {{"training", {1}}}, floats}, kManyTerms);
    expectConforms({"batchnorm", inputs, {result(x)}, {{"training", {1}}, {"update_stats", {0}}}, floats}, kManyTerms);
    const Case frozen{"batchnorm", inputs, {result(x)}, {{"training", {0}}}, floats};
    if (x.size() == 4)
      expectConformsOnStrips(frozen, sameRows, kFewTerms);
    else
      expectConforms(frozen, kFewTerms);
  }
  // Training on a band (--bn strip): the statistics of the rows it holds.
  const std::vector<float> v = randomFloats(elementsOf(kMap), seed++);
  const Channels ch(kMap[1], seed);
  const Shape c = {kMap[1]};
  for (RowRange r : {RowRange{2, 5}, RowRange{0, 3}, RowRange{6, 7}})
    for (int64_t update : {1, 0})
      expectConforms({"batchnorm",
                      {band(kMap, v, r), whole(c, ch.scale), whole(c, ch.bias), whole(c, ch.mean), whole(c, ch.var)},
                      {result(kMap, r)},
                      {{"training", {1}}, {"update_stats", {update}}},
                      floats},
                     kManyTerms);
}

TEST_P(BackendConformance, BatchNormGrad) {
  uint32_t seed = 750;
  for (const Shape& x : {kMap, Shape{7, 5}, Shape{3, 5, 7}}) {
    const std::vector<float> dy = randomFloats(elementsOf(x), seed++), v = randomFloats(elementsOf(x), seed++);
    const Channels ch(x[1], seed);
    seed += 4;
    const Shape c = {x[1]};
    const std::vector<Arg> inputs = {whole(x, dy), whole(x, v), whole(c, ch.scale), whole(c, ch.mean),
                                     whole(c, ch.var)};
    const std::vector<Arg> outputs = {result(x), result(c), result(c)};
    expectConforms({"batchnorm_grad", inputs, outputs, {{"training", {1}}}, {{"epsilon", 1e-5}}}, kManyTerms);
    const Case frozen{"batchnorm_grad", inputs, outputs, {{"training", {0}}}, {{"epsilon", 1e-5}}};
    if (x.size() == 4)
      expectConformsOnGradRows(frozen, sameRows, {1}, true, kManyTerms);
    else
      expectConforms(frozen, kManyTerms);
  }
  // Training on bands (--bn strip): dy, x and dx hold the same rows; `rows`, if given, is them.
  const std::vector<float> dy = randomFloats(elementsOf(kMap), seed++), v = randomFloats(elementsOf(kMap), seed++);
  const Channels ch(kMap[1], seed);
  const Shape c = {kMap[1]};
  for (RowRange r : {RowRange{2, 5}, RowRange{0, 3}, RowRange{6, 7}})
    for (bool rowsAttr : {false, true}) {
      IntAttrs ints = {{"training", {1}}};
      if (rowsAttr) ints.push_back({"rows", {r.begin, r.end}});
      expectConforms({"batchnorm_grad",
                      {band(kMap, dy, r), band(kMap, v, r), whole(c, ch.scale), whole(c, ch.mean), whole(c, ch.var)},
                      {result(kMap, r), result(c), result(c)},
                      ints,
                      {{"epsilon", 1e-5}}},
                     kManyTerms);
    }
}

// layer_norm and its gradient over the last axis, the last two, and all (axis 0), with and
// without a bias; and over the channel axis only, on row bands.
TEST_P(BackendConformance, LayerNorm) {
  uint32_t seed = 790;
  for (int64_t axis : {3, 2, 0}) {
    SCOPED_TRACE(axis);
    const Shape normalized(kMap.begin() + axis, kMap.end());
    const std::vector<float> x = randomFloats(elementsOf(kMap), seed++, -2.0f, 3.0f), dy = randomFloats(elementsOf(kMap), seed++),
                             scale = randomFloats(elementsOf(normalized), seed++),
                             bias = randomFloats(elementsOf(normalized), seed++);
    const IntAttrs ints = {{"axis", {axis}}, {"end", {static_cast<int64_t>(kMap.size())}}};
    const FloatAttrs floats = {{"epsilon", 1e-5}};
    expectConforms({"layer_norm", {whole(kMap, x), whole(normalized, scale), whole(normalized, bias)}, {result(kMap)},
                    ints, floats},
                   kManyTerms);
    expectConforms({"layer_norm", {whole(kMap, x), whole(normalized, scale)}, {result(kMap)}, ints, floats}, kManyTerms);
    expectConforms({"layer_norm_grad", {whole(kMap, dy), whole(kMap, x), whole(normalized, scale)},
                    {result(kMap), result(normalized), result(normalized)}, ints, floats},
                   kManyTerms);
  }
  // Over the channels only (axis=1, end=2: canonicalize's form of a channels-last LayerNorm):
  // row-local, on strips, and its gradient on dy's rows (dscale and dbias over those rows).
  const Shape c = {kMap[1]};
  const std::vector<float> x = randomFloats(elementsOf(kMap), seed++, -2.0f, 3.0f), dy = randomFloats(elementsOf(kMap), seed++),
                           scale = randomFloats(kMap[1], seed++), bias = randomFloats(kMap[1], seed++);
  const IntAttrs ints = {{"axis", {1}}, {"end", {2}}};
  const FloatAttrs floats = {{"epsilon", 1e-5}};
  expectConformsOnStrips({"layer_norm", {whole(kMap, x), whole(c, scale), whole(c, bias)}, {result(kMap)}, ints, floats},
                         sameRows, kManyTerms);
  expectConformsOnGradRows({"layer_norm_grad", {whole(kMap, dy), whole(kMap, x), whole(c, scale)},
                            {result(kMap), result(c), result(c)}, ints, floats},
                           sameRows, {1}, true, kManyTerms);
}

// The split training BatchNorm (batchnorm_stats, batchnorm_apply and their gradients): mean and
// inverse std are plan tensors; the apply is row-local and its gradient's sums cover dy's rows.
TEST_P(BackendConformance, BatchNormSplit) {
  uint32_t seed = 780;
  for (const Shape& x : {kMap, Shape{7, 5}, Shape{3, 5, 7}}) {
    const Shape c = {x[1]};
    const std::vector<float> v = randomFloats(elementsOf(x), seed++), dy = randomFloats(elementsOf(x), seed++),
                             acc = randomFloats(elementsOf(x), seed++);
    const Channels ch(x[1], seed);
    seed += 4;
    const std::vector<float> invstd = randomFloats(x[1], seed++, 0.5f, 2.0f), dmean = randomFloats(x[1], seed++),
                             dinvstd = randomFloats(x[1], seed++);
    // Statistics: the running statistics (operands 1 and 2) updated in place.
    expectConforms({"batchnorm_stats", {whole(x, v), whole(c, ch.mean), whole(c, ch.var)}, {result(c), result(c)}, {},
                    {{"epsilon", 1e-5}, {"momentum", 0.9}}},
                   kManyTerms);
    const Case apply{"batchnorm_apply",
                     {whole(x, v), whole(c, ch.scale), whole(c, ch.bias), whole(c, ch.mean), whole(c, invstd)},
                     {result(x)}};
    const Case applyGrad{"batchnorm_apply_grad",
                         {whole(x, dy), whole(x, v), whole(c, ch.scale), whole(c, ch.mean), whole(c, invstd)},
                         {result(x), result(c), result(c), result(c), result(c)}};
    // With the ReLU fused (relu=1): the gradient reads the bias too, to recompute the mask.
    Case applyRelu = apply, applyGradRelu = applyGrad;
    applyRelu.ints.push_back({"relu", {1}});
    applyGradRelu.ints.push_back({"relu", {1}});
    applyGradRelu.inputs.push_back(whole(c, ch.bias));
    for (const Case* fwd : std::initializer_list<const Case*>{&apply, &applyRelu})
      x.size() == 4 ? expectConformsOnStrips(*fwd, sameRows, kFewTerms) : expectConforms(*fwd, kFewTerms);
    for (const Case* bwd : std::initializer_list<const Case*>{&applyGrad, &applyGradRelu})
      x.size() == 4 ? expectConformsOnGradRows(*bwd, sameRows, {1}, true, kManyTerms) : expectConforms(*bwd, kManyTerms);
    std::vector<Arg> statsGrad = {whole(x, v), whole(c, ch.mean), whole(c, invstd), whole(c, dmean), whole(c, dinvstd)};
    expectConforms({"batchnorm_stats_grad", statsGrad, {result(x)}}, kFewTerms);
    statsGrad.push_back(whole(x, acc));
    expectConforms({"batchnorm_stats_grad", statsGrad, {result(x)}}, kFewTerms);
    if (x.size() != 4) continue;
    // On a band (a recomputed reduction point's backward strip): x and acc hold the result's
    // rows (x more), M is the whole map's N*H*W.
    for (RowRange r : {RowRange{2, 5}, RowRange{0, 3}, RowRange{6, 7}})
      expectConforms({"batchnorm_stats_grad",
                      {band(x, v, {std::max<int64_t>(r.begin - 1, 0), r.end}), whole(c, ch.mean), whole(c, invstd),
                       whole(c, dmean), whole(c, dinvstd), band(x, acc, r)},
                      {result(x, r)}},
                     kFewTerms);
  }
}

// ---- dense ----

TEST_P(BackendConformance, Gemm) {
  const int64_t M = 7, K = 13, N = 9;
  const std::vector<float> a = randomFloats(M * K, 800), b = randomFloats(K * N, 801);
  const std::vector<Shape> biases = {{}, {1}, {N}, {1, N}, {M, 1}, {M, N}};
  std::vector<std::vector<float>> c;
  for (const Shape& s : biases) c.push_back(randomFloats(elementsOf(s), 802 + static_cast<uint32_t>(c.size())));
  for (bool transA : {false, true})
    for (bool transB : {false, true}) {
      const Arg A = whole(transA ? Shape{K, M} : Shape{M, K}, a), B = whole(transB ? Shape{N, K} : Shape{K, N}, b);
      const IntAttrs ints = {{"transA", {transA}}, {"transB", {transB}}};
      expectConforms({"gemm", {A, B}, {result({M, N})}, ints, {{"alpha", 1.0}, {"beta", 1.0}}}, kManyTerms);
      for (size_t i = 0; i < biases.size(); ++i)
        expectConforms({"gemm", {A, B, whole(biases[i], c[i])}, {result({M, N})}, ints, {{"alpha", 0.7}, {"beta", -1.3}}},
                       kManyTerms);
      // beta = 0: C is not added.
      expectConforms(
          {"gemm", {A, B, whole({M, N}, c.back())}, {result({M, N})}, ints, {{"alpha", 1.0}, {"beta", 0.0}}},
          kManyTerms);
    }
}

TEST_P(BackendConformance, MatMul) {
  const std::pair<Shape, Shape> cases[] = {{{7, 13}, {13, 9}}, {{1, 13}, {13, 1}}, {{13, 1}, {1, 9}}};
  uint32_t seed = 810;
  for (const auto& [sa, sb] : cases) {
    const std::vector<float> a = randomFloats(elementsOf(sa), seed++), b = randomFloats(elementsOf(sb), seed++);
    expectConforms({"matmul", {whole(sa, a), whole(sb, b)}, {result({sa[0], sb[1]})}}, kManyTerms);
  }
}

TEST_P(BackendConformance, Softmax) {
  const std::vector<float> x = randomFloats(elementsOf(kMap), 820, -4.0f, 4.0f), flat = randomFloats(77, 821, -4.0f, 4.0f);
  for (int64_t axis : {0, 1, 2, 3})
    expectConforms({"softmax", {whole(kMap, x)}, {result(kMap)}, {{"axis", {axis}}}}, kFewTerms);
  for (int64_t axis : {0, 1})
    expectConforms({"softmax", {whole({7, 11}, flat)}, {result({7, 11})}, {{"axis", {axis}}}}, kFewTerms);
}

// Logits and their labels, one per row, in [0, classes).
struct Batch {
  std::vector<float> logits;
  std::vector<int64_t> labels;
  Batch(int64_t n, int64_t classes, uint32_t seed) : logits(randomFloats(n * classes, seed, -4.0f, 4.0f)) {
    std::mt19937 gen(seed);
    for (int64_t i = 0; i < n; ++i) labels.push_back(static_cast<int64_t>(gen() % static_cast<uint32_t>(classes)));
  }
};

TEST_P(BackendConformance, SoftmaxXent) {
  for (const Shape& s : {Shape{7, 11}, Shape{13, 3}, Shape{1, 1}}) {
    const Batch batch(s[0], s[1], 830);
    expectConforms({"softmax_xent", {whole(s, batch.logits), labels(batch.labels)}, {result({})}}, kFewTerms);
  }
}

TEST_P(BackendConformance, SoftmaxXentGrad) {
  for (const Shape& s : {Shape{7, 11}, Shape{13, 3}, Shape{1, 1}}) {
    const Batch batch(s[0], s[1], 840);
    expectConforms({"softmax_xent_grad", {whole(s, batch.logits), labels(batch.labels)}, {result(s)}}, kFewTerms);
  }
}

// The per-pixel loss on logits [N,K,H,W] and label maps with ignored pixels (ignore_index
// 255 here, -100 by default), and one where every pixel is ignored (NaN loss, zero gradient).
struct PixelBatch {
  Shape x;
  std::vector<float> logits;
  std::vector<int64_t> labels;
  PixelBatch(const Shape& s, uint32_t seed, int64_t ignore, bool allIgnored = false)
      : x(s), logits(randomFloats(elementsOf(s), seed, -4.0f, 4.0f)) {
    std::mt19937 gen(seed);
    for (int64_t i = 0; i < s[0] * s[2] * s[3]; ++i)
      labels.push_back(allIgnored || gen() % 5 == 0 ? ignore : static_cast<int64_t>(gen() % static_cast<uint32_t>(s[1])));
  }
  Arg labelMaps() const { return {{x[0], x[2], x[3]}, nullptr, std::nullopt, &labels}; }
};

TEST_P(BackendConformance, PixelXentAndGrad) {
  for (const Shape& s : {Shape{2, 5, 7, 6}, Shape{1, 3, 1, 9}, Shape{3, 1, 2, 2}})
    for (int64_t ignore : {int64_t{255}, int64_t{-100}}) {
      const PixelBatch batch(s, 860, ignore);
      const IntAttrs attrs = {{"ignore_index", {ignore}}};
      expectConforms({"pixel_xent", {whole(s, batch.logits), batch.labelMaps()}, {result({})}, attrs}, kFewTerms);
      expectConforms({"pixel_xent_grad", {whole(s, batch.logits), batch.labelMaps()}, {result(s)}, attrs}, kFewTerms);
    }
  const Shape s = {2, 3, 2, 2};
  const PixelBatch none(s, 861, -100, /*allIgnored=*/true);
  const IntAttrs attrs = {{"ignore_index", {-100}}};
  expectConforms({"pixel_xent_grad", {whole(s, none.logits), none.labelMaps()}, {result(s)}, attrs}, kExact);
  const HandPlan p = oneStepPlan("pixel_xent", {whole(s, none.logits), none.labelMaps()}, {result({})}, attrs, {});
  const std::unique_ptr<Backend> device = backend();
  const StepRun run = runPlanStep(*device, p, {whole(s, none.logits), none.labelMaps()});
  EXPECT_TRUE(std::isnan(run.results.at(0).at(0))) << "every pixel ignored: PyTorch's 0/0";
}

// On a band of the logits (the loss inside a row pipeline): the labels whole, the count over all
// of them; the loss the band's share, the gradient the band's rows (`rows` them). Rows [0, 2)
// have every pixel ignored (that band's loss is 0, its gradient 0).
TEST_P(BackendConformance, PixelXentOnBands) {
  const Shape s = {2, 5, 7, 6};
  PixelBatch batch(s, 863, 255);
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t i = 0; i < 2 * s[3]; ++i) batch.labels[static_cast<size_t>(n * s[2] * s[3] + i)] = 255;
  for (RowRange r : {RowRange{0, 2}, RowRange{2, 5}, RowRange{5, 7}}) {
    const IntAttrs attrs = {{"ignore_index", {255}}};
    const IntAttrs gradAttrs = {{"ignore_index", {255}}, {"rows", {r.begin, r.end}}};
    expectConforms({"pixel_xent", {band(s, batch.logits, r), batch.labelMaps()}, {result({})}, attrs}, kFewTerms);
    expectConforms({"pixel_xent_grad", {band(s, batch.logits, r), batch.labelMaps()}, {result(s, r)}, gradAttrs},
                   kFewTerms);
  }
  // The gradient's rows must be the logits band's.
  const HandPlan wrong = oneStepPlan("pixel_xent_grad", {band(s, batch.logits, {2, 5}), batch.labelMaps()},
                                     {result(s, RowRange{2, 4})}, {{"ignore_index", {255}}}, {});
  EXPECT_NE(wrong.validationError().find("the gradient has the logits' rows"), std::string::npos)
      << wrong.validationError();
}

// A label outside [0, classes) that is not the ignore index is an error, as for softmax_xent.
TEST_P(BackendConformance, PixelXentBadLabelIsAnError) {
  const Shape s = {2, 3, 2, 2};
  const std::vector<float> z = randomFloats(elementsOf(s), 862);
  const std::vector<int64_t> l = {0, 1, 2, 255, 1, 3, 0, 0};  // 255 ignored, 3 >= K
  const Arg maps = {{2, 2, 2}, nullptr, std::nullopt, &l};
  for (const char* kernel : {"pixel_xent", "pixel_xent_grad"}) {
    const HandPlan p = oneStepPlan(kernel, {whole(s, z), maps}, {result(std::string(kernel) == "pixel_xent" ? Shape{} : s)},
                                   {{"ignore_index", {255}}}, {});
    ASSERT_EQ(p.validationError(), "");
    const std::unique_ptr<Backend> device = backend();
    try {
      runPlanStep(*device, p, {whole(s, z), maps});
      ADD_FAILURE() << kernel << ": label 3 gave no error";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("label 3 of sample 1"), std::string::npos) << e.what();
    }
  }
}

// A label outside [0, classes) is an error, reported by synchronize() at the latest (a
// device reports it from its kernel).
TEST_P(BackendConformance, BadLabelIsAnError) {
  const Shape s = {7, 11};
  const std::vector<float> z = randomFloats(77, 850);
  for (const char* kernel : {"softmax_xent", "softmax_xent_grad"})
    for (int64_t bad : {int64_t{11}, int64_t{-1}}) {
      const std::vector<int64_t> l = {0, 3, 10, bad, 1, 2, 5};
      const std::vector<Arg> inputs = {whole(s, z), labels(l)};
      const HandPlan p = oneStepPlan(kernel, inputs, {result(std::string(kernel) == "softmax_xent" ? Shape{} : s)}, {}, {});
      ASSERT_EQ(p.validationError(), "");
      const std::unique_ptr<Backend> device = backend();
      try {
        runPlanStep(*device, p, inputs);  // run, then synchronize
        ADD_FAILURE() << kernel << ": label " << bad << " gave no error";
      } catch (const std::runtime_error& e) {
        const std::string want = "label " + std::to_string(bad) + " of sample 3 is outside [0, 11)";
        EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
      }
    }
}

// ---- dropout ----

TEST_P(BackendConformance, Dropout) {
  const std::vector<float> x = randomFloats(elementsOf(kMap), 900), flat = randomFloats(77, 901);
  RunContext context;
  context.step = 5;
  context.seed = 3;
  for (int64_t training : {1, 0}) {
    const IntAttrs ints = {{"training", {training}}, {"seed", {42}}};
    const FloatAttrs ratio = {{"ratio", 0.3}};
    expectConformsOnStrips({"dropout", {whole(kMap, x)}, {result(kMap)}, ints, ratio, context}, sameRows, kExact);
    expectConforms({"dropout", {whole({7, 11}, flat)}, {result({7, 11})}, ints, ratio, context}, kExact);
  }
}

TEST_P(BackendConformance, DropoutGrad) {
  const std::vector<float> dy = randomFloats(elementsOf(kMap), 910);
  RunContext context;
  context.step = 2;
  context.seed = 11;
  for (int64_t training : {1, 0})
    expectConformsOnGradRows(
        {"dropout_grad", {whole(kMap, dy)}, {result(kMap)}, {{"training", {training}}, {"seed", {7}}},
         {{"ratio", 0.4}}, context},
        sameRows, {}, true, kExact);
}

// ---- the optimizer ----

// The updates have no results: they update their operands in place, the parameter (0) and
// the optimizer's state (2...; runtime/kernels/Optimizer.h).
TEST_P(BackendConformance, SgdUpdate) {
  const Shape s = {5, 3, 3, 3};
  const std::vector<float> param = randomFloats(elementsOf(s), 950), grad = randomFloats(elementsOf(s), 951),
                           velocity = randomFloats(elementsOf(s), 952);
  for (double momentum : {0.0, 0.9})
    for (double decay : {0.0, 5e-4})
      for (bool nesterov : {false, true}) {
        if (nesterov && momentum == 0) continue;
        RunContext context;
        context.optimizer.lr = 0.1;
        context.optimizer.momentum = momentum;
        context.optimizer.weightDecay = decay;
        context.optimizer.nesterov = nesterov;
        expectConforms({"sgd_update", {whole(s, param), whole(s, grad), whole(s, velocity)}, {}, {}, {}, context},
                       kFewTerms);
      }
}

// AdamW at its first step (step count 0: the largest bias corrections) and a later one, with
// and without decoupled weight decay; the step count (operand 4) is compared too.
TEST_P(BackendConformance, AdamwUpdate) {
  const Shape s = {7, 3, 5};
  std::vector<float> secondMoment = randomFloats(elementsOf(s), 972);
  for (float& v : secondMoment) v = v * v;  // a second moment is never negative
  const std::vector<float> param = randomFloats(elementsOf(s), 970), grad = randomFloats(elementsOf(s), 971),
                           firstMoment = randomFloats(elementsOf(s), 973);
  for (float count : {0.0f, 6.0f})
    for (double decay : {0.0, 1e-2}) {
      const std::vector<float> step = {count};
      const std::vector<float> zeros(param.size(), 0.0f);
      RunContext context;
      context.optimizer.lr = 1e-2;
      context.optimizer.weightDecay = decay;
      context.optimizer.beta1 = 0.8;
      context.optimizer.beta2 = 0.99;
      context.optimizer.eps = 1e-6;
      const bool first = count == 0;  // torch's state then: zero moments
      expectConforms({"adamw_update",
                      {whole(s, param), whole(s, grad), whole(s, first ? zeros : firstMoment),
                       whole(s, first ? zeros : secondMoment), whole({}, step)},
                      {}, {}, {}, context},
                     kFewTerms);
    }
}

// ---- the accumulating forms (attribute accumulate=1, ops::canAccumulate) and the fused SGD
// update (passes/FuseSgdGrads.cpp) ----

// A weight-gradient step's accumulating form: its result's tensor becomes its last operand,
// holding `start`. The reference: on the CPU backend it must end as start + the ordinary
// step's result; the backend under test must agree with the CPU backend.
void expectAccumulates(const BackendConformance& test, const Case& ordinary, const std::vector<float>& start,
                       double tolerance);

TEST_P(BackendConformance, AccumulatingForms) {
  uint32_t seed = 1200;
  std::vector<Case> cases;
  std::vector<std::vector<float>> data;
  data.reserve(64);  // Args point into it
  auto values = [&](const Shape& s) -> const std::vector<float>& {
    data.push_back(randomFloats(elementsOf(s), seed++));
    return data.back();
  };
  for (const ConvCase& c : {kConvCases[0], kConvCases[2], kConvCases[6]}) {
    const IntAttrs attrs = with(c.attrs, "kernel", {c.w[2], c.w[3]});
    cases.push_back({"conv2d_grad_weight", {whole(c.y(), values(c.y())), whole(c.x, values(c.x))}, {result(c.w)}, attrs});
    // A strip's contribution: operand bands and the rows it propagates.
    const Shape y = c.y();
    const RowRange r{1, y[2] - 1};
    Case strip = cases.back();
    strip.inputs[0] = band(y, *cases.back().inputs[0].values, r);
    strip.inputs[1] = band(c.x, *cases.back().inputs[1].values, widened(windowRows(c.axis(0), c.x[2])(r), 0, c.x[2]));
    strip.ints = with(attrs, "rows", {r.begin, r.end});
    cases.push_back(strip);
  }
  for (const ConvTCase& c : {kConvTCases[0], kConvTCases[1]})
    cases.push_back({"conv_transpose2d_grad_weight", {whole(c.y(), values(c.y())), whole(c.x, values(c.x))},
                     {result(c.w)}, with(c.attrs, "kernel", {c.w[2], c.w[3]})});
  for (const Shape& dy : {Shape{3, 5, 7, 9}, Shape{2, 9, 5, 2}})
    cases.push_back({"channel_sum", {whole(dy, values(dy))}, {result({dy[1]})}});
  const int64_t M = 7, K = 13, N = 9;
  for (bool transA : {false, true})
    for (bool transB : {false, true})
      cases.push_back({"gemm",
                       {whole(transA ? Shape{K, M} : Shape{M, K}, values({M, K})),
                        whole(transB ? Shape{N, K} : Shape{K, N}, values({K, N}))},
                       {result({M, N})},
                       {{"transA", {transA}}, {"transB", {transB}}},
                       {{"alpha", 0.7}, {"beta", 0.0}}});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.kernel);
    expectAccumulates(*this, c, randomFloats(elementsOf(c.outputs[0].shape), seed++), kManyTerms);
  }
}

void expectAccumulates(const BackendConformance& test, const Case& ordinary, const std::vector<float>& start,
                       double tolerance) {
  CpuBackend cpu;
  const HandPlan plain = oneStepPlan(ordinary.kernel, ordinary.inputs, ordinary.outputs, ordinary.ints, ordinary.floats);
  ASSERT_EQ(plain.validationError(), "");
  const std::vector<float> contribution = runPlanStep(cpu, plain, ordinary.inputs).results.at(0);

  Case acc = ordinary;
  acc.inputs.push_back(whole(ordinary.outputs[0].shape, start));
  acc.outputs.clear();
  acc.ints = with(acc.ints, "accumulate", {1});
  const HandPlan p = oneStepPlan(acc.kernel, acc.inputs, acc.outputs, acc.ints, acc.floats);
  ASSERT_EQ(p.validationError(), "");
  CpuBackend reference;
  const std::vector<float> added = runPlanStep(reference, p, acc.inputs).operands.back();
  std::vector<float> want(start.size());
  for (size_t i = 0; i < start.size(); ++i) want[i] = start[i] + contribution[i];
  EXPECT_LE(normalizedError(added, want), tolerance) << "the CPU's accumulating form against start + the result";
  test.expectConformsPublic(acc, tolerance);
}

// sgd_momentum_scale, contributions added into the buffer, sgd_apply: the parameter and the
// buffer sgd_update gives (runtime/kernels/Optimizer.h), momentum 0 (the buffer left 0) too;
// each fused step on the backend under test as on the CPU. Nesterov is refused.
TEST_P(BackendConformance, SgdFusedSteps) {
  const Shape s = {5, 3, 3, 3};
  const int64_t n = elementsOf(s);
  const std::vector<float> param = randomFloats(n, 1250), grad0 = randomFloats(n, 1251), grad1 = randomFloats(n, 1252),
                           velocity = randomFloats(n, 1253);
  for (double momentum : {0.0, 0.9})
    for (double decay : {0.0, 5e-4}) {
      RunContext context;
      context.optimizer.lr = 0.1;
      context.optimizer.momentum = momentum;
      context.optimizer.weightDecay = decay;
      // The reference: sgd_update with the summed gradient (a zero buffer at momentum 0, as
      // torch keeps none).
      std::vector<float> wantParam = param, wantBuf = momentum == 0 ? std::vector<float>(n, 0.0f) : velocity, sum(n);
      for (int64_t i = 0; i < n; ++i) sum[i] = grad0[i] + grad1[i];
      cpu::sgd_update(wantParam.data(), wantBuf.data(), sum.data(), n, context.optimizer);
      // The fused form on the CPU's kernels.
      std::vector<float> gotParam = param, gotBuf = velocity;
      cpu::sgd_momentum_scale(gotBuf.data(), n, context.optimizer);
      for (int64_t i = 0; i < n; ++i) gotBuf[i] += grad0[i];
      for (int64_t i = 0; i < n; ++i) gotBuf[i] += grad1[i];
      cpu::sgd_apply(gotParam.data(), gotBuf.data(), n, context.optimizer);
      EXPECT_LE(normalizedError(gotParam, wantParam), kFewTerms) << "momentum " << momentum << " decay " << decay;
      EXPECT_LE(normalizedError(gotBuf, wantBuf), kFewTerms) << "momentum " << momentum << " decay " << decay;
      expectConforms({"sgd_momentum_scale", {whole(s, velocity)}, {}, {}, {}, context}, kExact);
      expectConforms({"sgd_apply", {whole(s, param), whole(s, velocity)}, {}, {}, {}, context}, kFewTerms);
    }
  // Nesterov momentum has no fused form: each half refuses it naming itself, on both backends.
  RunContext nesterov;
  nesterov.optimizer.lr = 0.1;
  nesterov.optimizer.momentum = 0.9;
  nesterov.optimizer.nesterov = true;
  for (const char* kernel : {"sgd_momentum_scale", "sgd_apply"}) {
    const std::vector<Arg> inputs = std::string(kernel) == "sgd_apply"
                                        ? std::vector<Arg>{whole(s, param), whole(s, velocity)}
                                        : std::vector<Arg>{whole(s, velocity)};
    const HandPlan p = oneStepPlan(kernel, inputs, {}, {}, {});
    ASSERT_EQ(p.validationError(), "");
    CpuBackend cpu;
    const std::unique_ptr<Backend> device = backend();
    for (Backend* b : {static_cast<Backend*>(&cpu), device.get()}) {
      try {
        runPlanStep(*b, p, inputs, nesterov);
        ADD_FAILURE() << kernel << ": Nesterov gave no error";
      } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find(std::string(kernel) + ": Nesterov momentum needs the gradient apart"),
                  std::string::npos)
            << e.what();
      }
    }
  }
}


// ---- row assembly ----

// ---- data parallel (runtime/Collective.h; a fake second rank) ----

// allreduce_start then allreduce_wait: each operand averaged in place with the other rank's.
TEST_P(BackendConformance, Allreduce) {
  FakeTwoRanks ranks;
  RunContext context;
  context.collective = &ranks;
  const Shape a = {5, 3, 7}, b = {4};
  const std::vector<float> va = randomFloats(elementsOf(a), 990), vb = randomFloats(elementsOf(b), 991);
  expectConforms({"allreduce_start", {whole(a, va), whole(b, vb)}, {}, {{"bucket", {3}}}, {}, context, "allreduce_wait"},
                 kExact);
  EXPECT_EQ(ranks.started, 4);  // two operands on each of the two backends
  EXPECT_EQ(ranks.waited, 2);
}

// A job of one rank, on a backend made for it: on the GPU the averages go through NCCL (a
// communicator of one: its set-up, its stream and the bucket's event, on device buffers), which
// leaves the tensors as they were; cuda-emulated has no NCCL and goes through the host.
TEST_P(BackendConformance, AllreduceOneRankOnItsDevice) {
  FakeOneRank one;
  CudaOptions options;
  options.collective = &one;
  const std::unique_ptr<Backend> device = GetParam() == "cuda" ? makeCudaBackend(options) : makeEmulatedCudaBackend();
  RunContext context;
  context.collective = &one;
  const Shape a = {6, 5, 7};
  const std::vector<float> va = randomFloats(elementsOf(a), 993);
  const HandPlan p = oneStepPlan("allreduce_start", {whole(a, va)}, {}, {{"bucket", {0}}}, {});
  ASSERT_EQ(p.validationError(), "");
  const StepRun got = runPlanStep(*device, p, {whole(a, va)}, context, "allreduce_wait");
  EXPECT_EQ(got.operands[0], va);
  if (GetParam() == "cuda") {
    EXPECT_NE(device->memoryReport().find("by NCCL"), std::string::npos) << "NCCL was not used: " << device->memoryReport();
  }
}

// batchnorm_stats with sync=1: the statistics of both ranks' maps (bn-sync).
TEST_P(BackendConformance, BatchNormStatsSynced) {
  FakeTwoRanks ranks;
  RunContext context;
  context.collective = &ranks;
  const Shape x = kMap, c = {x[1]};
  const std::vector<float> v = randomFloats(elementsOf(x), 995);
  const Channels ch(x[1], 996);
  expectConforms({"batchnorm_stats", {whole(x, v), whole(c, ch.mean), whole(c, ch.var)}, {result(c), result(c)},
                  {{"sync", {1}}}, {{"epsilon", 1e-5}, {"momentum", 0.9}}, context},
                 kManyTerms);
}

TEST_P(BackendConformance, RowsCopy) {
  const Shape m = {2, 3, 9, 5};
  const std::vector<float> a = randomFloats(elementsOf(m), 960), b = randomFloats(elementsOf(m), 961),
                           c = randomFloats(elementsOf(m), 962);
  // Each row from the last source holding it; rows [6, 8) from none.
  expectConforms(
      {"rows_copy", {band(m, a, {0, 4}), band(m, b, {3, 5}), band(m, c, {4, 6})}, {result(m, RowRange{1, 8})}},
      kExact);
  expectConforms({"rows_copy", {band(m, b, {3, 5}), band(m, a, {0, 4})}, {result(m, RowRange{3, 4})}}, kExact);
  expectConforms({"rows_copy", {whole(m, c)}, {result(m)}}, kExact);
  expectConforms({"rows_copy", {whole(m, c), band(m, a, {2, 7})}, {result(m)}}, kExact);
}

TEST_P(BackendConformance, RowsSum) {
  const Shape m = {2, 3, 9, 5};
  const std::vector<float> a = randomFloats(elementsOf(m), 970), b = randomFloats(elementsOf(m), 971),
                           c = randomFloats(elementsOf(m), 972);
  expectConforms(
      {"rows_sum", {band(m, a, {0, 4}), band(m, b, {3, 7}), whole(m, c)}, {result(m, RowRange{2, 6})}}, kFewTerms);
  expectConforms({"rows_sum", {band(m, a, {0, 2})}, {result(m, RowRange{1, 4})}}, kFewTerms);
  expectConforms({"rows_sum", {whole(m, a), whole(m, b)}, {result(m)}}, kFewTerms);
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendConformance, ::testing::Values("cuda-emulated", "cuda"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace lrc::runtime::testing
