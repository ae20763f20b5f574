// Checks a module's invariants: SSA (every operand defined before use, names unique),
// operand counts and element types, attributes present, and result types equal to the
// inferred ones. Throws ir::Error at the first violation.
#pragma once

#include "ir/IR.h"

namespace lrc::ir {

// With checkTypes false only structure is checked (SSA, counts, ownership), not types or
// the memory plan: lrc-opt uses that on its input, so that infer-shapes can be tested on
// text with stale types and plan-memory on partly placed text.
void verifyModule(const Module& m, bool checkTypes = true);

}  // namespace lrc::ir
