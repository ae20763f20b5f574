// layer_norm's passes (runtime/kernels/LayerNorm.h) run in a loop, as the CPU backend runs them:
// the forward against a double reference, the backward (dx, dscale, dbias) against central
// differences of that reference, with and without a bias, over one and several trailing axes;
// and over the channel axis of an N x C x H x W map (canonicalize's form of ConvNeXt's
// channels-last LayerNorm) computed strip by strip on row bands, as row plans run it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/kernels/LayerNorm.h"
#include "test/unit/cpu_kernels_test_util.h"

namespace lrc::cpu {
namespace {

using testing::normalizedError;
using testing::numericGradient;
using testing::randomFloats;
using testing::toDouble;

const auto kLoop = [](int64_t n, const auto& f) {
  for (int64_t i = 0; i < n; ++i) f(i);
};

// y of `rows` groups of `size` values, in double.
std::vector<double> reference(const std::vector<double>& x, const std::vector<double>& scale,
                              const std::vector<double>& bias, int64_t rows, int64_t size, double eps) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0.0, var = 0.0;
    for (int64_t i = 0; i < size; ++i) mean += x[r * size + i] / size;
    for (int64_t i = 0; i < size; ++i) var += (x[r * size + i] - mean) * (x[r * size + i] - mean) / size;
    for (int64_t i = 0; i < size; ++i)
      y[r * size + i] = (x[r * size + i] - mean) / std::sqrt(var + eps) * scale[i] + (bias.empty() ? 0.0 : bias[i]);
  }
  return y;
}

void expectLayerNorm(int64_t rows, int64_t size, bool withBias, float eps) {
  const kernels::LayerNormParams p{rows, size, eps};
  const std::vector<float> x = randomFloats(rows * size, 31, -2.0f, 3.0f), scale = randomFloats(size, 32, 0.5f, 1.5f),
                           bias = withBias ? randomFloats(size, 33) : std::vector<float>{},
                           dy = randomFloats(rows * size, 34);
  std::vector<double> stats(static_cast<size_t>(2 * rows));
  std::vector<float> y(x.size());
  kernels::layer_norm_forward(kLoop, {y.data()}, {x.data()}, scale.data(), withBias ? bias.data() : nullptr, stats.data(),
                              p);
  std::vector<double> xd = toDouble(x), sd = toDouble(scale), bd = toDouble(bias);
  EXPECT_LT(normalizedError(y, reference(xd, sd, bd, rows, size, eps)), 1e-6);

  std::vector<float> dx(x.size()), dscale(size), dbias(size);
  kernels::layer_norm_backward(kLoop, {dx.data()}, dscale.data(), dbias.data(), {dy.data()}, {x.data()}, scale.data(),
                               stats.data(), p);
  const auto loss = [&] {
    const std::vector<double> yd = reference(xd, sd, bd, rows, size, eps);
    double sum = 0.0;
    for (size_t i = 0; i < yd.size(); ++i) sum += dy[i] * yd[i];
    return sum;
  };
  EXPECT_LT(normalizedError(dx, numericGradient(xd, loss, 1e-4)), 1e-5);
  EXPECT_LT(normalizedError(dscale, numericGradient(sd, loss, 1e-4)), 1e-5);
  if (withBias) {
    EXPECT_LT(normalizedError(dbias, numericGradient(bd, loss, 1e-4)), 1e-5);
  }
  std::vector<double> sums(size, 0.0);  // without a bias, dbias is still the sum of dy
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < size; ++i) sums[i] += dy[r * size + i];
  EXPECT_LT(normalizedError(dbias, sums), 1e-6);
}

TEST(LayerNorm, LastAxisMatchesReferenceAndFiniteDifferences) { expectLayerNorm(12, 8, true, 1e-5f); }

TEST(LayerNorm, SeveralAxesWithoutBias) { expectLayerNorm(3, 35, false, 1e-6f); }

TEST(LayerNorm, LargeEpsilonAndOneValueGroups) {
  expectLayerNorm(5, 7, true, 0.5f);
  expectLayerNorm(6, 1, true, 1e-5f);  // var 0: y = bias, dx = 0
}

// Rows [a, b) of an N x C x H x W map (a band of it).
std::vector<float> rowsOf(const std::vector<float>& m, int64_t N, int64_t C, int64_t H, int64_t W, int64_t a, int64_t b) {
  std::vector<float> band;
  for (int64_t nc = 0; nc < N * C; ++nc)
    band.insert(band.end(), m.begin() + (nc * H + a) * W, m.begin() + (nc * H + b) * W);
  return band;
}

