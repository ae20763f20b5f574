#include "runtime/cpu/BatchNorm.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runtime/cpu/Parallel.h"
#include "runtime/kernels/BatchNorm.h"
#include "runtime/kernels/Unary.h"

namespace lrc::cpu {

// Threads (Parallel.h) split the channels: a channel's sums are one thread's, over the images
// in order, so every result is that of one thread.

namespace {

[[noreturn]] void fail(const char* kernel, const std::string& message) {
  throw std::invalid_argument(std::string(kernel) + ": " + message);
}

std::vector<float> inverseStd(const float* var, int64_t C, float eps) {
  std::vector<float> invStd(C);
  for (int64_t c = 0; c < C; ++c)
    invStd[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[c]) + static_cast<double>(eps)));
  return invStd;
}

// dx rows [a, b) += gamma * invStd * (dy - meanDy - xhat * meanDyXhat); the frozen backward
// is the case meanDy = meanDyXhat = 0.
void backwardApply(RowBand dx, ConstRowBand dy, ConstRowBand x, const float* gamma, const float* mean,
                   const float* invStd, const double* meanDy, const double* meanDyXhat, int64_t a, int64_t b) {
  const int64_t count = (b - a) * x.W;
  parallel_each(x.C, x.N * count, [&](int64_t c) {
    const float k = gamma[c] * invStd[c];
    const float mDy = meanDy != nullptr ? static_cast<float>(meanDy[c]) : 0.0f;
    const float mDyXhat = meanDyXhat != nullptr ? static_cast<float>(meanDyXhat[c]) : 0.0f;
    for (int64_t n = 0; n < x.N; ++n) {
      float* g = dx.row(n, c, a);
      const float* d = dy.row(n, c, a);
      const float* v = x.row(n, c, a);
      if (meanDyXhat == nullptr)
        for (int64_t i = 0; i < count; ++i) g[i] += k * d[i];
      else
        for (int64_t i = 0; i < count; ++i) g[i] += k * (d[i] - mDy - (v[i] - mean[c]) * invStd[c] * mDyXhat);
    }
  });
}

}  // namespace

void batchnorm_stats_rows(double* sum, double* sumSq, ConstRowBand x, int64_t a, int64_t b) {
  check_rows_of_one_map("batchnorm_stats_rows", {{"input", x}}, a, b);
  const int64_t count = (b - a) * x.W;
  parallel_each(x.C, x.N * count, [&](int64_t c) {
    for (int64_t n = 0; n < x.N; ++n) {
      const float* v = x.row(n, c, a);
      double s = 0.0, s2 = 0.0;
      for (int64_t i = 0; i < count; ++i) {
        s += v[i];
        s2 += static_cast<double>(v[i]) * v[i];
      }
      sum[c] += s;
      sumSq[c] += s2;
    }
  });
}

void batchnorm_finalize_stats(float* mean, float* invStd, float* runningMean, float* runningVar, const double* sum,
                              const double* sumSq, int64_t C, int64_t count, float eps, float momentum) {
  if (count < 2)
    fail("batchnorm_finalize_stats",
         "training-mode statistics need more than one value per channel, got " + std::to_string(count));
  const double m = momentum;
  const double n = static_cast<double>(count);
  for (int64_t c = 0; c < C; ++c) {
    const double mu = sum[c] / n;
    const double var = std::max(sumSq[c] / n - mu * mu, 0.0);
    mean[c] = static_cast<float>(mu);
    invStd[c] = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    if (runningMean != nullptr) runningMean[c] = static_cast<float>((1.0 - m) * runningMean[c] + m * mu);
    if (runningVar != nullptr) runningVar[c] = static_cast<float>((1.0 - m) * runningVar[c] + m * var * n / (n - 1.0));
  }
}

void batchnorm_normalize_rows(RowBand y, ConstRowBand x, const float* mean, const float* invStd, const float* gamma,
                              const float* beta, int64_t a, int64_t b, bool relu) {
  check_rows_of_one_map("batchnorm_normalize_rows", {{"output", y}, {"input", x}}, a, b);
  const int64_t count = (b - a) * x.W;
  parallel_each(x.C, x.N * count, [&](int64_t c) {
    // PyTorch's form: y = x * scale + shift.
    const kernels::BatchNormAffine f = kernels::batchnorm_affine(mean[c], invStd[c], gamma[c], beta[c]);
    for (int64_t n = 0; n < x.N; ++n) {
      float* out = y.row(n, c, a);
      const float* in = x.row(n, c, a);
      if (relu)
        for (int64_t i = 0; i < count; ++i) out[i] = kernels::Relu{}.forward(f(in[i]));
      else
        for (int64_t i = 0; i < count; ++i) out[i] = f(in[i]);
    }
  });
}

