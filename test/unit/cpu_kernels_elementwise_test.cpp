// ReLU, the other activations (Sigmoid, HardSigmoid, HardSwish, Clip, Erf, Sqrt, Pow:
// runtime/kernels/Unary.h),
// the binary ops' same-shape loop and Dropout: forward and backward by hand and by finite
// differences, the accumulate form of the backward kernels, and Dropout's recomputable
// counter-based mask.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <stdexcept>
#include <vector>

#include "runtime/cpu/Elementwise.h"
#include "runtime/kernels/Dropout.h"
#include "test/unit/cpu_kernels_test_util.h"

namespace lrc::cpu {
namespace {

using testing::normalizedError;
using testing::numericGradient;
using testing::OwnedBand;
using testing::randomFloats;
using testing::sliceRows;
using testing::toDouble;

TEST(Relu, ForwardAndBackwardMatchDefinitionAndFiniteDifferences) {
  // Values away from 0 so that central differences do not straddle the kink.
  std::vector<float> x = randomFloats(101, 11);
  for (float& v : x) v += v >= 0 ? 0.01f : -0.01f;
  std::vector<float> y(x.size());
  relu_forward(y.data(), x.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], x[i] > 0 ? x[i] : 0.0f);

  const std::vector<float> dy = randomFloats(101, 12);
  std::vector<float> dx(x.size(), 0.5f);  // backward adds into dx
  relu_backward(dx.data(), dy.data(), x.data(), static_cast<int64_t>(x.size()));
  std::vector<double> xd = toDouble(x);
  const auto loss = [&] {
    double s = 0.0;
    for (size_t i = 0; i < xd.size(); ++i) s += dy[i] * std::max(xd[i], 0.0);
    return s;
  };
  std::vector<double> want = numericGradient(xd, loss, 1e-4);
  for (double& v : want) v += 0.5;
  EXPECT_LT(normalizedError(dx, want), 1e-6);

