#include "runtime/cpu/Optimizer.h"

#include <stdexcept>

#include "runtime/cpu/Parallel.h"
#include "runtime/kernels/FusedSgd.h"

namespace lrc::cpu {

// Element i is one thread's (Parallel.h).

void sgd_update(float* param, float* momentumBuf, const float* grad, int64_t count, const OptimizerParams& p) {
  const kernels::SgdStep step = kernels::SgdStep::of(p);
  if (step.momentum != 0.0f && momentumBuf == nullptr)
    throw std::invalid_argument("sgd_update: momentum needs a buffer");
  parallel_for(count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) step.update(param, momentumBuf, grad, i);
  });
}

void sgd_momentum_scale(float* momentumBuf, int64_t count, const OptimizerParams& p) {
  const kernels::SgdStep step = kernels::fusedSgdStep(p, "sgd_momentum_scale");
  parallel_for(count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) step.scale(momentumBuf, i);
  });
}

void sgd_apply(float* param, float* momentumBuf, int64_t count, const OptimizerParams& p) {
  const kernels::SgdStep step = kernels::fusedSgdStep(p, "sgd_apply");
  parallel_for(count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) step.apply(param, momentumBuf, i);
  });
}

void adamw_update(float* param, float* expAvg, float* expAvgSq, float* step, const float* grad, int64_t count,
                  const OptimizerParams& p) {
  *step += 1.0f;
  const kernels::AdamwStep update = kernels::AdamwStep::at(p, *step);
  parallel_for(count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) update.update(param, expAvg, expAvgSq, grad, i);
  });
}

}  // namespace lrc::cpu