void batchnorm_backward_reduce_rows(double* sumDy, double* sumDyXhat, ConstRowBand dy, ConstRowBand x,
                                    const float* mean, const float* invStd, int64_t a, int64_t b) {
  check_rows_of_one_map("batchnorm_backward_reduce_rows", {{"output-gradient", dy}, {"input", x}}, a, b);
  const int64_t count = (b - a) * x.W;
  parallel_each(x.C, x.N * count, [&](int64_t c) {
    for (int64_t n = 0; n < x.N; ++n) {
      const float* d = dy.row(n, c, a);
      const float* v = x.row(n, c, a);
      double s = 0.0, sx = 0.0;
      for (int64_t i = 0; i < count; ++i) {
        s += d[i];
        sx += static_cast<double>(d[i]) * (v[i] - mean[c]);
      }
      sumDy[c] += s;
      sumDyXhat[c] += sx * invStd[c];
    }
  });
}

void batchnorm_train_backward_rows(RowBand dx, ConstRowBand dy, ConstRowBand x, const float* gamma, const float* mean,
                                   const float* invStd, const double* sumDy, const double* sumDyXhat, int64_t count,
                                   int64_t a, int64_t b) {
  check_rows_of_one_map("batchnorm_train_backward_rows",
                        {{"input-gradient", dx}, {"output-gradient", dy}, {"input", x}}, a, b);
  if (count < 1) fail("batchnorm_train_backward_rows", "count must be positive");
  std::vector<double> meanDy(x.C), meanDyXhat(x.C);
  for (int64_t c = 0; c < x.C; ++c) {
    meanDy[c] = sumDy[c] / static_cast<double>(count);
    meanDyXhat[c] = sumDyXhat[c] / static_cast<double>(count);
  }
  backwardApply(dx, dy, x, gamma, mean, invStd, meanDy.data(), meanDyXhat.data(), a, b);
}

void batchnorm_train_forward(float* y, float* saveMean, float* saveInvStd, float* runningMean, float* runningVar,
                             const float* x, const float* gamma, const float* beta, int64_t N, int64_t C, int64_t HW,
                             float eps, float momentum) {
  const ConstRowBand in = full_band(x, N, C, 1, HW);
  std::vector<double> sum(C), sumSq(C);
  batchnorm_stats_rows(sum.data(), sumSq.data(), in, 0, 1);
  batchnorm_finalize_stats(saveMean, saveInvStd, runningMean, runningVar, sum.data(), sumSq.data(), C, N * HW, eps,
                           momentum);
  batchnorm_normalize_rows(full_band(y, N, C, 1, HW), in, saveMean, saveInvStd, gamma, beta, 0, 1);
}

void batchnorm_train_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                              const float* gamma, const float* saveMean, const float* saveInvStd, int64_t N, int64_t C,
                              int64_t HW) {
  const ConstRowBand in = full_band(x, N, C, 1, HW), grad = full_band(dy, N, C, 1, HW);
  std::vector<double> sumDy(C), sumDyXhat(C);
  batchnorm_backward_reduce_rows(sumDy.data(), sumDyXhat.data(), grad, in, saveMean, saveInvStd, 0, 1);
  batchnorm_train_backward_rows(full_band(dx, N, C, 1, HW), grad, in, gamma, saveMean, saveInvStd, sumDy.data(),
                                sumDyXhat.data(), N * HW, 0, 1);
  for (int64_t c = 0; c < C; ++c) {
    if (dgamma != nullptr) dgamma[c] += static_cast<float>(sumDyXhat[c]);
    if (dbeta != nullptr) dbeta[c] += static_cast<float>(sumDy[c]);
  }
}

void batchnorm_stats(float* mean, float* invStd, float* runningMean, float* runningVar, ConstRowBand x, float eps,
                     float momentum) {
  std::vector<double> sum(x.C), sumSq(x.C);
  batchnorm_stats_rows(sum.data(), sumSq.data(), x, x.row0, x.row0 + x.rows);
  batchnorm_finalize_stats(mean, invStd, runningMean, runningVar, sum.data(), sumSq.data(), x.C, x.N * x.rows * x.W, eps,
                           momentum);
}

