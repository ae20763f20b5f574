// The pass pipelines lrc-compile runs, in one place, top to bottom.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/IR.h"

namespace lrc::compiler {

// After import: the canonical graph with every shape inferred and verified.
void runImportPipeline(ir::Module& m);

// Row pipelines (docs/row-plans.md): how `runRowPipeline` partitions them.
struct RowOptions {
  std::string strategy = "2ps";  // 2ps | overl | layerwise (one whole-map strip per pipeline)
  int64_t strips = 4;            // forward strips per pipeline
  int64_t bpStrips = -1;         // backward strips; -1 = same as `strips`
  std::string cut = "none";      // segment cuts: none | downsample (fuse-row-pipelines)
  std::vector<int64_t> keep;     // pipelines left layerwise (partition-rows{keep=...})
  std::map<int64_t, int64_t> per;  // pipeline -> strips, overriding `strips` (partition-rows{per=...})
  std::vector<int64_t> reuse;      // 2PS pipelines whose backward reuses the last forward strip
  std::map<int64_t, std::string> strategies;  // pipeline -> its own strategy (partition-rows{strategies=...})
};

// On the imported (runImportPipeline'd) forward graph: applies the BatchNorm policy `bn`
// (exact | frozen | strip; frozen and strip BatchNorm are row-local), marks the row pipelines and records their
// strips as op attributes (`pipeline`, `fp_rows`, `bp_rows`, `fp_halo`, ...).
void runRowPipeline(ir::Module& m, const RowOptions& options, const std::string& bn = "exact");

// The two programs of a training plan, both with every buffer placed in one arena: one SGD
// step (forward, loss, backward, updates) and one evaluation step (inference-mode forward
// to the logits) that shares the training step's inputs and globals at the same places.
struct TrainingPrograms {
  std::unique_ptr<ir::Module> train;
  std::unique_ptr<ir::Module> eval;
};

// How the training program treats the forward graph (SPEC.md §2 "BatchNorm"), and its row
// pipelines: layerwise (none), or lowered strip by strip (docs/row-plans.md).
struct TrainingOptions {
  std::string bn = "exact";  // exact | frozen | strip: the batchnorm-policy pass's mode
  RowOptions rows{"layerwise", 1, 1, "none", {}, {}, {}, {}};
  int64_t convBatchBytes = 0;  // plan-memory's conv-batch-bytes: 0 for the CPU, more for the GPU
};

// From the imported (runImportPipeline'd) forward graph.
TrainingPrograms runTrainingPipeline(const ir::Module& forward, const TrainingOptions& options = {});

}  // namespace lrc::compiler
