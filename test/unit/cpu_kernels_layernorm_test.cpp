// layer_norm's passes (runtime/kernels/LayerNorm.h) run in a loop, as the CPU backend runs them:
// the forward against a double reference, the backward (dx, dscale, dbias) against central
// differences of that reference, with and without a bias, over one and several trailing axes.
#include <gtest/gtest.h>

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
  kernels::layer_norm_forward(kLoop, y.data(), x.data(), scale.data(), withBias ? bias.data() : nullptr, stats.data(), p);
  std::vector<double> xd = toDouble(x), sd = toDouble(scale), bd = toDouble(bias);
  EXPECT_LT(normalizedError(y, reference(xd, sd, bd, rows, size, eps)), 1e-6);

  std::vector<float> dx(x.size()), dscale(size), dbias(size);
  kernels::layer_norm_backward(kLoop, dx.data(), dscale.data(), dbias.data(), dy.data(), x.data(), scale.data(),
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

}  // namespace
}  // namespace lrc::cpu
