// Choosing the plan (issue 5): among layerwise and row plans, the one with the least
// predicted step time whose predicted peak fits a memory budget. Memory is exact (every
// candidate is compiled and memory-planned); time comes from the cost model
// (compiler/CostModel.h).
//
// Candidates: layerwise, and 2PS and OverL at 2, 4, 8 and 16 strips (the same count forward
// and backward; none past the tallest pipeline's output rows, which then ends the list),
// with and without segment cuts at downsampling layers; each of them also
// with --remat elementwise (element-wise maps recomputed in backward), listed after all the
// plans without it; then the row plans at 2 and 4 strips with --recompute-points all as
// well (reduction points recomputed in strips, docs/row-plans.md); last, layerwise with
// --remat blocks (passes/Remat.cpp). The BatchNorm policy is the user's (recomputed points
// change nothing without --bn exact's points). The same setting applies to every pipeline.
// When none of them fits (and for --explain, and CUDA's least memory), each strip series
// doubles past 16 while a doubling lowers its peak by an eighth, up to the tallest pipeline.
//
// Rule (CPU, and CUDA with a budget): layerwise is evaluated first; when it fits it is the choice (a row plan only adds
// recompute), and the others are evaluated only for --explain. Otherwise every candidate is
// evaluated and the fastest that fits wins (ties: the smaller peak), refined per pipeline.
// When no candidate fits, the smallest row candidate is refined per pipeline for memory; if
// that fits it is the choice, else an error names the least peak reached and the flags
// that compile to it. CUDA without a budget (no
// device to measure here): the least-memory candidate predicted within 1.5x layerwise's time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compiler/CompilePipeline.h"
#include "compiler/CostModel.h"
#include "runtime/plan/Plan.h"

namespace lrc::compiler {

struct PlanCandidate {
  RowOptions rows;           // strategy layerwise, or a row plan
  int64_t winogradMaxBytes = 0;  // > 0: conv-scratch=winograd only where its part is at most this (the search's)
  bool evaluated = false;
  int64_t peakBytes = 0;     // the arena (exact)
  plan::MemoryReport memory; // bytes by category at the peak step
  double seconds = 0;        // predicted training step
  int64_t work = 0;          // multiply-adds of the training step
  std::string verdict;       // why it was chosen or not

  std::string label() const;  // "layerwise", "2ps --strips 8 --cut downsample"
};

// " --winograd-max-scratch 64MiB" (a cap of bytes, in MiB where whole), "" for none (0).
std::string winogradCap(int64_t maxBytes);

struct PlanChoice {
  std::vector<PlanCandidate> candidates;
  size_t chosen = 0;
  int64_t budgetBytes = 0;
  std::string budgetSource;  // "--memory-budget" or "available memory"
  TrainingPrograms programs; // the chosen plan's, compiled
};

// `evaluateAll`: compile every candidate even when layerwise fits (for --explain).
// `maxSlowdown` > 0 changes the objective to the least peak among the candidates predicted
// within that factor of layerwise's time (--device cuda without a budget: 1.5).
// `fixedFlags`: the caller's flags that shaped `forward` and `base` (" --batch 8 --bn
// frozen"), appended to the settings the no-fit error names so that they are a whole
// lrc-compile command line for the peak it names.
PlanChoice choosePlan(const ir::Module& forward, const TrainingOptions& base, int64_t budgetBytes,
                      const std::string& budgetSource, const CostTable& costs, bool evaluateAll,
                      double maxSlowdown = 0, const std::string& fixedFlags = "");

// The --explain table: one line per candidate, the chosen one marked.
std::string explainChoice(const PlanChoice& choice);

// This machine's available memory (/proc/meminfo MemAvailable), in bytes; 0 if unknown.
int64_t availableMemoryBytes();

// "1.5GiB", "800M", "1024k", "123456" (bytes); k/M/G and KiB/MiB/GiB are powers of 1024.
// Throws std::invalid_argument with a message naming the text.
int64_t parseByteSize(const std::string& text);

}  // namespace lrc::compiler
