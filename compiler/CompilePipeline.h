// The pass pipelines lrc-compile runs, in one place, top to bottom.
#pragma once

#include <memory>

#include "ir/IR.h"

namespace lrc::compiler {

// After import: the canonical graph with every shape inferred and verified.
void runImportPipeline(ir::Module& m);

// The two programs of a training plan, both with every buffer placed in one arena: one SGD
// step (forward, loss, backward, updates) and one evaluation step (inference-mode forward
// to the logits) that shares the training step's inputs and globals at the same places.
struct TrainingPrograms {
  std::unique_ptr<ir::Module> train;
  std::unique_ptr<ir::Module> eval;
};

// From the imported (runImportPipeline'd) forward graph.
TrainingPrograms runTrainingPipeline(const ir::Module& forward);

}  // namespace lrc::compiler
