// Turns the two planned programs of a training plan into the plan file (runtime/plan).
#pragma once

#include <string>

#include "compiler/CompilePipeline.h"
#include "runtime/plan/Plan.h"

namespace lrc::compiler {

// torch.optim.SGD's meaning; lrc-run may override each.
struct OptimizerDefaults {
  double lr = 0.01;
  double momentum = 0.9;
  double weightDecay = 0.0;
};

// `onnxPath` is the source model: the plan keeps it, without the initializer data that the
// plan's buffers hold, so that lrc-run can write the trained model back as ONNX.
plan::Plan emitPlan(const TrainingPrograms& programs, const std::string& onnxPath,
                    const OptimizerDefaults& optimizer);

}  // namespace lrc::compiler
