#include "runtime/cpu/Optimizer.h"

#include <stdexcept>

#include "runtime/kernels/FusedSgd.h"

namespace lrc::cpu {

void sgd_update(float* param, float* momentumBuf, const float* grad, int64_t count, const OptimizerParams& p) {
  const kernels::SgdStep step = kernels::SgdStep::of(p);
  if (step.momentum != 0.0f && momentumBuf == nullptr)
    throw std::invalid_argument("sgd_update: momentum needs a buffer");
  for (int64_t i = 0; i < count; ++i) step.update(param, momentumBuf, grad, i);
}

void sgd_momentum_scale(float* momentumBuf, int64_t count, const OptimizerParams& p) {
  const kernels::SgdStep step = kernels::fusedSgdStep(p, "sgd_momentum_scale");
  for (int64_t i = 0; i < count; ++i) step.scale(momentumBuf, i);
}

void sgd_apply(float* param, float* momentumBuf, int64_t count, const OptimizerParams& p) {
  const kernels::SgdStep step = kernels::fusedSgdStep(p, "sgd_apply");
  for (int64_t i = 0; i < count; ++i) step.apply(param, momentumBuf, i);
}

void adamw_update(float* param, float* expAvg, float* expAvgSq, float* step, const float* grad, int64_t count,
                  const OptimizerParams& p) {
  *step += 1.0f;
  const kernels::AdamwStep update = kernels::AdamwStep::at(p, *step);
  for (int64_t i = 0; i < count; ++i) update.update(param, expAvg, expAvgSq, grad, i);
}

}  // namespace lrc::cpu
