// The optimizers' update math (ops/Optimizer.h lists the optimizers), once for both backends:
// a step's hyper-parameters, the constants one update derives from them, and the update of
// element i (LRC_HD), which the CPU loops (cpu/Optimizer.cpp) and the CUDA functors
// (cuda/Optimizer.cuh) call, and the fused SGD form's halves (sgd_momentum_scale, sgd_apply). Semantics: torch.optim in torch 1.13,
// single-tensor path, float32 element math with the bias corrections in double as torch's
// Python scalars are.
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/kernels/Portable.h"

namespace lrc::kernels {

// One training step's hyper-parameters (runtime::RunContext), torch.optim's meaning. lr is the
// step's own (a schedule's, lrc-run --lr-schedule).
struct OptimizerParams {
  double lr = 0;
  double weightDecay = 0;  // sgd: L2 added to the gradient; adamw: decoupled
  double momentum = 0;     // sgd
  bool nesterov = false;   // sgd
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adamw
};

// torch.optim.SGD, dampening 0: d = grad + wd * param; with momentum, buf = momentum * buf + d
// and d = buf (Nesterov: d + momentum * buf); param -= lr * d. A zero-initialized buffer gives
// PyTorch's first step (buf = d). With momentum 0 the buffer is not read (it may be null).
struct SgdStep {
  float lr, momentum, weightDecay;
  bool nesterov;

  static SgdStep of(const OptimizerParams& p) {
    return {static_cast<float>(p.lr), static_cast<float>(p.momentum), static_cast<float>(p.weightDecay), p.nesterov};
  }
  LRC_HD void update(float* param, float* buf, const float* grad, int64_t i) const {
    float d = grad[i] + weightDecay * param[i];
    if (momentum != 0.0f) {
      buf[i] = momentum * buf[i] + d;
      d = nesterov ? d + momentum * buf[i] : buf[i];
    }
    param[i] -= lr * d;
  }
  // The fused form (passes/FuseSgdGrads.cpp): the gradient's contributions are added into the
  // buffer between scale (buf = momentum * buf) and apply (d = buf + wd * param; param -= lr *
  // d), so buf holds momentum * buf + grad + wd * param as update() leaves it; not Nesterov.
  // With momentum 0 the buffer is only the gradient's place: scale clears it (0 * a stale
  // non-finite value would not be 0) and apply leaves it 0, as update() leaves it untouched.
  LRC_HD void scale(float* buf, int64_t i) const { buf[i] = momentum != 0.0f ? momentum * buf[i] : 0.0f; }
  LRC_HD void apply(float* param, float* buf, int64_t i) const {
    const float d = buf[i] + weightDecay * param[i];
    buf[i] = momentum != 0.0f ? d : 0.0f;
    param[i] -= lr * d;
  }
};

// torch.optim.AdamW, amsgrad off, at step count t (after this step's increment: 1 first):
// param *= 1 - lr * wd; m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * g^2;
// param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
struct AdamwStep {
  float decay, beta1, beta2, oneMinusBeta1, oneMinusBeta2, stepSize, biasCorrection2Sqrt, eps;

  LRC_HD static AdamwStep at(const OptimizerParams& p, float t) {
    const double biasCorrection1 = 1.0 - pow(p.beta1, static_cast<double>(t));
    const double biasCorrection2 = 1.0 - pow(p.beta2, static_cast<double>(t));
    return {static_cast<float>(1.0 - p.lr * p.weightDecay),
            static_cast<float>(p.beta1),
            static_cast<float>(p.beta2),
            static_cast<float>(1.0 - p.beta1),
            static_cast<float>(1.0 - p.beta2),
            static_cast<float>(p.lr / biasCorrection1),
            static_cast<float>(sqrt(biasCorrection2)),
            static_cast<float>(p.eps)};
  }
  LRC_HD void update(float* param, float* expAvg, float* expAvgSq, const float* grad, int64_t i) const {
    const float g = grad[i];
    param[i] *= decay;
    expAvg[i] = expAvg[i] * beta1 + g * oneMinusBeta1;
    expAvgSq[i] = expAvgSq[i] * beta2 + oneMinusBeta2 * g * g;
    const float denom = sqrtf(expAvgSq[i]) / biasCorrection2Sqrt + eps;
    param[i] -= stepSize * expAvg[i] / denom;
  }
};

}  // namespace lrc::kernels