  // The output gives the same mask as the input.
  std::vector<float> dxFromY(x.size(), 0.5f);
  relu_backward(dxFromY.data(), dy.data(), y.data(), static_cast<int64_t>(y.size()));
  EXPECT_EQ(dxFromY, dx);
}

TEST(Relu, InPlaceForward) {
  std::vector<float> x{-1.0f, 0.0f, 2.0f, -0.5f};
  relu_forward(x.data(), x.data(), 4);
  EXPECT_EQ(x, (std::vector<float>{0, 0, 2, 0}));
}

// An activation f against its definition `ref` in double: the forward within float rounding,
// the backward (which adds into dx) against central differences of ref. Inputs are 101
// values in [lo, 5] (lo -5 unless the op's domain is smaller), kept 0.01 away from `kinks`, where central differences straddle a corner.
// `savedIsInput`: the gradient kernel reads the forward's input, otherwise its result.
template <class F>
void expectActivation(const F& f, const std::function<double(double)>& ref, bool savedIsInput,
                      const std::vector<double>& kinks, float lo = -5.0f) {
  std::vector<float> x = randomFloats(101, 21, lo, 5.0f);
  for (float& v : x)
    for (double k : kinks)
      if (std::fabs(v - k) < 0.01) v = static_cast<float>(k + (v >= k ? 0.01 : -0.01));
  std::vector<float> y(x.size());
  unary_forward(f, y.data(), x.data(), static_cast<int64_t>(x.size()));
  std::vector<double> yRef(x.size());
  for (size_t i = 0; i < x.size(); ++i) yRef[i] = ref(x[i]);
  EXPECT_LT(normalizedError(y, yRef), 1e-6);

  const std::vector<float> dy = randomFloats(101, 22);
  std::vector<float> dx(x.size(), 0.5f);
  unary_backward(f, dx.data(), dy.data(), savedIsInput ? x.data() : y.data(), static_cast<int64_t>(x.size()));
  std::vector<double> xd = toDouble(x);
  const auto loss = [&] {
    double sum = 0.0;
    for (size_t i = 0; i < xd.size(); ++i) sum += dy[i] * ref(xd[i]);
    return sum;
  };
  std::vector<double> want = numericGradient(xd, loss, 1e-4);
  for (double& v : want) v += 0.5;
  EXPECT_LT(normalizedError(dx, want), 1e-5);
}

kernels::UnaryParams params(float a, float b) { return kernels::UnaryParams{{a, b}}; }

double clamp01(double v) { return std::min(1.0, std::max(0.0, v)); }

TEST(Sigmoid, ForwardAndBackwardMatchDefinitionAndFiniteDifferences) {
  expectActivation(kernels::Sigmoid{}, [](double x) { return 1.0 / (1.0 + std::exp(-x)); }, false, {});
}

TEST(HardSigmoid, ForwardAndBackwardMatchDefinitionAndFiniteDifferences) {
  for (const auto& setting : {std::pair{0.2f, 0.5f}, std::pair{1.0f / 6, 0.5f}, std::pair{0.5f, 0.6f}}) {
    const float alpha = setting.first, beta = setting.second;  // not a binding: clang 14's lambdas cannot capture those
    SCOPED_TRACE(alpha);
    expectActivation(kernels::HardSigmoid(params(alpha, beta)),
                     [=](double x) { return clamp01(double{alpha} * x + double{beta}); }, false,
                     {-double{beta} / alpha, (1 - double{beta}) / alpha});
  }
}

TEST(HardSwish, ForwardAndBackwardMatchDefinitionAndFiniteDifferences) {
  expectActivation(kernels::HardSwish{}, [](double x) { return x * clamp01(x / 6 + 0.5); }, true, {-3.0, 3.0});
}

TEST(Clip, ForwardAndBackwardMatchDefinitionAndFiniteDifferences) {
  expectActivation(kernels::Clip(params(0.0f, 6.0f)), [](double x) { return std::min(6.0, std::max(0.0, x)); }, false,
                   {0.0, 6.0});
  expectActivation(kernels::Clip(params(-INFINITY, 1.5f)), [](double x) { return std::min(1.5, x); }, false, {1.5});
  expectActivation(kernels::Clip(params(-2.0f, INFINITY)), [](double x) { return std::max(-2.0, x); }, false, {-2.0});
}

TEST(Erf, ForwardAndBackwardMatchDefinitionAndFiniteDifferences) {
  expectActivation(kernels::Erf{}, [](double x) { return std::erf(x); }, true, {});
}

TEST(Sqrt, ForwardAndBackwardMatchDefinitionAndFiniteDifferences) {
  expectActivation(kernels::Sqrt{}, [](double x) { return std::sqrt(x); }, false, {}, 0.25f);
}

kernels::UnaryParams exponent(float p) { return kernels::UnaryParams{{p, 0.0f}}; }

TEST(Pow, ForwardAndBackwardMatchDefinitionAndFiniteDifferences) {
  for (float p : {2.0f, 3.0f, 1.0f}) {
    SCOPED_TRACE(p);
    expectActivation(kernels::Pow(exponent(p)), [=](double x) { return std::pow(x, double{p}); }, true, {0.0});
  }
  for (float p : {0.5f, 1.5f, -0.5f, -1.0f}) {  // fractional, or steep at 0 for differences: x > 0
    SCOPED_TRACE(p);
    expectActivation(kernels::Pow(exponent(p)), [=](double x) { return std::pow(x, double{p}); }, true, {}, 0.25f);
  }
}

// torch's pow_backward: exponent 0 passes nothing (x^0 is 1 everywhere, 0^-1 included); x^2's
// gradient at 0 is 0; sqrt's at 0 is inf.
TEST(Pow, ZeroExponentAndZeroInput) {
  const kernels::Pow zero(exponent(0.0f)), square(exponent(2.0f));
  EXPECT_EQ(zero.forward(0.0f), 1.0f);
  EXPECT_EQ(zero.backward(1.0f, 0.0f), 0.0f);
  EXPECT_EQ(square.backward(1.0f, 0.0f), 0.0f);
  EXPECT_EQ(square.forward(-3.0f), 9.0f);
  EXPECT_TRUE(std::isinf(kernels::Sqrt{}.backward(1.0f, 0.0f)));
}

// At the corners, the one-sided choices PyTorch makes: hardtanh_backward (nn.ReLU6) and
// hardsigmoid_backward pass nothing at the bounds; hardswish_backward takes the inner
// formula at -3 and 3.
TEST(Activations, GradientsAtTheCornersAsPyTorch) {
  const kernels::Clip relu6(params(0.0f, 6.0f));
  EXPECT_EQ(relu6.backward(1.0f, relu6.forward(0.0f)), 0.0f);
  EXPECT_EQ(relu6.backward(1.0f, relu6.forward(6.0f)), 0.0f);
  EXPECT_EQ(relu6.backward(1.0f, relu6.forward(-1.0f)), 0.0f);
  EXPECT_EQ(relu6.backward(1.0f, relu6.forward(7.0f)), 0.0f);
  EXPECT_EQ(relu6.backward(1.0f, relu6.forward(5.0f)), 1.0f);
  const kernels::HardSigmoid hs(params(1.0f / 6, 0.5f));
  EXPECT_EQ(hs.backward(1.0f, hs.forward(-3.0f)), 0.0f);
  EXPECT_EQ(hs.backward(1.0f, hs.forward(3.0f)), 0.0f);
  EXPECT_EQ(hs.backward(1.0f, hs.forward(0.0f)), 1.0f / 6);
  const kernels::HardSwish hw;
  EXPECT_EQ(hw.backward(1.0f, -3.0f), -0.5f);
  EXPECT_EQ(hw.backward(1.0f, 3.0f), 1.5f);
  EXPECT_EQ(hw.backward(1.0f, -3.5f), 0.0f);
  EXPECT_EQ(hw.backward(1.0f, 3.5f), 1.0f);
}

// min > max: every value is max (ONNX, torch.clamp), and nothing passes back; NaN stays NaN.
TEST(Clip, MinAboveMaxAndNaN) {
  const kernels::Clip clip(params(2.0f, 1.0f));
  for (float x : {-5.0f, 1.5f, 5.0f}) {
    EXPECT_EQ(clip.forward(x), 1.0f);
    EXPECT_EQ(clip.backward(1.0f, clip.forward(x)), 0.0f);
  }
  EXPECT_TRUE(std::isnan(kernels::Clip(params(0.0f, 6.0f)).forward(NAN)));
}

// The same-shape fast path of the binary family (broadcasting and gradients:
// cpu_kernels_binary_test.cpp), and accumulate.
TEST(Binary, SameShapeForwardAndAccumulate) {
  const std::vector<float> a{1, 2, 3}, b{10, 20, 30}, dy{0.5f, -1, 2};
  std::vector<float> y(3);
  binary_forward<kernels::Add>(y.data(), a.data(), b.data(), 3);
  EXPECT_EQ(y, (std::vector<float>{11, 22, 33}));
  binary_forward<kernels::Sub>(y.data(), a.data(), b.data(), 3);
  EXPECT_EQ(y, (std::vector<float>{-9, -18, -27}));
  binary_forward<kernels::Mul>(y.data(), a.data(), b.data(), 3);
  EXPECT_EQ(y, (std::vector<float>{10, 40, 90}));
  binary_forward<kernels::Div>(y.data(), b.data(), a.data(), 3);
  EXPECT_EQ(y, (std::vector<float>{10, 10, 10}));
  std::vector<float> da{1, 1, 1};
  accumulate(da.data(), dy.data(), 3);
  EXPECT_EQ(da, (std::vector<float>{1.5f, 0, 3}));
}

TEST(Dropout, KeepsTheExpectedFractionAndScales) {
  const int64_t count = 200000;
  const std::vector<float> x(count, 1.0f);
  std::vector<float> y(count);
  for (const float ratio : {0.1f, 0.5f, 0.8f}) {
    dropout_forward(y.data(), x.data(), count, 0, ratio, 1234, 7);
    int64_t kept = 0;
    for (const float v : y) {
      if (v != 0.0f) {
        ++kept;
        EXPECT_FLOAT_EQ(v, 1.0f / (1.0f - ratio));
      }
    }
    const double keep = 1.0 - ratio;
    const double sigma = std::sqrt(count * keep * (1 - keep));
    EXPECT_NEAR(static_cast<double>(kept), count * keep, 5 * sigma) << "ratio " << ratio;
  }
}

TEST(Dropout, EdgeRatios) {
  const std::vector<float> x = randomFloats(1000, 13);
  std::vector<float> y(x.size());
  dropout_forward(y.data(), x.data(), 1000, 0, 0.0f, 1, 1);
  EXPECT_EQ(y, x);
  dropout_forward(y.data(), x.data(), 1000, 0, 1.0f, 1, 1);
  EXPECT_EQ(y, std::vector<float>(1000, 0.0f));
  EXPECT_THROW(dropout_forward(y.data(), x.data(), 1000, 0, 1.5f, 1, 1), std::invalid_argument);
  EXPECT_THROW(dropout_forward(y.data(), x.data(), 1000, 0, -0.1f, 1, 1), std::invalid_argument);
}

TEST(Dropout, MaskDependsOnSeedStepAndIndexOnly) {
  const std::vector<float> x(4096, 1.0f);
  std::vector<float> a(4096), b(4096), c(4096);
  dropout_forward(a.data(), x.data(), 4096, 0, 0.5f, 42, 3);
  dropout_forward(b.data(), x.data(), 4096, 0, 0.5f, 42, 3);
  EXPECT_EQ(a, b);
  dropout_forward(c.data(), x.data(), 4096, 0, 0.5f, 42, 4);
  EXPECT_NE(a, c) << "another step must give another mask";
  dropout_forward(c.data(), x.data(), 4096, 0, 0.5f, 43, 3);
  EXPECT_NE(a, c) << "another seed must give another mask";
  // A sub-range recomputed on its own, by its first global index, matches.
  std::vector<float> part(1000);
  dropout_forward(part.data(), x.data() + 1500, 1000, 1500, 0.5f, 42, 3);
  EXPECT_EQ(part, std::vector<float>(a.begin() + 1500, a.begin() + 2500));
}

TEST(Dropout, BackwardUsesTheForwardMaskAndAccumulates) {
  const std::vector<float> x = randomFloats(5000, 14), dy = randomFloats(5000, 15);
  std::vector<float> y(5000), dx(5000, 1.0f);
  dropout_forward(y.data(), x.data(), 5000, 100, 0.3f, 9, 2);
  dropout_backward(dx.data(), dy.data(), 5000, 100, 0.3f, 9, 2);
  for (size_t i = 0; i < x.size(); ++i) {
    const float wantDx = 1.0f + (y[i] != 0.0f ? dy[i] / 0.7f : 0.0f);
    ASSERT_NEAR(dx[i], wantDx, 1e-5) << i;
  }
}

TEST(Dropout, RowBandsGetTheWholeMapsMask) {
  const int64_t N = 2, C = 3, H = 7, W = 5;
  const std::vector<float> x = randomFloats(N * C * H * W, 16), dy = randomFloats(N * C * H * W, 17);
  std::vector<float> whole(x.size()), wholeDx(x.size());
  dropout_forward(whole.data(), x.data(), N * C * H * W, 0, 0.4f, 5, 11);
  dropout_backward(wholeDx.data(), dy.data(), N * C * H * W, 0, 0.4f, 5, 11);

  const RowRange r{2, 5};
  const OwnedBand in = sliceRows(x, N, C, H, W, r), dOut = sliceRows(dy, N, C, H, W, r);
  OwnedBand out(N, C, H, W, r), dIn(N, C, H, W, r);
  dropout_rows_forward(out.band, in.band, 0.4f, 5, 11, r.begin, r.end);
  dropout_rows_backward(dIn.band, dOut.band, 0.4f, 5, 11, r.begin, r.end);
  const OwnedBand wantOut = sliceRows(whole, N, C, H, W, r), wantDx = sliceRows(wholeDx, N, C, H, W, r);
  EXPECT_EQ(out.storage, wantOut.storage);
  EXPECT_EQ(dIn.storage, wantDx.storage);
  EXPECT_THROW(dropout_rows_forward(out.band, in.band, 0.4f, 5, 11, 1, 4), std::invalid_argument);
}

TEST(Dropout, ThresholdEndpoints) {
  EXPECT_EQ(kernels::dropout_keep_threshold(0.0f), 4294967296ull);
  EXPECT_EQ(kernels::dropout_keep_threshold(1.0f), 0ull);
  EXPECT_EQ(kernels::dropout_keep_threshold(0.5f), 2147483648ull);
}

}  // namespace
}  // namespace lrc::cpu
