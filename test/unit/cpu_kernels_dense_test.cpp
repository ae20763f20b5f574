// Gemm (every transpose and bias shape), softmax, softmax cross-entropy and the SGD update:
// against double references, finite differences and hand-computed steps.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/cpu/Dense.h"
#include "runtime/cpu/Optimizer.h"
#include "test/unit/cpu_kernels_test_util.h"

namespace lrc::cpu {
namespace {

using testing::dot;
using testing::normalizedError;
using testing::numericGradient;
using testing::randomFloats;
using testing::toDouble;

struct GemmCase {
  bool transA, transB;
  GemmBias bias;
};

int64_t biasSize(GemmBias bias, int64_t M, int64_t N) {
  switch (bias) {
    case GemmBias::None:
      return 0;
    case GemmBias::Scalar:
      return 1;
    case GemmBias::Row:
      return N;
    case GemmBias::Column:
      return M;
    case GemmBias::Full:
      return M * N;
  }
  return 0;
}

std::vector<double> gemmReference(const GemmParams& p, const std::vector<double>& A, const std::vector<double>& B,
                                  const std::vector<double>& C) {
  std::vector<double> Y(p.M * p.N);
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = 0; j < p.N; ++j) {
      double acc = 0.0;
      for (int64_t k = 0; k < p.K; ++k)
        acc += (p.transA ? A[k * p.M + i] : A[i * p.K + k]) * (p.transB ? B[j * p.K + k] : B[k * p.N + j]);
      double c = 0.0;
      if (p.bias == GemmBias::Scalar) c = C[0];
      if (p.bias == GemmBias::Row) c = C[j];
      if (p.bias == GemmBias::Column) c = C[i];
      if (p.bias == GemmBias::Full) c = C[i * p.N + j];
      Y[i * p.N + j] = p.alpha * acc + p.beta * c;
    }
  return Y;
}

class GemmTest : public ::testing::TestWithParam<GemmCase> {
 protected:
  GemmParams params() const {
    const GemmCase& t = GetParam();
    return {5, 7, 3, t.transA, t.transB, 0.75f, 1.5f, t.bias};
  }
};

TEST_P(GemmTest, ForwardMatchesReference) {
  const GemmParams p = params();
  const std::vector<float> A = randomFloats(p.M * p.K, 31), B = randomFloats(p.K * p.N, 32),
                           C = randomFloats(biasSize(p.bias, p.M, p.N), 33);
  std::vector<float> Y(p.M * p.N, 123.0f);  // stale contents must not leak into Y
  gemm_forward(Y.data(), A.data(), B.data(), C.data(), p);
  EXPECT_LT(normalizedError(Y, gemmReference(p, toDouble(A), toDouble(B), toDouble(C))), 1e-6);
}

TEST_P(GemmTest, BackwardMatchesFiniteDifferences) {
  const GemmParams p = params();
  const std::vector<float> A = randomFloats(p.M * p.K, 31), B = randomFloats(p.K * p.N, 32),
                           C = randomFloats(biasSize(p.bias, p.M, p.N), 33), dY = randomFloats(p.M * p.N, 34);
  std::vector<float> dA(A.size(), 0.25f), dB(B.size(), 0.25f), dC(C.size(), 0.25f);  // backward adds
  gemm_backward(dA.data(), dB.data(), dC.data(), dY.data(), A.data(), B.data(), p);
  std::vector<double> a = toDouble(A), b = toDouble(B), c = toDouble(C);
  const std::vector<double> dy = toDouble(dY);
  const auto loss = [&] { return dot(dy, gemmReference(p, a, b, c)); };
  const auto plusQuarter = [](std::vector<double> v) {
    for (double& x : v) x += 0.25;
    return v;
  };
  EXPECT_LT(normalizedError(dA, plusQuarter(numericGradient(a, loss))), 1e-5) << "dA";
  EXPECT_LT(normalizedError(dB, plusQuarter(numericGradient(b, loss))), 1e-5) << "dB";
  if (p.bias != GemmBias::None) {
    EXPECT_LT(normalizedError(dC, plusQuarter(numericGradient(c, loss))), 1e-5) << "dC";
  }
}

std::string gemmCaseName(const ::testing::TestParamInfo<GemmCase>& info);

// gtest prints a failing case by its name rather than its bytes.
void PrintTo(const GemmCase& c, std::ostream* os) { *os << gemmCaseName({c, 0}); }

std::vector<GemmCase> allGemmCases() {
  std::vector<GemmCase> cases;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (GemmBias bias : {GemmBias::None, GemmBias::Scalar, GemmBias::Row, GemmBias::Column, GemmBias::Full})
        cases.push_back({ta, tb, bias});
  return cases;
}

std::string gemmCaseName(const ::testing::TestParamInfo<GemmCase>& info) {
  const char* biasNames[] = {"None", "Scalar", "Row", "Column", "Full"};
  return std::string(info.param.transA ? "At" : "A") + (info.param.transB ? "Bt" : "B") +
         biasNames[static_cast<int>(info.param.bias)];
}

INSTANTIATE_TEST_SUITE_P(AllShapes, GemmTest, ::testing::ValuesIn(allGemmCases()), gemmCaseName);

double crossEntropyReference(const std::vector<double>& logits, const std::vector<int64_t>& labels, int64_t classes) {
  const int64_t N = static_cast<int64_t>(labels.size());
  double total = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    double sum = 0.0;
    for (int64_t j = 0; j < classes; ++j) sum += std::exp(logits[n * classes + j]);
    total += std::log(sum) - logits[n * classes + labels[n]];
  }
  return total / static_cast<double>(N);
}

