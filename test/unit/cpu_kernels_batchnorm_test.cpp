// BatchNorm: training mode (batch statistics, PyTorch's running-statistics update, backward)
// against double references and finite differences, the strip-by-strip pieces against the
// whole-map functions, and frozen mode on row bands.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/cpu/BatchNorm.h"
#include "runtime/kernels/Unary.h"
#include "test/unit/cpu_kernels_test_util.h"

namespace lrc::cpu {
namespace {

using testing::dot;
using testing::normalizedError;
using testing::numericGradient;
using testing::OwnedBand;
using testing::randomFloats;
using testing::sliceRows;
using testing::splitRows;
using testing::toDouble;

constexpr int64_t N = 2, C = 3, H = 5, W = 3, HW = H * W;
constexpr float kEps = 1e-5f;

// Training-mode BatchNorm in double, two-pass statistics: returns y, writes mean and biased var.
std::vector<double> trainReference(const std::vector<double>& x, const std::vector<double>& gamma,
                                   const std::vector<double>& beta, std::vector<double>* meanOut = nullptr,
                                   std::vector<double>* varOut = nullptr) {
  std::vector<double> y(x.size()), mean(C, 0.0), var(C, 0.0);
  const double count = N * HW;
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) mean[c] += x[(n * C + c) * HW + i] / count;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) var[c] += std::pow(x[(n * C + c) * HW + i] - mean[c], 2) / count;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        const int64_t at = (n * C + c) * HW + i;
        y[at] = (x[at] - mean[c]) / std::sqrt(var[c] + kEps) * gamma[c] + beta[c];
      }
  }
  if (meanOut != nullptr) *meanOut = mean;
  if (varOut != nullptr) *varOut = var;
  return y;
}

std::vector<double> frozenReference(const std::vector<double>& x, const std::vector<double>& gamma,
                                    const std::vector<double>& beta, const std::vector<float>& mean,
                                    const std::vector<float>& var) {
  std::vector<double> y(x.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < HW; ++i) {
        const int64_t at = (n * C + c) * HW + i;
        y[at] = (x[at] - mean[c]) / std::sqrt(static_cast<double>(var[c]) + kEps) * gamma[c] + beta[c];
      }
  return y;
}

struct BatchNormData {
  // Offset inputs: a mean far from 0 exposes a statistics formula that ignores it.
  std::vector<float> x = randomFloats(N * C * HW, 21, 2.0f, 5.0f);
  std::vector<float> gamma = randomFloats(C, 22, 0.5f, 1.5f);
  std::vector<float> beta = randomFloats(C, 23);
  std::vector<float> dy = randomFloats(N * C * HW, 24);
};

TEST(BatchNormTrain, ForwardMatchesReference) {
  const BatchNormData d;
  std::vector<float> y(d.x.size()), mean(C), invStd(C);
  batchnorm_train_forward(y.data(), mean.data(), invStd.data(), nullptr, nullptr, d.x.data(), d.gamma.data(),
                          d.beta.data(), N, C, HW, kEps, 0.1f);
  std::vector<double> wantMean, wantVar;
  const std::vector<double> want =
      trainReference(toDouble(d.x), toDouble(d.gamma), toDouble(d.beta), &wantMean, &wantVar);
  EXPECT_LT(normalizedError(y, want), 1e-5);
  EXPECT_LT(normalizedError(mean, wantMean), 1e-6);
  std::vector<double> wantInvStd(C);
  for (int64_t c = 0; c < C; ++c) wantInvStd[c] = 1.0 / std::sqrt(wantVar[c] + kEps);
  EXPECT_LT(normalizedError(invStd, wantInvStd), 1e-5);
}

