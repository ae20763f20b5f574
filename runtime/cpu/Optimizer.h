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

// The fused form's halves (ops/Ops.def: sgd_momentum_scale, sgd_apply; Nesterov refused with
// std::invalid_argument): the momentum buffer scaled before the gradient's contributions add
// into it, and the parameter updated from it after.
void sgd_momentum_scale(float* momentumBuf, int64_t count, const OptimizerParams& p);
void sgd_apply(float* param, float* momentumBuf, int64_t count, const OptimizerParams& p);

// torch.optim.AdamW (amsgrad off): `step` (f32[], the step count) is incremented first, then
// the bias corrections use it.
void adamw_update(float* param, float* expAvg, float* expAvgSq, float* step, const float* grad, int64_t count,
                  const OptimizerParams& p);

}  // namespace lrc::cpu