TEST(SoftmaxCrossEntropy, LossProbabilitiesAndGradient) {
  const int64_t N = 4, classes = 5;
  const std::vector<float> logits = randomFloats(N * classes, 41, -3.0f, 3.0f);
  const std::vector<int64_t> labels{0, 4, 2, 2};
  std::vector<float> probs(N * classes);
  const float loss = softmax_cross_entropy_forward(probs.data(), logits.data(), labels.data(), N, classes);
  std::vector<double> z = toDouble(logits);
  EXPECT_NEAR(loss, crossEntropyReference(z, labels, classes), 1e-6);
  for (int64_t n = 0; n < N; ++n) {
    double rowSum = 0.0;
    for (int64_t j = 0; j < classes; ++j) rowSum += probs[n * classes + j];
    EXPECT_NEAR(rowSum, 1.0, 1e-6);
  }
  std::vector<float> softmaxOnly(N * classes);
  softmax_forward(softmaxOnly.data(), logits.data(), N, classes);
  EXPECT_EQ(softmaxOnly, probs);

  // dLogits written in place over the probabilities, scaled by an upstream dLoss.
  softmax_cross_entropy_backward(probs.data(), probs.data(), labels.data(), N, classes, 2.0f);
  std::vector<double> want = numericGradient(
      z, [&] { return crossEntropyReference(z, labels, classes); }, 1e-5);
  for (double& v : want) v *= 2.0;
  EXPECT_LT(normalizedError(probs, want), 1e-5);
}

TEST(SoftmaxCrossEntropy, StableForLargeLogits) {
  const std::vector<float> logits{1000.0f, 1001.0f, 999.0f, -1000.0f, -1001.0f, -1000.5f};
  const std::vector<int64_t> labels{1, 2};
  std::vector<float> probs(6);
  const float loss = softmax_cross_entropy_forward(probs.data(), logits.data(), labels.data(), 2, 3);
  const double want =
      0.5 * (std::log(std::exp(-1.0) + 1.0 + std::exp(-2.0)) + (std::log(1.0 + std::exp(-1.0) + std::exp(-0.5)) + 0.5));
  EXPECT_NEAR(loss, want, 1e-6);
  for (float p : probs) EXPECT_TRUE(std::isfinite(p));
}

TEST(SoftmaxCrossEntropy, RejectsLabelsOutOfRange) {
  const std::vector<float> logits(6, 0.0f);
  std::vector<float> probs(6);
  const std::vector<int64_t> tooBig{0, 3}, negative{-1, 0};
  EXPECT_THROW(softmax_cross_entropy_forward(probs.data(), logits.data(), tooBig.data(), 2, 3), std::invalid_argument);
  EXPECT_THROW(softmax_cross_entropy_forward(probs.data(), logits.data(), negative.data(), 2, 3),
               std::invalid_argument);
  EXPECT_THROW(softmax_cross_entropy_backward(probs.data(), logits.data(), tooBig.data(), 2, 3), std::invalid_argument);
}

// ---- the per-pixel loss (pixel_xent) ----