// Over the channel axis of an N x C x H x W map: the reference is the trailing-axis one on the
// map transposed to channels-last. Strips of rows [a, b) read x and dy from bands holding
// more rows (one above and below, clipped: a pipeline's wider operand bands), write y and dx
// bands of exactly [a, b), and their dscale and dbias sum to the whole map's.
TEST(LayerNorm, ChannelAxisOnBandsMatchesReferenceAndFiniteDifferences) {
  const int64_t N = 2, C = 5, H = 7, W = 3, P = N * H * W;
  const float eps = 1e-5f;
  const std::vector<float> x = randomFloats(N * C * H * W, 41, -2.0f, 3.0f), scale = randomFloats(C, 42, 0.5f, 1.5f),
                           bias = randomFloats(C, 43), dy = randomFloats(N * C * H * W, 44);
  const auto at = [&](int64_t p, int64_t c) { return ((p / (H * W) * C + c) * H * W) + p % (H * W); };
  std::vector<double> xd = toDouble(x), sd = toDouble(scale), bd = toDouble(bias);
  const auto referenceNchw = [&] {  // NCHW -> pixels x channels, the reference, and back
    std::vector<double> xl(static_cast<size_t>(P * C)), y(xd.size());
    for (int64_t p = 0; p < P; ++p)
      for (int64_t c = 0; c < C; ++c) xl[p * C + c] = xd[at(p, c)];
    const std::vector<double> yl = reference(xl, sd, bd, P, C, eps);
    for (int64_t p = 0; p < P; ++p)
      for (int64_t c = 0; c < C; ++c) y[at(p, c)] = yl[p * C + c];
    return y;
  };
  std::vector<float> y(x.size()), dx(x.size()), dscale(C, 0.0f), dbias(C, 0.0f);
  const kernels::LayerNormParams p0{0, 0, eps, 1, true};
  const int64_t cuts[] = {0, 2, 3, 7};
  for (int s = 0; s < 3; ++s) {
    const int64_t a = cuts[s], b = cuts[s + 1], wa = std::max<int64_t>(a - 1, 0), wb = std::min<int64_t>(b + 1, H);
    const kernels::LayerNormParams p = kernels::channelGroups(p0, N, C, W, {a, b});
    std::vector<float> xb = rowsOf(x, N, C, H, W, wa, wb), dyb = rowsOf(dy, N, C, H, W, wa, wb);
    const kernels::ConstRowBand xBand{xb.data(), N, C, H, W, wa, wb - wa}, dyBand{dyb.data(), N, C, H, W, wa, wb - wa};
    std::vector<float> yb(static_cast<size_t>(N * C * (b - a) * W)), dxb(yb.size()), ds(C), db(C);
    const kernels::RowBand yBand{yb.data(), N, C, H, W, a, b - a}, dxBand{dxb.data(), N, C, H, W, a, b - a};
    std::vector<double> stats(static_cast<size_t>(2 * p.rows));
    kernels::layer_norm_forward(kLoop, kernels::channelView(yBand, a), kernels::channelView(xBand, a), scale.data(),
                                bias.data(), stats.data(), p);
    kernels::layer_norm_backward(kLoop, kernels::channelView(dxBand, a), ds.data(), db.data(),
                                 kernels::channelView(dyBand, a), kernels::channelView(xBand, a), scale.data(),
                                 stats.data(), p);
    for (int64_t nc = 0; nc < N * C; ++nc)
      for (int64_t i = 0; i < (b - a) * W; ++i) {
        y[(nc * H + a) * W + i] = yb[nc * (b - a) * W + i];
        dx[(nc * H + a) * W + i] = dxb[nc * (b - a) * W + i];
      }
    for (int64_t c = 0; c < C; ++c) {
      dscale[c] += ds[c];
      dbias[c] += db[c];
    }
  }
  EXPECT_LT(normalizedError(y, referenceNchw()), 1e-6);
  const auto loss = [&] {
    const std::vector<double> yd = referenceNchw();
    double sum = 0.0;
    for (size_t i = 0; i < yd.size(); ++i) sum += dy[i] * yd[i];
    return sum;
  };
  EXPECT_LT(normalizedError(dx, numericGradient(xd, loss, 1e-4)), 1e-5);
  EXPECT_LT(normalizedError(dscale, numericGradient(sd, loss, 1e-4)), 1e-5);
  EXPECT_LT(normalizedError(dbias, numericGradient(bd, loss, 1e-4)), 1e-5);
}

}  // namespace
}  // namespace lrc::cpu
