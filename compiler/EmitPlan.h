// Turns planned modules into plan files (runtime/plan): the two programs of a training plan,
// or one forward program for tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "compiler/CompilePipeline.h"
#include "ops/Optimizer.h"
#include "runtime/plan/Plan.h"

namespace lrc::compiler {

// The plan's optimizer record (plan.proto's Optimizer) with the defaults of `optimizer`'s
// hyper-parameters, which lrc-run may override: sgd lr 0.01, momentum 0.9, no Nesterov, weight
// decay 0; adamw torch.optim.AdamW's, lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2.
plan::Optimizer defaultOptimizer(ops::Optimizer optimizer = ops::Optimizer::Sgd);

// `optimizer` is the plan's optimizer record: its kind must be the optimizer whose updates the
// training program holds (ir::Error otherwise). `onnxPath` is the source model: the plan keeps it, without the initializer data that the
// plan's buffers hold, so that lrc-run can write the trained model back as ONNX. `weights`
// gets the plan file's weights section, which the plan's inits point into
// (plan::encodePlanFile(plan, weights) writes both; plan::MemoryWeights(weights) reads it).
plan::Plan emitPlan(const TrainingPrograms& programs, const std::string& onnxPath,
                    const plan::Optimizer& optimizer, std::string& weights);

// The memory report emitPlan gives a plan (bytes by category at the training program's
// peak step), and the arena the plan needs, without emitting it: for comparing candidate
// plans (compiler/PlanSearch).
plan::MemoryReport trainingMemoryReport(const ir::Module& train);
// The position of the training program's loss (softmax_xent or pixel_xent: ops::isLoss): the ops after it are the backward.
size_t lossIndex(const ir::Module& train);

// The activation part of a training program at its fullest step: the most bytes of kept
// activations, activation gradients and workspace (scratch, transient values, recomputed
// strips) live at one op, over every op of `train` (liveness as ir::liveBuffers, roles as
// the memory report's). The plan's fixed memory (parameters, parameter gradients, optimizer
// state, BatchNorm state, inputs) is left out; unlike the memory report, which splits the
// step of the largest live total, this is the step where the activation part itself is
// largest (lrc-compile's summary; bench/zoo_memory.py).
struct ActivationPart {
  uint64_t bytes = 0;            // kept activations + activation gradients + workspace
  uint64_t activations = 0;      // of it, by role
  uint64_t activationGradients = 0;
  uint64_t workspace = 0;
  size_t op = 0;                 // the first op of `train` where `bytes` are live
};
ActivationPart largestActivationPart(const ir::Module& train);
int64_t trainingArenaBytes(const TrainingPrograms& programs);

// A forward-only plan of `forward` (a module after plan-memory, as imported: each op in the
// mode the model gives it), for running a model's forward pass step by step on a backend, as
// the ONNX conformance test does. Buffers: the inputs, the globals with their initial data,
// and every result and scratch, named after their IR values (the module's outputs are found
// by name). The steps are in the `train` program, the program that may update state (a
// training-mode BatchNorm updates its running statistics in place); `eval`, `io`,
// the optimizer and `onnx_model` stay empty, so validatePlan rejects the plan and lrc-run
// cannot run it.
// `weights` gets the initial data the inits point into, as for emitPlan.
plan::Plan emitForwardPlan(const ir::Module& forward, std::string& weights);

}  // namespace lrc::compiler
