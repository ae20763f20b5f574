// BatchNorm of the CUDA backend, as cpu/BatchNorm.h: training mode (the statistics of the
// band's rows: the whole map, or a strip under --bn strip) and frozen mode (row-local).
// Statistics are per-channel double sums (Reduce.cuh) in the CPU's order: per image, then
// over images, so training-mode statistics match the CPU's bit for bit. Everything between
// the passes (mean, inverse std, the backward sums) lives in the backend's workspace of
// batchnorm_workspace_doubles(N, C) doubles.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>
#include <stdexcept>
#include <string>

#include "runtime/cuda/Device.h"
#include "runtime/cuda/Elementwise.cuh"
#include "runtime/cuda/Reduce.cuh"
#include "runtime/kernels/BatchNorm.h"
#include "runtime/kernels/Unary.h"

namespace lrc::cuda {

// Partials [C][N][2], then per channel: mean and inverse std (as doubles), sum(dy) and
// sum(dy * xhat).
inline int64_t batchnorm_workspace_doubles(int64_t N, int64_t C) { return 2 * N * C + 4 * C; }

namespace bn_detail {

struct Stats {
  double* partial;
  double *mean, *invStd, *sumDy, *sumDyXhat;
  Stats(double* ws, int64_t N, int64_t C)
      : partial(ws), mean(ws + 2 * N * C), invStd(mean + C), sumDy(invStd + C), sumDyXhat(sumDy + C) {}
};

// sum and sum of squares.
struct Moments {
  kernels::ConstRowBand x;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w, double* acc) const {
    const float v = x.at(n, c, h, w);
    acc[0] += v;
    acc[1] += static_cast<double>(v) * v;
  }
};

// Mean, inverse std and the running statistics' update (cpu::batchnorm_finalize_stats), into
// the workspace (T = double: the fused training BatchNorm) or into plan tensors (T = float:
// batchnorm_stats). The values are float-rounded either way.
template <class T>
struct Finalize {
  T *mean, *invStd;
  float *runningMean, *runningVar;  // null: not updated
  double count, eps, momentum;
  LRC_HD void operator()(int64_t c, const double* total) const {
    const double mu = total[0] / count;
    double var = total[1] / count - mu * mu;
    if (var < 0.0) var = 0.0;
    mean[c] = static_cast<float>(mu);
    invStd[c] = static_cast<float>(1.0 / sqrt(var + eps));
    if (runningMean != nullptr) runningMean[c] = static_cast<float>((1.0 - momentum) * runningMean[c] + momentum * mu);
    if (runningVar != nullptr)
      runningVar[c] = static_cast<float>((1.0 - momentum) * runningVar[c] + momentum * var * count / (count - 1.0));
  }
};

// Frozen mode's inverse std from the running variance.
struct FrozenInvStd {
  double* invStd;
  const float* runningVar;
  double eps;
  LRC_HD void operator()(int64_t c) const {
    invStd[c] = static_cast<float>(1.0 / sqrt(static_cast<double>(runningVar[c]) + eps));
  }
};

// y = x * scale + shift with scale = invStd * gamma, shift = beta - mean * scale (PyTorch's
// form, the CPU's float arithmetic).
struct Normalize {
  kernels::RowBand y;
  kernels::ConstRowBand x;
  const double *mean, *invStd;  // hold float values
  const float* runningMean;     // frozen mode: the mean, instead of `mean`
  const float *gamma, *beta;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    const float m = runningMean != nullptr ? runningMean[c] : static_cast<float>(mean[c]);
    const float scale = static_cast<float>(invStd[c]) * gamma[c];
    const float shift = beta[c] - m * scale;
    y.at(n, c, h, w) = x.at(n, c, h, w) * scale + shift;
  }
};

// sum(dy) and sum(dy * (x - mean)) (times invStd when finished).
struct GradMoments {
  kernels::ConstRowBand dy, x;
  const double* mean;
  const float* runningMean;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w, double* acc) const {
    const float m = runningMean != nullptr ? runningMean[c] : static_cast<float>(mean[c]);
    const float d = dy.at(n, c, h, w);
    acc[0] += d;
    acc[1] += static_cast<double>(d) * (x.at(n, c, h, w) - m);
  }
};

// Keeps the sums, and dgamma += sum(dy * xhat), dbeta += sum(dy).
struct FinishGrad {
  double *sumDy, *sumDyXhat;
  const double* invStd;
  float *dgamma, *dbeta;
  LRC_HD void operator()(int64_t c, const double* total) const {
    sumDy[c] = total[0];
    sumDyXhat[c] = total[1] * static_cast<float>(invStd[c]);
    dgamma[c] += static_cast<float>(sumDyXhat[c]);
    dbeta[c] += static_cast<float>(sumDy[c]);
  }
};

