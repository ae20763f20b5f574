// Batch normalization over NCHW maps, training and frozen (inference-statistics) modes.
//
// Momentum is PyTorch's: running = (1 - momentum) * running + momentum * batch statistic
// (default 0.1). ONNX's BatchNormalization `momentum` attribute is the weight of the OLD
// value, i.e. 1 - PyTorch's momentum (default 0.9): convert when importing.
//
// Training mode needs statistics over the whole batch and map. The whole-map functions do
// it in one call; the *_rows pieces let a plan compute the same thing strip by strip
// (a statistics pass over strips, then a normalization pass), with the same result.
#pragma once

#include <cstdint>

#include "runtime/cpu/RowBand.h"

namespace lrc::cpu {

// ---- Training mode, whole map (x, y, dx, dy are N x C x HW) ----

// y = (x - mean) * invStd * gamma + beta with the batch mean and biased variance over
// (N, H, W); saveMean/saveInvStd (C each) keep mean and 1 / sqrt(var + eps) for backward.
// runningMean/runningVar are updated once, with the unbiased variance, as PyTorch does
// (either may be null to skip). Needs N * HW >= 2. y may alias x.
void batchnorm_train_forward(float* y, float* saveMean, float* saveInvStd, float* runningMean, float* runningVar,
                             const float* x, const float* gamma, const float* beta, int64_t N, int64_t C, int64_t HW,
                             float eps, float momentum);

// dx += gamma * invStd * (dy - mean(dy) - xhat * mean(dy * xhat)), xhat = (x - mean) * invStd,
// means over (N, H, W); dgamma += sum(dy * xhat), dbeta += sum(dy). dgamma/dbeta may be null.
void batchnorm_train_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                              const float* gamma, const float* saveMean, const float* saveInvStd, int64_t N, int64_t C,
                              int64_t HW);

// ---- Training mode in pieces, on row bands ----

// sum[c] += sum of x, sumSq[c] += sum of x^2 over rows [a, b), in double.
void batchnorm_stats_rows(double* sum, double* sumSq, ConstRowBand x, int64_t a, int64_t b);

// From sums over `count` elements per channel: mean, invStd = 1 / sqrt(biasedVar + eps), and
// the running statistics update (runningMean/runningVar may be null). Needs count >= 2.
void batchnorm_finalize_stats(float* mean, float* invStd, float* runningMean, float* runningVar, const double* sum,
                              const double* sumSq, int64_t C, int64_t count, float eps, float momentum);

// y rows [a, b) = (x - mean) * invStd * gamma + beta (kernels::batchnorm_affine's form); relu:
// max of that and 0 (batchnorm_apply {relu=1}). y may be the same band as x.
void batchnorm_normalize_rows(RowBand y, ConstRowBand x, const float* mean, const float* invStd, const float* gamma,
                              const float* beta, int64_t a, int64_t b, bool relu = false);

// sumDy[c] += sum of dy, sumDyXhat[c] += sum of dy * xhat over rows [a, b), in double.
void batchnorm_backward_reduce_rows(double* sumDy, double* sumDyXhat, ConstRowBand dy, ConstRowBand x,
                                    const float* mean, const float* invStd, int64_t a, int64_t b);

// dx rows [a, b) += gamma * invStd * (dy - sumDy / count - xhat * sumDyXhat / count), the sums
// being the whole map's (from batchnorm_backward_reduce_rows over all rows).
void batchnorm_train_backward_rows(RowBand dx, ConstRowBand dy, ConstRowBand x, const float* gamma, const float* mean,
                                   const float* invStd, const double* sumDy, const double* sumDyXhat, int64_t count,
                                   int64_t a, int64_t b);

// ---- Training mode split at the reduction (batchnorm_stats / batchnorm_apply, SPEC.md §5) ----
// The apply is batchnorm_normalize_rows with the saved statistics.

// mean, invStd (C each) of x's rows (the whole map), and the running statistics' update
// (either may be null), as batchnorm_finalize_stats.
void batchnorm_stats(float* mean, float* invStd, float* runningMean, float* runningVar, ConstRowBand x, float eps,
                     float momentum);

// Over dy rows [a, b): dx rows += scale * invStd * dy; dscale += sum(dy * xhat), dbias += sum(dy),
// dmean += -scale * invStd * sum(dy), dinvStd += scale * sum(dy * (x - mean)) (sums in double).
// reluBias non-null (batchnorm_apply_grad {relu=1}, the bias): dy is first masked by the fused
// ReLU, dy where the forward's x * scale + shift > 0, recomputed (kernels::batchnorm_affine) as
// the forward computed it, so the result is bit for bit that of relu_grad then the unfused kernel.
void batchnorm_apply_backward_rows(RowBand dx, float* dscale, float* dbias, float* dmean, float* dinvStd,
                                   ConstRowBand dy, ConstRowBand x, const float* scale, const float* mean,
                                   const float* invStd, int64_t a, int64_t b, const float* reluBias = nullptr);

// dx = acc + (dmean - dinvStd * invStd^3 * (x - mean)) / M on dx's rows, M = N * H * W (H: the
// whole map's height, so a band of it gives those rows of the whole-map result); x and acc
// hold dx's rows (acc.data may be null: zero). The gradient through the statistics.
void batchnorm_stats_backward(RowBand dx, ConstRowBand acc, ConstRowBand x, const float* mean, const float* invStd,
                              const float* dmean, const float* dinvStd);

// ---- Frozen mode: a per-channel affine map with the running statistics; row-local ----

// y rows [a, b) = (x - runningMean) / sqrt(runningVar + eps) * gamma + beta.
void batchnorm_frozen_rows_forward(RowBand y, ConstRowBand x, const float* gamma, const float* beta,
                                   const float* runningMean, const float* runningVar, float eps, int64_t a, int64_t b);

// dx rows [a, b) += dy * gamma / sqrt(runningVar + eps); dgamma += sum(dy * xhat),
// dbeta += sum(dy) over those rows (dgamma/dbeta may be null).
void batchnorm_frozen_rows_backward(RowBand dx, float* dgamma, float* dbeta, ConstRowBand dy, ConstRowBand x,
                                    const float* gamma, const float* runningMean, const float* runningVar, float eps,
                                    int64_t a, int64_t b);

}  // namespace lrc::cpu
