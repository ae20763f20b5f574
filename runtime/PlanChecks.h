// Checking a decoded plan before anything runs (SPEC.md §4): a corrupt or inconsistent plan is
// a one-line error naming the plan and the buffer or step, never a crash.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/Backend.h"
#include "runtime/plan/Plan.h"

namespace lrc::runtime {

// Checks a decoded plan whose weights section holds `weightsBytes` bytes (the list is in
// docs/plan-format.md, "Validation on load"): buffers (dtype, positive dims, bytes, 64-byte
// alignment, inside the arena), each step of both programs (kernel supported by `backend`,
// indices, operand and result counts, attributes and their arity, dtypes and shapes
// consistent with the kernel, scratch large enough, no result overlapping an operand, no
// read of a buffer nothing wrote), the io buffers, the inits (of global buffers only, once
// each, not overlapping in the arena, exactly the buffer's bytes from an increasing,
// non-overlapping range inside the weights section, or zeros) and the optimizer. Throws
// std::runtime_error("PATH: ...").
void validatePlan(const plan::Plan& plan, uint64_t weightsBytes, const std::string& path, const Backend& backend);

// Whether the plan's training step adds its weight gradients into the optimizer state
// (passes/FuseSgdGrads.cpp: sgd_momentum_scale / sgd_apply steps), which Nesterov momentum,
// reading the gradient apart from the buffer, cannot run.
bool fusesOptimizerGrads(const plan::Plan& plan);

}  // namespace lrc::runtime