// PyTorch's cross_entropy(logits [N,K,H,W], labels, ignore_index) in double, written from the
// definition: gather each pixel's K logits, -log softmax at its label, mean over the counted.
double pixelXentReference(const std::vector<double>& x, const std::vector<int64_t>& labels, int64_t N, int64_t K,
                          int64_t H, int64_t W, int64_t ignore) {
  double total = 0.0;
  int64_t counted = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w) {
        const int64_t label = labels[(n * H + h) * W + w];
        if (label == ignore) continue;
        std::vector<double> z(static_cast<size_t>(K));
        for (int64_t k = 0; k < K; ++k) z[k] = x[((n * K + k) * H + h) * W + w];
        double sum = 0.0;
        for (double v : z) sum += std::exp(v);
        total += std::log(sum) - z[label];
        ++counted;
      }
  return total / static_cast<double>(counted);
}

TEST(PixelCrossEntropy, LossAndGradientWithIgnoredPixels) {
  const int64_t N = 2, K = 4, H = 3, W = 5, ignore = 255;
  const std::vector<float> logits = randomFloats(N * K * H * W, 61, -3.0f, 3.0f);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < N * H * W; ++i) labels.push_back(i % 7 == 3 ? ignore : (i * 5 + 1) % K);
  const float loss = pixel_xent_forward(logits.data(), labels.data(), N, K, H, W, ignore);
  std::vector<double> z = toDouble(logits);
  EXPECT_NEAR(loss, pixelXentReference(z, labels, N, K, H, W, ignore), 1e-6);

  std::vector<float> grad(logits.size(), 7.0f);
  pixel_xent_backward(grad.data(), logits.data(), labels.data(), N, K, H, W, ignore);
  const std::vector<double> want =
      numericGradient(z, [&] { return pixelXentReference(z, labels, N, K, H, W, ignore); }, 1e-5);
  EXPECT_LT(normalizedError(grad, want), 1e-5);
  // An ignored pixel gets no gradient at all.
  EXPECT_EQ(grad[((0 * K + 2) * H + 0) * W + 3], 0.0f);  // pixel 3 of sample 0 is ignored

  // In place, as the backends run it.
  std::vector<float> inPlace = logits;
  pixel_xent_backward(inPlace.data(), inPlace.data(), labels.data(), N, K, H, W, ignore);
  EXPECT_EQ(inPlace, grad);
}

// Every pixel ignored: the loss is 0/0 = NaN (as PyTorch's), the gradient zero.
TEST(PixelCrossEntropy, EveryPixelIgnoredGivesNaNAndNoGradient) {
  const std::vector<float> logits = randomFloats(2 * 3 * 2 * 2, 62);
  const std::vector<int64_t> labels(2 * 2 * 2, -100);
  EXPECT_TRUE(std::isnan(pixel_xent_forward(logits.data(), labels.data(), 2, 3, 2, 2, -100)));
  std::vector<float> grad(logits.size(), 1.0f);
  pixel_xent_backward(grad.data(), logits.data(), labels.data(), 2, 3, 2, 2, -100);
  for (float g : grad) EXPECT_EQ(g, 0.0f);
}

// On row bands (the loss inside a row pipeline): each band's loss is its rows' share of the
// global mean, so the bands' losses add up to the whole map's, and each band's gradient is the
// whole map's gradient at its rows; a band whose every pixel is ignored adds 0 and gets a zero
// gradient (the count is global), and ignored pixels inside a band get none.
TEST(PixelCrossEntropy, BandsAddUpToWhole) {
  const int64_t N = 2, K = 3, H = 7, W = 4, ignore = 255;
  const std::vector<float> logits = randomFloats(N * K * H * W, 63, -3.0f, 3.0f);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < N * H * W; ++i) labels.push_back(i % 5 == 2 ? ignore : (i * 7 + 2) % K);
  for (int64_t n = 0; n < N; ++n)  // rows 0 and 1 all ignored
    for (int64_t i = 0; i < 2 * W; ++i) labels[n * H * W + i] = ignore;
  const float whole = pixel_xent_forward(logits.data(), labels.data(), N, K, H, W, ignore);
  std::vector<float> wholeGrad(logits.size());
  pixel_xent_backward(wholeGrad.data(), logits.data(), labels.data(), N, K, H, W, ignore);
  // The rows of [N,K,H,W] as a band [N,K,b-a,W].
  auto band = [&](const std::vector<float>& map, int64_t a, int64_t b) {
    std::vector<float> out;
    for (int64_t nk = 0; nk < N * K; ++nk)
      out.insert(out.end(), map.begin() + (nk * H + a) * W, map.begin() + (nk * H + b) * W);
    return out;
  };
  double sum = 0.0;
  for (const auto& [a, b] : std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {2, 5}, {5, 7}}) {
    const std::vector<float> x = band(logits, a, b);
    const float part = pixel_xent_forward(x.data(), labels.data(), N, K, H, W, ignore, a, b - a);
    if (a == 0) {
      EXPECT_EQ(part, 0.0f);  // every pixel of rows [0, 2) ignored
    }
    sum += part;
    std::vector<float> grad(x.size(), 7.0f);
    pixel_xent_backward(grad.data(), x.data(), labels.data(), N, K, H, W, ignore, a, b - a);
    EXPECT_EQ(grad, band(wholeGrad, a, b)) << "rows [" << a << ", " << b << ")";
  }
  EXPECT_NEAR(sum, whole, 1e-6);
  EXPECT_THROW(pixel_xent_forward(logits.data(), labels.data(), N, K, H, W, ignore, 5, 3), std::invalid_argument);
}

