#include "runtime/cpu/Optimizer.h"

#include <stdexcept>

namespace lrc::cpu {

void sgd_update(float* param, float* momentumBuf, const float* grad, int64_t count, const OptimizerParams& p) {
  const kernels::SgdStep step = kernels::SgdStep::of(p);
  if (step.momentum != 0.0f && momentumBuf == nullptr)
    throw std::invalid_argument("sgd_update: momentum needs a buffer");
  for (int64_t i = 0; i < count; ++i) step.update(param, momentumBuf, grad, i);
}

void adamw_update(float* param, float* expAvg, float* expAvgSq, float* step, const float* grad, int64_t count,
                  const OptimizerParams& p) {
  *step += 1.0f;
  const kernels::AdamwStep update = kernels::AdamwStep::at(p, *step);
  for (int64_t i = 0; i < count; ++i) update.update(param, expAvg, expAvgSq, grad, i);
}

}  // namespace lrc::cpu