TEST(BatchNormTrain, RunningStatisticsUseUnbiasedVarianceByHand) {
  // One channel, N = 2, HW = 2: x = {1, 2, 3, 6}, mean 3, biased variance 14/4, unbiased 14/3.
  const std::vector<float> x{1, 2, 3, 6}, gamma{2}, beta{0.5f};
  std::vector<float> y(4), mean(1), invStd(1), runningMean{0.5f}, runningVar{2.0f};
  batchnorm_train_forward(y.data(), mean.data(), invStd.data(), runningMean.data(), runningVar.data(), x.data(),
                          gamma.data(), beta.data(), 2, 1, 2, kEps, 0.1f);
  EXPECT_FLOAT_EQ(mean[0], 3.0f);
  EXPECT_FLOAT_EQ(invStd[0], static_cast<float>(1 / std::sqrt(3.5 + 1e-5)));
  EXPECT_FLOAT_EQ(runningMean[0], 0.9f * 0.5f + 0.1f * 3.0f);
  EXPECT_FLOAT_EQ(runningVar[0], static_cast<float>(0.9 * 2.0 + 0.1 * 14.0 / 3.0));
  EXPECT_FLOAT_EQ(y[3], static_cast<float>(3 / std::sqrt(3.5 + 1e-5) * 2 + 0.5));
  // A second step updates once more from the previous running values.
  batchnorm_train_forward(y.data(), mean.data(), invStd.data(), runningMean.data(), runningVar.data(), x.data(),
                          gamma.data(), beta.data(), 2, 1, 2, kEps, 0.1f);
  EXPECT_FLOAT_EQ(runningMean[0], 0.9f * 0.75f + 0.1f * 3.0f);
  EXPECT_FLOAT_EQ(runningVar[0], static_cast<float>(0.9 * (0.9 * 2.0 + 0.1 * 14.0 / 3.0) + 0.1 * 14.0 / 3.0));
}

TEST(BatchNormTrain, NeedsMoreThanOneValuePerChannel) {
  std::vector<float> x{1, 2}, y(2), mean(2), invStd(2), gamma{1, 1}, beta{0, 0};
  EXPECT_THROW(batchnorm_train_forward(y.data(), mean.data(), invStd.data(), nullptr, nullptr, x.data(), gamma.data(),
                                       beta.data(), 1, 2, 1, kEps, 0.1f),
               std::invalid_argument);
}

TEST(BatchNormTrain, BackwardMatchesFiniteDifferences) {
  const BatchNormData d;
  std::vector<float> y(d.x.size()), mean(C), invStd(C);
  batchnorm_train_forward(y.data(), mean.data(), invStd.data(), nullptr, nullptr, d.x.data(), d.gamma.data(),
                          d.beta.data(), N, C, HW, kEps, 0.1f);
  std::vector<float> dx(d.x.size(), 0.5f), dgamma(C, 1.0f), dbeta(C, -1.0f);  // gradients accumulate
  batchnorm_train_backward(dx.data(), dgamma.data(), dbeta.data(), d.dy.data(), d.x.data(), d.gamma.data(), mean.data(),
                           invStd.data(), N, C, HW);

  std::vector<double> x = toDouble(d.x), gamma = toDouble(d.gamma), beta = toDouble(d.beta);
  const std::vector<double> dy = toDouble(d.dy);
  const auto loss = [&] { return dot(dy, trainReference(x, gamma, beta)); };
  std::vector<double> wantDgamma = numericGradient(gamma, loss, 1e-5), wantDbeta = numericGradient(beta, loss, 1e-5);
  for (double& v : wantDgamma) v += 1.0;
  for (double& v : wantDbeta) v -= 1.0;
  std::vector<double> wantDx = numericGradient(x, loss, 1e-5);
  for (double& v : wantDx) v += 0.5;
  EXPECT_LT(normalizedError(dx, wantDx), 1e-4);
  EXPECT_LT(normalizedError(dgamma, wantDgamma), 1e-5);
  EXPECT_LT(normalizedError(dbeta, wantDbeta), 1e-5);
}