TEST(PixelCrossEntropy, RejectsLabelsOutOfRangeThatAreNotIgnored) {
  const std::vector<float> logits(1 * 3 * 2 * 2, 0.0f);
  std::vector<float> grad(logits.size());
  const std::vector<int64_t> labels{0, 255, 2, 1};  // 255 is not the ignore index -100 here
  try {
    pixel_xent_forward(logits.data(), labels.data(), 1, 3, 2, 2, -100);
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("label 255 of sample 0 (pixel 0,1) is outside [0, 3) and is not the ignore "
                                         "index -100"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(pixel_xent_backward(grad.data(), logits.data(), labels.data(), 1, 3, 2, 2, -100),
               std::invalid_argument);
  EXPECT_NO_THROW(pixel_xent_forward(logits.data(), labels.data(), 1, 3, 2, 2, 255));
  const std::vector<int64_t> negative{0, -1, 2, 1};
  EXPECT_THROW(pixel_xent_forward(logits.data(), negative.data(), 1, 3, 2, 2, -100), std::invalid_argument);
}

// SGD's hyper-parameters (AdamW and Nesterov: test/e2e/parity.py against torch.optim).
OptimizerParams sgd(double lr, double momentum, double weightDecay) {
  OptimizerParams p;
  p.lr = lr;
  p.momentum = momentum;
  p.weightDecay = weightDecay;
  return p;
}

TEST(Sgd, TwoStepsWithMomentumAndWeightDecayByHand) {
  // torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01), p0 = [1, -2], grads g1 = [0.5, 0.25]
  // then g2 = [-1, 2]:
  //   d1 = g1 + 0.01 p0 = [0.51, 0.23]; buf1 = d1; p1 = p0 - 0.1 d1 = [0.949, -2.023]
  //   d2 = g2 + 0.01 p1 = [-0.99051, 1.97977]; buf2 = 0.9 buf1 + d2 = [-0.53151, 2.18677]
  //   p2 = p1 - 0.1 buf2 = [1.002151, -2.241677]
  std::vector<float> p{1.0f, -2.0f}, buf(2, 0.0f);
  const std::vector<float> g1{0.5f, 0.25f}, g2{-1.0f, 2.0f};
  sgd_update(p.data(), buf.data(), g1.data(), 2, sgd(0.1, 0.9, 0.01));
  EXPECT_NEAR(p[0], 0.949, 1e-6);
  EXPECT_NEAR(p[1], -2.023, 1e-6);
  EXPECT_NEAR(buf[0], 0.51, 1e-6);
  EXPECT_NEAR(buf[1], 0.23, 1e-6);
  sgd_update(p.data(), buf.data(), g2.data(), 2, sgd(0.1, 0.9, 0.01));
  EXPECT_NEAR(buf[0], -0.53151, 1e-6);
  EXPECT_NEAR(buf[1], 2.18677, 1e-6);
  EXPECT_NEAR(p[0], 1.002151, 1e-6);
  EXPECT_NEAR(p[1], -2.241677, 1e-6);
}

TEST(Sgd, PlainStepWithoutMomentumNeedsNoBuffer) {
  std::vector<float> p{1.0f, 2.0f};
  const std::vector<float> g{0.5f, -1.0f};
  sgd_update(p.data(), nullptr, g.data(), 2, sgd(0.5, 0.0, 0.0));
  EXPECT_EQ(p, (std::vector<float>{0.75f, 2.5f}));
  EXPECT_THROW(sgd_update(p.data(), nullptr, g.data(), 2, sgd(0.5, 0.9, 0.0)), std::invalid_argument);
}

}  // namespace
}  // namespace lrc::cpu
