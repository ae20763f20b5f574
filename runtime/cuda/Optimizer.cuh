// The optimizer updates of the CUDA backend: one thread per element, each calling the element
// update of runtime/kernels/Optimizer.h that cpu/Optimizer.cpp's loops call too. AdamW's step
// count lives in device memory: one single-thread launch increments it, then every thread
// of the update reads it and derives the step's bias corrections itself (two pow in double per
// element: the update is memory-bound, and reading the count back to the host would
// synchronize once per parameter).
#pragma once

#include <cstdint>
#include <stdexcept>

#include "runtime/cuda/Device.h"
#include "runtime/kernels/FusedSgd.h"
#include "runtime/kernels/Optimizer.h"

namespace lrc::cuda {

struct SgdUpdate {
  float* param;
  float* momentumBuf;
  const float* grad;
  kernels::SgdStep step;
  LRC_HD void operator()(int64_t i) const { step.update(param, momentumBuf, grad, i); }
};
template <class D>
void sgd_update(D& dev, float* param, float* momentumBuf, const float* grad, int64_t count,
                const kernels::OptimizerParams& p) {
  const kernels::SgdStep step = kernels::SgdStep::of(p);
  if (step.momentum != 0.0f && momentumBuf == nullptr) throw std::invalid_argument("sgd_update: momentum needs a buffer");
  dev.forEach(count, SgdUpdate{param, momentumBuf, grad, step});
}

// The fused form's halves (runtime/kernels/Optimizer.h: SgdStep::scale, ::apply).
struct SgdMomentumScale {
  float* momentumBuf;
  kernels::SgdStep step;
  LRC_HD void operator()(int64_t i) const { step.scale(momentumBuf, i); }
};
struct SgdApply {
  float* param;
  float* momentumBuf;
  kernels::SgdStep step;
  LRC_HD void operator()(int64_t i) const { step.apply(param, momentumBuf, i); }
};
template <class D>
void sgd_momentum_scale(D& dev, float* momentumBuf, int64_t count, const kernels::OptimizerParams& p) {
  dev.forEach(count, SgdMomentumScale{momentumBuf, kernels::fusedSgdStep(p, "sgd_momentum_scale")});
}
template <class D>
void sgd_apply(D& dev, float* param, float* momentumBuf, int64_t count, const kernels::OptimizerParams& p) {
  dev.forEach(count, SgdApply{param, momentumBuf, kernels::fusedSgdStep(p, "sgd_apply")});
}

struct CountStep {
  float* step;
  LRC_HD void operator()(int64_t) const { *step += 1.0f; }
};
struct AdamwUpdate {
  float* param;
  float* expAvg;
  float* expAvgSq;
  const float* step;
  const float* grad;
  kernels::OptimizerParams p;
  LRC_HD void operator()(int64_t i) const {
    kernels::AdamwStep::at(p, *step).update(param, expAvg, expAvgSq, grad, i);
  }
};
template <class D>
void adamw_update(D& dev, float* param, float* expAvg, float* expAvgSq, float* step, const float* grad, int64_t count,
                  const kernels::OptimizerParams& p) {
  dev.forEach(1, CountStep{step});
  dev.forEach(count, AdamwUpdate{param, expAvg, expAvgSq, step, grad, p});
}

}  // namespace lrc::cuda
