// Checks a module's invariants: SSA (every operand defined before use, names unique),
// operand counts and element types, attributes present, and result types equal to the
// inferred ones. Throws ir::Error at the first violation.
#pragma once

#include "ir/IR.h"

namespace lrc::ir {

void verifyModule(const Module& m);

}  // namespace lrc::ir
