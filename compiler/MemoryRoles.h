// What each buffer of a training program is, for the plan's buffer roles, the memory report
// by category (lrc-compile's summary, docs/benchmarks.md) and the memory picture
// (compiler/MemoryPlot.h): one classification for all three.
#pragma once

#include <cstddef>
#include <map>
#include <vector>

#include "ir/IR.h"
#include "ir/Liveness.h"
#include "runtime/plan/Plan.h"

namespace lrc::compiler {

enum class ResultRole {
  KeptActivation,      // computed by the forward (before the loss) and read after it
  Transient,           // forward values only the forward reads; recomputed strips in backward
  ActivationGradient,  // depends on the loss gradient, not a parameter's gradient
  ParameterGradient,   // a parameter's gradient (read by an optimizer update), or a part summed into one
};

// Classifies every op result of `m`; ops from `backwardFrom` on are the backward (the loss
// and what follows). A backward result that does not depend on the loss gradient is a
// recomputed activation (Transient): row plans recompute strips there.
ir::ValueMap<ResultRole> classifyResults(const ir::Module& m, size_t backwardFrom);

// The optimizer's state: every operand of an optimizer update but the parameter and its
// gradient (SGD's momentum, AdamW's moments and step counts; ops/Optimizer.h).
ir::ValueSet optimizerState(const ir::Module& m);
// The plan role of an input or global (`optimizerState`: optimizerState of its module).
plan::Role globalRole(const ir::Value& v, const ir::ValueSet& optimizerState);
// The plan role of an op result.
plan::Role roleOf(ResultRole r);
// The plan role of each of `buffers` (ir::liveBuffers(m), in its order): scratch is workspace.
std::vector<plan::Role> liveBufferRoles(const ir::Module& m, const std::vector<ir::LiveBuffer>& buffers,
                                        size_t backwardFrom);

}  // namespace lrc::compiler