void batchnorm_apply_backward_rows(RowBand dx, float* dscale, float* dbias, float* dmean, float* dinvStd,
                                   ConstRowBand dy, ConstRowBand x, const float* scale, const float* mean,
                                   const float* invStd, int64_t a, int64_t b, const float* reluBias) {
  check_rows_of_one_map("batchnorm_apply_backward_rows",
                        {{"input-gradient", dx}, {"output-gradient", dy}, {"input", x}}, a, b);
  const int64_t count = (b - a) * x.W;
  parallel_each(x.C, x.N * count, [&](int64_t c) {
    const float k = scale[c] * invStd[c];
    double sumDy = 0.0, sumDyCentered = 0.0;  // sum(dy), sum(dy * (x - mean))
    for (int64_t n = 0; n < x.N; ++n) {
      float* g = dx.row(n, c, a);
      const float* d = dy.row(n, c, a);
      const float* v = x.row(n, c, a);
      double s = 0.0, sx = 0.0;
      if (reluBias != nullptr) {
        // dy masked first, in a loop of its own (a vectorised select; in the summing loop
        // below the compiler branched on the mask, 2 to 4 times slower), then as unfused.
        const kernels::BatchNormAffine f = kernels::batchnorm_affine(mean[c], invStd[c], scale[c], reluBias[c]);
        thread_local std::vector<float> masked;
        masked.resize(static_cast<size_t>(count));
        float* m = masked.data();
        for (int64_t i = 0; i < count; ++i) m[i] = kernels::Relu{}.backward(d[i], f(v[i]));
        d = m;
      }
      for (int64_t i = 0; i < count; ++i) {
        g[i] += k * d[i];
        s += d[i];
        sx += static_cast<double>(d[i]) * (v[i] - mean[c]);
      }
      sumDy += s;
      sumDyCentered += sx;
    }
    dscale[c] += static_cast<float>(sumDyCentered * invStd[c]);
    dbias[c] += static_cast<float>(sumDy);
    dmean[c] += static_cast<float>(-static_cast<double>(k) * sumDy);
    dinvStd[c] += static_cast<float>(static_cast<double>(scale[c]) * sumDyCentered);
  });
}

void batchnorm_stats_backward(RowBand dx, ConstRowBand acc, ConstRowBand x, const float* mean, const float* invStd,
                              const float* dmean, const float* dinvStd) {
  const int64_t a = dx.row0, b = dx.row0 + dx.rows;
  check_rows_of_one_map("batchnorm_stats_backward", {{"input", x}, {"result", dx}}, a, b);
  if (acc.data != nullptr) check_rows_of_one_map("batchnorm_stats_backward", {{"accumulated gradient", acc}, {"result", dx}}, a, b);
  const double m = static_cast<double>(x.N * x.H * x.W);
  const int64_t len = dx.rows * dx.W;
  parallel_each(x.C, x.N * len, [&](int64_t c) {
    const double is = invStd[c];
    const float shift = static_cast<float>(dmean[c] / m);
    const float slope = static_cast<float>(-dinvStd[c] * is * is * is / m);
    for (int64_t n = 0; n < x.N; ++n) {
      float* out = dx.row(n, c, a);
      const float* in = x.row(n, c, a);
      const float* base = acc.data != nullptr ? acc.row(n, c, a) : nullptr;
      for (int64_t i = 0; i < len; ++i) out[i] = (base ? base[i] : 0.0f) + shift + slope * (in[i] - mean[c]);
    }
  });
}

void batchnorm_frozen_rows_forward(RowBand y, ConstRowBand x, const float* gamma, const float* beta,
                                   const float* runningMean, const float* runningVar, float eps, int64_t a, int64_t b) {
  const std::vector<float> invStd = inverseStd(runningVar, x.C, eps);
  batchnorm_normalize_rows(y, x, runningMean, invStd.data(), gamma, beta, a, b);
}

void batchnorm_frozen_rows_backward(RowBand dx, float* dgamma, float* dbeta, ConstRowBand dy, ConstRowBand x,
                                    const float* gamma, const float* runningMean, const float* runningVar, float eps,
                                    int64_t a, int64_t b) {
  check_rows_of_one_map("batchnorm_frozen_rows_backward",
                        {{"input-gradient", dx}, {"output-gradient", dy}, {"input", x}}, a, b);
  const std::vector<float> invStd = inverseStd(runningVar, x.C, eps);
  std::vector<double> sumDy(x.C), sumDyXhat(x.C);
  batchnorm_backward_reduce_rows(sumDy.data(), sumDyXhat.data(), dy, x, runningMean, invStd.data(), a, b);
  backwardApply(dx, dy, x, gamma, runningMean, invStd.data(), nullptr, nullptr, a, b);
  for (int64_t c = 0; c < x.C; ++c) {
    if (dgamma != nullptr) dgamma[c] += static_cast<float>(sumDyXhat[c]);
    if (dbeta != nullptr) dbeta[c] += static_cast<float>(sumDy[c]);
  }
}

}  // namespace lrc::cpu