// dx += gamma * invStd * (dy - meanDy - xhat * meanDyXhat); frozen mode: dx += gamma * invStd * dy.
struct ApplyGrad {
  kernels::RowBand dx;
  kernels::ConstRowBand dy, x;
  const float* gamma;
  const double *mean, *invStd, *sumDy, *sumDyXhat;  // sums null: frozen mode
  double count;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    const float is = static_cast<float>(invStd[c]);
    const float k = gamma[c] * is;
    const float d = dy.at(n, c, h, w);
    if (sumDy == nullptr) {
      dx.at(n, c, h, w) += k * d;
      return;
    }
    const float mDy = static_cast<float>(sumDy[c] / count);
    const float mDyXhat = static_cast<float>(sumDyXhat[c] / count);
    dx.at(n, c, h, w) += k * (d - mDy - (x.at(n, c, h, w) - static_cast<float>(mean[c])) * is * mDyXhat);
  }
};

// ---- The split training BatchNorm (batchnorm_stats / batchnorm_apply): statistics as plan
// tensors (float), not workspace doubles ----

struct ApplyRows {
  kernels::RowBand y;
  kernels::ConstRowBand x;
  const float *mean, *invStd, *gamma, *beta;
  bool relu;  // batchnorm_apply {relu=1}
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    const float v = kernels::batchnorm_affine(mean[c], invStd[c], gamma[c], beta[c])(x.at(n, c, h, w));
    y.at(n, c, h, w) = relu ? kernels::Relu{}.forward(v) : v;
  }
};

// dy at (n, c, h, w), masked by a fused ReLU (reluBias non-null: batchnorm_apply_grad {relu=1})
// recomputed as the forward computed it (cpu::batchnorm_apply_backward_rows).
struct ApplyGradDy {
  kernels::ConstRowBand dy, x;
  const float *scale, *mean, *invStd, *reluBias;
  LRC_HD float operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    const float d = dy.at(n, c, h, w);
    if (reluBias == nullptr) return d;
    const float z = kernels::batchnorm_affine(mean[c], invStd[c], scale[c], reluBias[c])(x.at(n, c, h, w));
    return kernels::Relu{}.backward(d, z);
  }
};

// sum(dy) and sum(dy * (x - mean)).
struct ApplyGradMoments {
  ApplyGradDy dy;
  kernels::ConstRowBand x;
  const float* mean;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w, double* acc) const {
    const float d = dy(n, c, h, w);
    acc[0] += d;
    acc[1] += static_cast<double>(d) * (x.at(n, c, h, w) - mean[c]);
  }
};

// dscale, dbias, dmean, dinvstd += from the two sums (cpu::batchnorm_apply_backward_rows).
struct FinishApplyGrad {
  float *dscale, *dbias, *dmean, *dinvStd;
  const float *scale, *invStd;
  LRC_HD void operator()(int64_t c, const double* total) const {
    const float k = scale[c] * invStd[c];
    dscale[c] += static_cast<float>(total[1] * invStd[c]);
    dbias[c] += static_cast<float>(total[0]);
    dmean[c] += static_cast<float>(-static_cast<double>(k) * total[0]);
    dinvStd[c] += static_cast<float>(static_cast<double>(scale[c]) * total[1]);
  }
};

struct ApplyGradRows {
  kernels::RowBand dx;
  ApplyGradDy dy;
  const float *scale, *invStd;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    dx.at(n, c, h, w) += scale[c] * invStd[c] * dy(n, c, h, w);
  }
};

// dx = acc + (dmean - dinvstd * invstd^3 * (x - mean)) / M.
struct StatsGrad {
  kernels::RowBand dx;
  kernels::ConstRowBand x, acc;  // acc.data null: none
  const float *mean, *invStd, *dmean, *dinvStd;
  double count;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    const double is = invStd[c];
    const float shift = static_cast<float>(dmean[c] / count);
    const float slope = static_cast<float>(-dinvStd[c] * is * is * is / count);
    const float base = acc.data != nullptr ? acc.at(n, c, h, w) : 0.0f;
    dx.at(n, c, h, w) = base + shift + slope * (x.at(n, c, h, w) - mean[c]);
  }
};

inline int64_t checkedCount(const kernels::ConstRowBand& x) {
  const int64_t count = x.N * x.rows * x.W;
  if (count < 2)
    throw std::invalid_argument("batchnorm: training-mode statistics need more than one value per channel, got " +
                                std::to_string(count));
  return count;
}