// The split (batchnorm_stats, batchnorm_apply, and their gradients, SPEC.md section 5) as a
// row plan runs it: the statistics of the whole map, the apply and its gradient strip by strip
// (the sums added over strips), the statistics' correction once on the whole input gradient.
// Against the double reference and finite differences, and the running statistics against
// PyTorch's update.
TEST(BatchNormSplit, StripsMatchReferenceAndFiniteDifferences) {
  const BatchNormData d;
  std::vector<float> mean(C), invStd(C), runningMean(C, 0.25f), runningVar(C, 2.0f);
  batchnorm_stats(mean.data(), invStd.data(), runningMean.data(), runningVar.data(),
                  full_band(d.x.data(), N, C, H, W), kEps, 0.1f);
  std::vector<double> wantMean, wantVar;
  const std::vector<double> want = trainReference(toDouble(d.x), toDouble(d.gamma), toDouble(d.beta), &wantMean, &wantVar);
  for (int64_t c = 0; c < C; ++c) {
    EXPECT_NEAR(mean[c], wantMean[c], 1e-6);
    EXPECT_NEAR(invStd[c], 1.0 / std::sqrt(wantVar[c] + kEps), 1e-5);
    EXPECT_NEAR(runningMean[c], 0.9 * 0.25 + 0.1 * wantMean[c], 1e-6);
    EXPECT_NEAR(runningVar[c], 0.9 * 2.0 + 0.1 * wantVar[c] * (N * HW) / (N * HW - 1.0), 1e-5);
  }
  std::vector<float> y(d.x.size()), dxDirect(d.x.size(), 0.0f);
  std::vector<float> dgamma(C, 0.0f), dbeta(C, 0.0f), dmean(C, 0.0f), dinvStd(C, 0.0f);
  for (RowRange r : splitRows(H, 3)) {
    OwnedBand yb = sliceRows(y, N, C, H, W, r);
    const OwnedBand dyb = sliceRows(d.dy, N, C, H, W, r);
    OwnedBand dxb = sliceRows(dxDirect, N, C, H, W, r);
    batchnorm_normalize_rows(yb.band, full_band(d.x.data(), N, C, H, W), mean.data(), invStd.data(), d.gamma.data(),
                             d.beta.data(), r.begin, r.end);
    std::vector<float> sums[4] = {std::vector<float>(C), std::vector<float>(C), std::vector<float>(C),
                                  std::vector<float>(C)};
    batchnorm_apply_backward_rows(dxb.band, sums[0].data(), sums[1].data(), sums[2].data(), sums[3].data(),
                                  dyb.band, full_band(d.x.data(), N, C, H, W), d.gamma.data(), mean.data(),
                                  invStd.data(), r.begin, r.end);
    for (int64_t c = 0; c < C; ++c) {
      dgamma[c] += sums[0][c];
      dbeta[c] += sums[1][c];
      dmean[c] += sums[2][c];
      dinvStd[c] += sums[3][c];
    }
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t h = r.begin; h < r.end; ++h)
          for (int64_t w = 0; w < W; ++w) {
            const int64_t at = ((n * C + c) * H + h) * W + w;
            y[at] = yb.band.at(n, c, h, w);
            dxDirect[at] = dxb.band.at(n, c, h, w);
          }
  }
  EXPECT_LT(normalizedError(y, want), 1e-5);
  std::vector<float> dx(d.x.size());
  batchnorm_stats_backward(full_band(dx.data(), N, C, H, W), full_band(dxDirect.data(), N, C, H, W),
                           full_band(d.x.data(), N, C, H, W), mean.data(), invStd.data(), dmean.data(), dinvStd.data());
  // A recomputed reduction point applies the correction strip by strip (bands of x, acc and
  // dx): the same values as on the whole map.
  for (RowRange r : splitRows(H, 3)) {
    OwnedBand dxb(N, C, H, W, r, std::nanf(""));  // every element written, or the test fails
    const OwnedBand accb = sliceRows(dxDirect, N, C, H, W, r), xb = sliceRows(d.x, N, C, H, W, r);
    batchnorm_stats_backward(dxb.band, accb.band, xb.band, mean.data(), invStd.data(), dmean.data(), dinvStd.data());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t h = r.begin; h < r.end; ++h)
          for (int64_t w = 0; w < W; ++w) EXPECT_EQ(dxb.band.at(n, c, h, w), dx[((n * C + c) * H + h) * W + w]);
  }

  std::vector<double> x = toDouble(d.x), gamma = toDouble(d.gamma), beta = toDouble(d.beta);
  const std::vector<double> dy = toDouble(d.dy);
  const auto loss = [&] { return dot(dy, trainReference(x, gamma, beta)); };
  EXPECT_LT(normalizedError(dgamma, numericGradient(gamma, loss, 1e-5)), 1e-5);
  EXPECT_LT(normalizedError(dbeta, numericGradient(beta, loss, 1e-5)), 1e-5);
  EXPECT_LT(normalizedError(dx, numericGradient(x, loss, 1e-5)), 1e-4);
  // Without the statistics' correction the input gradient is wrong: the test can fail.
  EXPECT_GT(normalizedError(dxDirect, numericGradient(x, loss, 1e-5)), 1e-2);
}

