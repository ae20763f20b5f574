// The pass pipelines lrc-compile runs, in one place, top to bottom.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "ir/IR.h"
#include "passes/PassOptions.h"

namespace lrc::compiler {

// After import: the canonical graph with every shape inferred and verified.
void runImportPipeline(ir::Module& m);

// Row pipelines (docs/row-plans.md): how `runRowPipeline` partitions them, as the options
// of fuse-row-pipelines and partition-rows.
struct RowOptions {
  bool layerwise = false;                  // no row plan: one whole-map strip per pipeline
  passes::FuseRowPipelinesOptions fuse;    // segment cuts
  passes::PartitionRowsOptions partition;  // strategy, strips, per-pipeline settings
  passes::RematMode remat = passes::RematMode::None;  // maps backward recomputes instead of keeping (--remat)
  int64_t rematEvery = 1;  // --remat blocks: one block input kept in this many (--remat-every)
  // Reduction points recomputed in strips instead of kept (--recompute-points; row plans only:
  // batchnorm-policy's `recompute`, docs/row-plans.md "Recomputed reduction points").
  passes::RecomputePoints recompute;
};

// The plan's strategy: "layerwise", "2ps" or "overl".
std::string_view strategyName(const RowOptions& rows);

// On the imported (runImportPipeline'd) forward graph: applies the BatchNorm policy
// (frozen and strip BatchNorm are row-local), marks the row pipelines and records their
// strips as op attributes (`pipeline`, `fp_rows`, `bp_rows`, `fp_halo`, ...).
void runRowPipeline(ir::Module& m, const RowOptions& options, const passes::BatchNormPolicyOptions& batchNorm = {});

// Clears the data of every parameter (VGG-16 holds 528 MiB of them): memory planning, the
// cost model and the evaluation program need only shapes; the plan's weights come from the
// training program.
void dropParameterData(ir::Module& m);

// The two programs of a training plan, both with every buffer placed in one arena: one
// training step (forward, loss, backward, optimizer updates) and one evaluation step (inference-mode forward
// to the logits) that shares the training step's inputs and globals at the same places.
struct TrainingPrograms {
  std::unique_ptr<ir::Module> train;
  std::unique_ptr<ir::Module> eval;
};

// How the training program treats the forward graph (SPEC.md §2 "BatchNorm"), and its row
// pipelines: layerwise (none), or lowered strip by strip (docs/row-plans.md).
struct TrainingOptions {
  passes::BatchNormPolicyOptions batchNorm;  // --bn
  RowOptions rows{true, {}, {}, passes::RematMode::None, 1, {}};  // layerwise
  passes::PlanMemoryOptions memory;  // conv-batch-bytes: 0 for the CPU, more for the GPU
  passes::AppendLossOptions loss;    // --ignore-index: the per-pixel loss's ignored label
  passes::AutodiffOptions autodiff;  // --optimizer: the updates and the state they keep
  // --data-parallel: the step of each rank, gradients averaged over the ranks (passes/DataParallel.cpp).
  std::optional<passes::DataParallelOptions> dataParallel;
  // sgd (not data-parallel): weight gradients accumulated straight into the momentum buffers
  // (passes/FuseSgdGrads.cpp); lrc-compile --no-fuse-sgd-grads, and --nesterov, turn it off.
  bool fuseSgdGrads = true;
  // A training BatchNorm's apply and the ReLU that alone reads it as one op, forward and
  // backward (passes/FuseBatchNormRelu.cpp); lrc-compile --no-fuse-bn-relu turns it off.
  bool fuseBnRelu = true;
};

// From the imported (runImportPipeline'd) forward graph.
TrainingPrograms runTrainingPipeline(const ir::Module& forward, const TrainingOptions& options = {});

}  // namespace lrc::compiler