// The batch statistics of x's rows into the workspace (and the running statistics' update).
template <class D>
void batchStats(D& dev, kernels::ConstRowBand x, float* runningMean, float* runningVar, float eps, float momentum,
                const Stats& st) {
  const int64_t count = checkedCount(x);
  channel_sums<2>(dev, x.N, x.C, x.row0, x.row0 + x.rows, x.W, Moments{x}, st.partial,
                  Finalize<double>{st.mean, st.invStd, runningMean, runningVar, static_cast<double>(count), eps, momentum});
}

}  // namespace bn_detail

// Training mode over the band's rows: y = normalized x with the batch statistics; the
// running statistics (either may be null) updated once. y and x are bands of the same rows.
template <class D>
void batchnorm_train_forward(D& dev, kernels::RowBand y, kernels::ConstRowBand x, const float* gamma, const float* beta,
                             float* runningMean, float* runningVar, float eps, float momentum, double* workspace) {
  const bn_detail::Stats st(workspace, x.N, x.C);
  bn_detail::batchStats(dev, x, runningMean, runningVar, eps, momentum, st);
  forRows(dev, x.N, x.C, x.W, x.row0, x.row0 + x.rows,
          bn_detail::Normalize{y, x, st.mean, st.invStd, nullptr, gamma, beta});
}

// Training mode backward over the band's rows, the statistics recomputed from x: dx, dgamma
// and dbeta += (the caller zeroes them).
template <class D>
void batchnorm_train_backward(D& dev, kernels::RowBand dx, float* dgamma, float* dbeta, kernels::ConstRowBand dy,
                              kernels::ConstRowBand x, const float* gamma, float eps, double* workspace) {
  const bn_detail::Stats st(workspace, x.N, x.C);
  bn_detail::batchStats(dev, x, nullptr, nullptr, eps, 0.0f, st);
  const int64_t a = x.row0, b = x.row0 + x.rows;
  channel_sums<2>(dev, x.N, x.C, a, b, x.W, bn_detail::GradMoments{dy, x, st.mean, nullptr}, st.partial,
                  bn_detail::FinishGrad{st.sumDy, st.sumDyXhat, st.invStd, dgamma, dbeta});
  forRows(dev, x.N, x.C, x.W, a, b,
          bn_detail::ApplyGrad{dx, dy, x, gamma, st.mean, st.invStd, st.sumDy, st.sumDyXhat,
                               static_cast<double>(x.N * x.rows * x.W)});
}

// Frozen mode, rows [a, b): y = (x - runningMean) / sqrt(runningVar + eps) * gamma + beta.
template <class D>
void batchnorm_frozen_rows_forward(D& dev, kernels::RowBand y, kernels::ConstRowBand x, const float* gamma,
                                   const float* beta, const float* runningMean, const float* runningVar, float eps,
                                   int64_t a, int64_t b, double* workspace) {
  const bn_detail::Stats st(workspace, x.N, x.C);
  dev.forEach(x.C, bn_detail::FrozenInvStd{st.invStd, runningVar, eps});
  forRows(dev, x.N, x.C, x.W, a, b, bn_detail::Normalize{y, x, nullptr, st.invStd, runningMean, gamma, beta});
}

// Frozen mode backward over dy rows [a, b): dx += dy * gamma * invStd; dgamma, dbeta +=.
template <class D>
void batchnorm_frozen_rows_backward(D& dev, kernels::RowBand dx, float* dgamma, float* dbeta, kernels::ConstRowBand dy,
                                    kernels::ConstRowBand x, const float* gamma, const float* runningMean,
                                    const float* runningVar, float eps, int64_t a, int64_t b, double* workspace) {
  const bn_detail::Stats st(workspace, x.N, x.C);
  dev.forEach(x.C, bn_detail::FrozenInvStd{st.invStd, runningVar, eps});
  channel_sums<2>(dev, x.N, x.C, a, b, x.W, bn_detail::GradMoments{dy, x, nullptr, runningMean}, st.partial,
                  bn_detail::FinishGrad{st.sumDy, st.sumDyXhat, st.invStd, dgamma, dbeta});
  forRows(dev, x.N, x.C, x.W, a, b,
          bn_detail::ApplyGrad{dx, dy, x, gamma, nullptr, st.invStd, nullptr, nullptr, 0.0});
}

