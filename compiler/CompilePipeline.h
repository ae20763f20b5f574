// The pass pipeline lrc-compile runs, in one place, top to bottom.
#pragma once

#include "ir/IR.h"

namespace lrc::compiler {

// After import: the canonical graph with every shape inferred and verified.
void runImportPipeline(ir::Module& m);

}  // namespace lrc::compiler
