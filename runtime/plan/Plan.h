// The plan file's generated classes, its version, its text form, and the plan's names of the
// optimizers (ops/Optimizer.h).
#pragma once

#include <cstdint>
#include <string>

#include "ops/Optimizer.h"
#include "runtime/plan/plan.pb.h"

namespace lrc::plan {

// Bumped on every incompatible change to plan.proto's meaning; loaders reject others.
constexpr uint32_t kPlanVersion = 3;
constexpr uint64_t kPlanAlignment = 64;

// The plan's name for an optimizer of the op table (ops/Optimizer.h), and back.
constexpr OptimizerKind optimizerKind(ops::Optimizer o) {
  switch (o) {
    case ops::Optimizer::Sgd: return SGD;
    case ops::Optimizer::AdamW: return ADAMW;
  }
  return SGD;
}
inline ops::Optimizer optimizerOf(OptimizerKind kind) {
  for (size_t i = 0; i < ops::kOptimizers.size(); ++i)
    if (optimizerKind(static_cast<ops::Optimizer>(i)) == kind) return static_cast<ops::Optimizer>(i);
  return ops::Optimizer::Sgd;  // not reached for a validated plan (PlanChecks: a known kind)
}

// The optimizer and its hyper-parameters in one line, as lrc-run prints them: "sgd: lr 0.01,
// momentum 0.9, weight decay 0" (", nesterov" after the momentum when on), "adamw: lr 0.001,
// beta1 0.9, beta2 0.999, eps 1e-08, weight decay 0.01"; `planText`: the plan text's form,
// "sgd lr=0.01 momentum=0.9 weight_decay=0" (an SGD plan's line as before AdamW existed).
std::string optimizerText(const Optimizer& o, bool planText = false);

// Readable text of a plan (lrc-compile --emit plan): header, memory by role, buffers,
// both programs step by step, and a summary of the initial data (not the data itself).
std::string printPlan(const Plan& p);

// "f32[8,3,224,224]"
std::string bufferType(const Buffer& b);

// A band's rows, " rows [16,24) of 224" (with a leading space), or "" for a whole tensor.
std::string bandText(const Buffer& b);

}  // namespace lrc::plan