// batchnorm_apply {relu=1} and its gradient (passes/FuseBatchNormRelu.cpp), strip by strip: bit
// for bit the unfused apply then relu, and relu_grad (from the relu's result) then the unfused
// gradient; and the five gradients of the fused op against finite differences of
// sum(dy * relu((x - mean) * invstd * scale + bias)), mean and invstd as inputs.
TEST(BatchNormSplit, FusedReluMatchesUnfusedAndFiniteDifferences) {
  const BatchNormData d;
  std::vector<float> mean(C), invStd(C);
  batchnorm_stats(mean.data(), invStd.data(), nullptr, nullptr, full_band(d.x.data(), N, C, H, W), kEps, 0.1f);
  const ConstRowBand x = full_band(d.x.data(), N, C, H, W);
  std::vector<float> fusedGrads[5];
  for (int i = 0; i < 5; ++i) fusedGrads[i] = std::vector<float>(i == 0 ? d.x.size() : C, 0.0f);
  int64_t positive = 0, nearZero = 0;
  for (RowRange r : splitRows(H, 3)) {
    OwnedBand yFused(N, C, H, W, r), z(N, C, H, W, r), dxFused(N, C, H, W, r), dxUnfused(N, C, H, W, r);
    OwnedBand dz = sliceRows(d.dy, N, C, H, W, r);
    const OwnedBand dy = sliceRows(d.dy, N, C, H, W, r);
    batchnorm_normalize_rows(yFused.band, x, mean.data(), invStd.data(), d.gamma.data(), d.beta.data(), r.begin, r.end,
                             true);
    batchnorm_normalize_rows(z.band, x, mean.data(), invStd.data(), d.gamma.data(), d.beta.data(), r.begin, r.end);
    std::vector<float> sums[2][4];
    for (auto& pair : sums)
      for (auto& v : pair) v.assign(C, 0.0f);
    for (size_t i = 0; i < z.storage.size(); ++i) {
      const float y = kernels::Relu{}.forward(z.storage[i]);  // relu, then relu_grad from its result
      positive += y > 0.0f;
      nearZero += std::fabs(z.storage[i]) < 1e-3f;
      EXPECT_EQ(yFused.storage[i], y);
      dz.storage[i] = kernels::Relu{}.backward(dz.storage[i], y);
    }
    batchnorm_apply_backward_rows(dxFused.band, sums[0][0].data(), sums[0][1].data(), sums[0][2].data(),
                                  sums[0][3].data(), dy.band, x, d.gamma.data(), mean.data(), invStd.data(), r.begin,
                                  r.end, d.beta.data());
    batchnorm_apply_backward_rows(dxUnfused.band, sums[1][0].data(), sums[1][1].data(), sums[1][2].data(),
                                  sums[1][3].data(), dz.band, x, d.gamma.data(), mean.data(), invStd.data(), r.begin,
                                  r.end);
    for (int64_t c = 0; c < C; ++c)
      for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(sums[0][i][c], sums[1][i][c]);
        fusedGrads[i + 1][c] += sums[0][i][c];
      }
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t h = r.begin; h < r.end; ++h)
          for (int64_t w = 0; w < W; ++w) {
            const int64_t at = ((n * C + c) * H + h) * W + w;
            EXPECT_EQ(dxFused.band.at(n, c, h, w), dxUnfused.band.at(n, c, h, w));
            fusedGrads[0][at] = dxFused.band.at(n, c, h, w);
          }
  }
  // Both sides of the ReLU, and no value within finite differences' reach of its kink.
  EXPECT_GT(positive, N * C * HW / 4);
  EXPECT_LT(positive, N * C * HW * 3 / 4);
  ASSERT_EQ(nearZero, 0);

  std::vector<double> in[5] = {toDouble(d.x), toDouble(d.gamma), toDouble(d.beta), toDouble(mean), toDouble(invStd)};
  const std::vector<double> dy = toDouble(d.dy);
  const auto loss = [&] {
    double sum = 0.0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < HW; ++i) {
          const int64_t at = (n * C + c) * HW + i;
          sum += dy[at] * std::max(0.0, (in[0][at] - in[3][c]) * in[4][c] * in[1][c] + in[2][c]);
        }
    return sum;
  };
  // fusedGrads: dx, dscale, dbias, dmean, dinvstd; in: x, scale, bias, mean, invstd.
  for (int i = 0; i < 5; ++i) EXPECT_LT(normalizedError(fusedGrads[i], numericGradient(in[i], loss, 1e-5)), 1e-4) << i;
  // Without the mask (the unfused gradient of dy itself) the bias gradient is wrong: the test can fail.
  std::vector<float> unmasked(C, 0.0f), other(C), dxUnmasked(d.x.size(), 0.0f);
  batchnorm_apply_backward_rows(full_band(dxUnmasked.data(), N, C, H, W), other.data(), unmasked.data(), other.data(),
                                other.data(), full_band(d.dy.data(), N, C, H, W), x, d.gamma.data(), mean.data(),
                                invStd.data(), 0, H);
  EXPECT_GT(normalizedError(unmasked, numericGradient(in[2], loss, 1e-5)), 1e-2);
}

