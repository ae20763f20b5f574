// The fused SGD form's step (passes/FuseSgdGrads.cpp; SgdStep::scale and ::apply), checked
// once for both backends: Nesterov momentum needs the gradient apart from the momentum buffer,
// which a fused plan no longer has.
#pragma once

#include <stdexcept>
#include <string>

#include "runtime/kernels/Optimizer.h"

namespace lrc::kernels {

// SgdStep::of(p) for `kernel` (sgd_momentum_scale or sgd_apply); Nesterov is a one-line error.
inline SgdStep fusedSgdStep(const OptimizerParams& p, const char* kernel) {
  if (p.nesterov)
    throw std::invalid_argument(std::string(kernel) +
                                ": Nesterov momentum needs the gradient apart from the momentum buffer (a plan compiled "
                                "with lrc-compile --no-fuse-sgd-grads)");
  return SgdStep::of(p);
}

}  // namespace lrc::kernels