// batchnorm_stats: mean and invStd (float results) of x's rows, the running statistics updated.
template <class D>
void batchnorm_stats(D& dev, float* mean, float* invStd, float* runningMean, float* runningVar, kernels::ConstRowBand x,
                     float eps, float momentum, double* workspace) {
  const int64_t count = bn_detail::checkedCount(x);
  channel_sums<2>(dev, x.N, x.C, x.row0, x.row0 + x.rows, x.W, bn_detail::Moments{x}, workspace,
                  bn_detail::Finalize<float>{mean, invStd, runningMean, runningVar, static_cast<double>(count), eps,
                                             momentum});
}

// batchnorm_stats over every rank's map (data-parallel bn-sync): the per-channel sums are
// stored after the partials in the workspace, brought to the host, summed over the ranks by
// `sumOverRanks(double* sums, int64_t count)` (blocking) and finalized over `ranks` times the
// elements, on the device.
namespace bn_detail {
struct StoreTotals {
  double* out;
  LRC_HD void operator()(int64_t c, const double* total) const {
    out[2 * c] = total[0];
    out[2 * c + 1] = total[1];
  }
};
struct FinalizeTotals {
  Finalize<float> finalize;
  const double* totals;
  LRC_HD void operator()(int64_t c) const { finalize(c, totals + 2 * c); }
};
}  // namespace bn_detail

template <class D, class SumOverRanks>
void batchnorm_stats_synced(D& dev, float* mean, float* invStd, float* runningMean, float* runningVar,
                            kernels::ConstRowBand x, float eps, float momentum, double* workspace, int ranks,
                            const SumOverRanks& sumOverRanks) {
  const int64_t count = bn_detail::checkedCount(x);
  double* totals = workspace + 2 * x.N * x.C;  // the workspace's last 4 * C doubles
  channel_sums<2>(dev, x.N, x.C, x.row0, x.row0 + x.rows, x.W, bn_detail::Moments{x}, workspace,
                  bn_detail::StoreTotals{totals});
  std::vector<double> host(static_cast<size_t>(2 * x.C));
  dev.toHost(host.data(), totals, host.size() * sizeof(double));
  sumOverRanks(host.data(), 2 * x.C);
  dev.toDevice(totals, host.data(), host.size() * sizeof(double));
  dev.forEach(x.C, bn_detail::FinalizeTotals{{mean, invStd, runningMean, runningVar,
                                              static_cast<double>(count) * ranks, eps, momentum},
                                             totals});
}

// batchnorm_apply, rows [a, b); relu: {relu=1}, the ReLU of that.
template <class D>
void batchnorm_apply_rows(D& dev, kernels::RowBand y, kernels::ConstRowBand x, const float* mean, const float* invStd,
                          const float* gamma, const float* beta, int64_t a, int64_t b, bool relu = false) {
  forRows(dev, x.N, x.C, x.W, a, b, bn_detail::ApplyRows{y, x, mean, invStd, gamma, beta, relu});
}

// batchnorm_apply_grad over dy rows [a, b): dx += scale * invStd * dy, and the four sums +=;
// reluBias non-null ({relu=1}): dy masked by the fused ReLU first.
template <class D>
void batchnorm_apply_backward_rows(D& dev, kernels::RowBand dx, float* dscale, float* dbias, float* dmean,
                                   float* dinvStd, kernels::ConstRowBand dy, kernels::ConstRowBand x,
                                   const float* scale, const float* mean, const float* invStd, int64_t a, int64_t b,
                                   double* workspace, const float* reluBias = nullptr) {
  const bn_detail::ApplyGradDy masked{dy, x, scale, mean, invStd, reluBias};
  channel_sums<2>(dev, x.N, x.C, a, b, x.W, bn_detail::ApplyGradMoments{masked, x, mean}, workspace,
                  bn_detail::FinishApplyGrad{dscale, dbias, dmean, dinvStd, scale, invStd});
  forRows(dev, x.N, x.C, x.W, a, b, bn_detail::ApplyGradRows{dx, masked, scale, invStd});
}

// batchnorm_stats_grad on dx's rows (the whole map or a band of it; x and acc hold them):
// dx = acc + the statistics' term (acc.data may be null), M = N * H * W of the whole map.
template <class D>
void batchnorm_stats_backward(D& dev, kernels::RowBand dx, kernels::ConstRowBand x, kernels::ConstRowBand acc,
                              const float* mean, const float* invStd, const float* dmean, const float* dinvStd) {
  forRows(dev, x.N, x.C, x.W, dx.row0, dx.row0 + dx.rows,
          bn_detail::StatsGrad{dx, x, acc, mean, invStd, dmean, dinvStd, static_cast<double>(x.N * x.H * x.W)});
}

}  // namespace lrc::cuda