TEST(BatchNormTrain, StripPiecesMatchWholeMap) {
  const BatchNormData d;
  std::vector<float> wholeY(d.x.size()), mean(C), invStd(C), runningMean(C, 0.0f), runningVar(C, 1.0f);
  batchnorm_train_forward(wholeY.data(), mean.data(), invStd.data(), runningMean.data(), runningVar.data(), d.x.data(),
                          d.gamma.data(), d.beta.data(), N, C, HW, kEps, 0.1f);
  std::vector<float> wholeDx(d.x.size()), wholeDgamma(C), wholeDbeta(C);
  batchnorm_train_backward(wholeDx.data(), wholeDgamma.data(), wholeDbeta.data(), d.dy.data(), d.x.data(),
                           d.gamma.data(), mean.data(), invStd.data(), N, C, HW);

  const std::vector<RowRange> strips = splitRows(H, 3);
  // Pass 1: statistics over strips; the running statistics are updated once.
  std::vector<double> sum(C), sumSq(C);
  for (const RowRange r : strips)
    batchnorm_stats_rows(sum.data(), sumSq.data(), sliceRows(d.x, N, C, H, W, r).band, r.begin, r.end);
  std::vector<float> stripMean(C), stripInvStd(C), stripRunningMean(C, 0.0f), stripRunningVar(C, 1.0f);
  batchnorm_finalize_stats(stripMean.data(), stripInvStd.data(), stripRunningMean.data(), stripRunningVar.data(),
                           sum.data(), sumSq.data(), C, N * HW, kEps, 0.1f);
  EXPECT_LT(normalizedError(stripMean, mean), 1e-6);
  EXPECT_LT(normalizedError(stripInvStd, invStd), 1e-6);
  EXPECT_LT(normalizedError(stripRunningMean, runningMean), 1e-6);
  EXPECT_LT(normalizedError(stripRunningVar, runningVar), 1e-6);

  // Pass 2: normalize strip by strip; backward reductions over strips, then dx by strips.
  std::vector<float> y(d.x.size()), dx(d.x.size());
  std::vector<double> sumDy(C), sumDyXhat(C);
  for (const RowRange r : strips) {
    const OwnedBand in = sliceRows(d.x, N, C, H, W, r), grad = sliceRows(d.dy, N, C, H, W, r);
    OwnedBand out(N, C, H, W, r);
    batchnorm_normalize_rows(out.band, in.band, stripMean.data(), stripInvStd.data(), d.gamma.data(), d.beta.data(),
                             r.begin, r.end);
    copy_rows(full_band(y.data(), N, C, H, W), out.band, r.begin, r.end);
    batchnorm_backward_reduce_rows(sumDy.data(), sumDyXhat.data(), grad.band, in.band, stripMean.data(),
                                   stripInvStd.data(), r.begin, r.end);
  }
  for (const RowRange r : strips) {
    const OwnedBand in = sliceRows(d.x, N, C, H, W, r), grad = sliceRows(d.dy, N, C, H, W, r);
    OwnedBand dxStrip(N, C, H, W, r);
    batchnorm_train_backward_rows(dxStrip.band, grad.band, in.band, d.gamma.data(), stripMean.data(),
                                  stripInvStd.data(), sumDy.data(), sumDyXhat.data(), N * HW, r.begin, r.end);
    copy_rows(full_band(dx.data(), N, C, H, W), dxStrip.band, r.begin, r.end);
  }
  EXPECT_LT(normalizedError(y, wholeY), 1e-6);
  EXPECT_LT(normalizedError(dx, wholeDx), 1e-5);
  std::vector<float> dgamma(sumDyXhat.begin(), sumDyXhat.end()), dbeta(sumDy.begin(), sumDy.end());
  EXPECT_LT(normalizedError(dgamma, wholeDgamma), 1e-6);
  EXPECT_LT(normalizedError(dbeta, wholeDbeta), 1e-6);
}

