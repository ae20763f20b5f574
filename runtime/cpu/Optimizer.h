// The optimizer updates on the CPU, over `count` parameters in place: loops over the element
// updates of runtime/kernels/Optimizer.h (their formulas and torch.optim semantics are there).
#pragma once

#include <cstdint>

#include "runtime/kernels/Optimizer.h"

namespace lrc::cpu {

using kernels::OptimizerParams;

// torch.optim.SGD (dampening 0, Nesterov per `p`). With momentum 0 the buffer may be null;
// otherwise std::invalid_argument when it is.
void sgd_update(float* param, float* momentumBuf, const float* grad, int64_t count, const OptimizerParams& p);

// torch.optim.AdamW (amsgrad off): `step` (f32[], the step count) is incremented first, then
// the bias corrections use it.
void adamw_update(float* param, float* expAvg, float* expAvgSq, float* step, const float* grad, int64_t count,
                  const OptimizerParams& p);

}  // namespace lrc::cpu
