// What each op result of a training program is, for the plan's buffer roles and the memory
// report by category (lrc-compile's summary, docs/benchmarks.md).
#pragma once

#include <cstddef>
#include <map>

#include "ir/IR.h"

namespace lrc::compiler {

enum class ResultRole {
  KeptActivation,      // computed by the forward (before the loss) and read after it
  Transient,           // forward values only the forward reads; recomputed strips in backward
  ActivationGradient,  // depends on the loss gradient, not a parameter's gradient
  ParameterGradient,   // a parameter's gradient (read by sgd_update), or a part summed into one
};

// Classifies every op result of `m`; ops from `backwardFrom` on are the backward (the loss
// and what follows). A backward result that does not depend on the loss gradient is a
// recomputed activation (Transient): row plans recompute strips there.
ir::ValueMap<ResultRole> classifyResults(const ir::Module& m, size_t backwardFrom);

}  // namespace lrc::compiler