TEST(BatchNormFrozen, ForwardAndBackwardMatchReference) {
  const BatchNormData d;
  const std::vector<float> runningMean = randomFloats(C, 25), runningVar = randomFloats(C, 26, 0.5f, 2.0f);
  std::vector<float> y(d.x.size());
  batchnorm_frozen_rows_forward(full_band(y.data(), N, C, H, W), full_band(d.x.data(), N, C, H, W), d.gamma.data(),
                                d.beta.data(), runningMean.data(), runningVar.data(), kEps, 0, H);
  std::vector<double> x = toDouble(d.x), gamma = toDouble(d.gamma), beta = toDouble(d.beta);
  EXPECT_LT(normalizedError(y, frozenReference(x, gamma, beta, runningMean, runningVar)), 1e-6);

  std::vector<float> dx(d.x.size(), 0.25f), dgamma(C, 0.0f), dbeta(C, 0.0f);
  // Called twice over halves of the rows: the gradients of the two calls add up.
  batchnorm_frozen_rows_backward(full_band(dx.data(), N, C, H, W), dgamma.data(), dbeta.data(),
                                 full_band(d.dy.data(), N, C, H, W), full_band(d.x.data(), N, C, H, W), d.gamma.data(),
                                 runningMean.data(), runningVar.data(), kEps, 0, 2);
  batchnorm_frozen_rows_backward(full_band(dx.data(), N, C, H, W), dgamma.data(), dbeta.data(),
                                 full_band(d.dy.data(), N, C, H, W), full_band(d.x.data(), N, C, H, W), d.gamma.data(),
                                 runningMean.data(), runningVar.data(), kEps, 2, H);
  const std::vector<double> dy = toDouble(d.dy);
  const auto loss = [&] { return dot(dy, frozenReference(x, gamma, beta, runningMean, runningVar)); };
  std::vector<double> wantDx = numericGradient(x, loss);
  for (double& v : wantDx) v += 0.25;
  EXPECT_LT(normalizedError(dx, wantDx), 1e-5);
  EXPECT_LT(normalizedError(dgamma, numericGradient(gamma, loss)), 1e-5);
  EXPECT_LT(normalizedError(dbeta, numericGradient(beta, loss)), 1e-5);
}

TEST(BatchNormFrozen, RowPiecesMatchWholeMap) {
  const BatchNormData d;
  const std::vector<float> runningMean = randomFloats(C, 25), runningVar = randomFloats(C, 26, 0.5f, 2.0f);
  std::vector<float> wholeY(d.x.size()), wholeDx(d.x.size()), wholeDgamma(C), wholeDbeta(C);
  batchnorm_frozen_rows_forward(full_band(wholeY.data(), N, C, H, W), full_band(d.x.data(), N, C, H, W), d.gamma.data(),
                                d.beta.data(), runningMean.data(), runningVar.data(), kEps, 0, H);
  batchnorm_frozen_rows_backward(full_band(wholeDx.data(), N, C, H, W), wholeDgamma.data(), wholeDbeta.data(),
                                 full_band(d.dy.data(), N, C, H, W), full_band(d.x.data(), N, C, H, W), d.gamma.data(),
                                 runningMean.data(), runningVar.data(), kEps, 0, H);
  std::vector<float> y(d.x.size()), dx(d.x.size()), dgamma(C), dbeta(C);
  for (const RowRange r : splitRows(H, 3)) {
    // The input band holds one more row than needed: bands need not start at the same row.
    const RowRange wider{std::max<int64_t>(r.begin - 1, 0), r.end};
    const OwnedBand in = sliceRows(d.x, N, C, H, W, wider), grad = sliceRows(d.dy, N, C, H, W, r);
    OwnedBand out(N, C, H, W, r), dxStrip(N, C, H, W, r);
    batchnorm_frozen_rows_forward(out.band, in.band, d.gamma.data(), d.beta.data(), runningMean.data(),
                                  runningVar.data(), kEps, r.begin, r.end);
    batchnorm_frozen_rows_backward(dxStrip.band, dgamma.data(), dbeta.data(), grad.band, in.band, d.gamma.data(),
                                   runningMean.data(), runningVar.data(), kEps, r.begin, r.end);
    copy_rows(full_band(y.data(), N, C, H, W), out.band, r.begin, r.end);
    copy_rows(full_band(dx.data(), N, C, H, W), dxStrip.band, r.begin, r.end);
  }
  EXPECT_EQ(normalizedError(y, wholeY), 0.0);
  EXPECT_EQ(normalizedError(dx, wholeDx), 0.0);
  EXPECT_LT(normalizedError(dgamma, wholeDgamma), 1e-6);
  EXPECT_LT(normalizedError(dbeta, wholeDbeta), 1e-6);
  OwnedBand out(N, C, H, W, {0, 2});
  EXPECT_THROW(batchnorm_frozen_rows_forward(out.band, sliceRows(d.x, N, C, H, W, {1, 3}).band, d.gamma.data(),
                                             d.beta.data(), runningMean.data(), runningVar.data(), kEps, 0, 2),
               std::invalid_argument);
}

}  // namespace
}  // namespace lrc::cpu
