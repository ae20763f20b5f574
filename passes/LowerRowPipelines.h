// The strip schedule of one pipeline for lower-row-pipelines (its rules: the header of
// passes/LowerRowPipelines.cpp). Defined in three files by job: LowerRowPipelines.cpp (the
// pass, the driver, the ops both schedules emit), LowerRowPipelinesForward.cpp (forward strips,
// what they keep for backward), LowerRowPipelinesBackward.cpp (backward strips).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ir/IR.h"
#include "passes/RowPipelines.h"

namespace lrc::passes {

class PipelineLowering {
 public:
  PipelineLowering(ir::Module& m, Pipeline& p) : m_(m), p_(p) {}
  // Replaces the pipeline's ops and its pipeline_grad by strip ops.
  void run();

 private:
  class StripGrads;  // where a backward strip's gradient ops go (GradBuilder)

  ir::Module& m_;
  Pipeline& p_;
  size_t pos_ = 0;  // where the next op goes
  ir::ValueSet needsGrad_;
  // Input or param -> pipeline_grad's result, in the order of its results (the order in which
  // their whole gradients are emitted).
  std::vector<std::pair<const ir::Value*, ir::Value*>> gradResults_;
  // pipeline_grad's `seeds`: a point's statistics -> the gradient later pipelines gave them.
  std::vector<std::pair<const ir::Value*, ir::Value*>> seeds_;
  // Saved rows of pipeline values: forward boundary rows and what backward keeps.
  ir::ValueMap<std::vector<ir::Value*>> fpPieces_, keptPieces_;
  // reuse_last: the last forward strip's bands and operand bands, for backward's first strip.
  ir::ValueMap<ir::Value*> lastBands_;
  std::vector<std::vector<ir::Value*>> lastOperands_;
  // Recomputed reduction points (p_.reductions): the map each reads -> its batchnorm_stats; per
  // op, how many of those maps it is upstream of (its depth: backward's pass d runs the
  // gradients of the ops of depth d, so 0 is downstream of every point).
  ir::ValueMap<const ir::Op*> reducedBy_;
  std::vector<const ir::Value*> reducedMaps_;  // the same maps, in p_.reductions' order
  std::vector<size_t> depth_;
  size_t passes_ = 1;  // backward passes: the largest depth, plus one
  std::vector<std::pair<ir::Op*, ir::Value*>> statsInputs_;  // lowerStatistics: each point's whole copy (an SE mean: its sum)

  // LowerRowPipelines.cpp
  bool reuseLast() const;
  bool inPipeline(const ir::Value* v) const { return p_.index.count(v) != 0; }
  // Per op, whether map `x` (a pipeline value) depends on it (x's own op included).
  std::vector<bool> upstreamOf(const ir::Value* x) const;
  // Whether the pipeline ends with the loss (pixel_xent): its output is the scalar loss.
  bool endsWithLoss() const { return ops::isLoss(p_.ops.back()->kind); }
  ir::Value* sumLoss(const std::vector<ir::Value*>& partials);
  ir::Op* emit(ir::OpKind kind, std::vector<ir::Value*> operands, ir::Attrs attrs, const std::string& name, ir::TensorType type);
  std::string stripName(const ir::Value* v, const char* tag, size_t j) const;
  ir::Value* copyRows(ir::Value* src, RowRange r, const ir::Value* whole, const std::string& name);
  ir::Value* partsOnRows(const std::vector<ir::Value*>& parts, RowRange rows, const ir::Value* whole,
                         const std::string& name);

  // LowerRowPipelinesForward.cpp
  ir::Value* assemble(const ir::Value* whole, RowRange need, ir::Value* current, const std::vector<ir::Value*>& pieces,
                      const std::string& name);
  RowRange readersNeed(const ir::Value* v, const Table& t, size_t j) const;
  ir::ValueMap<ir::Value*> computeStrip(const Table& t, size_t j, ir::ValueMap<std::vector<ir::Value*>>& pieces, const char* tag,
                                        std::vector<std::vector<ir::Value*>>* operandBands,
                                        const std::vector<bool>* only = nullptr);
  void save(ir::ValueMap<std::vector<ir::Value*>>& pieces, const ir::Value* v, ir::Value* band, RowRange rows, const char* tag);
  void lowerForward();
  void lowerStatistics(ir::Op* stats);

  // LowerRowPipelinesBackward.cpp
  // Pass d (0 first) runs the gradients of the ops of depth d; before pass d > 0 the points
  // whose map has depth d are complete (finishPoints).
  struct BackwardSums;
  void lowerBackward();
  void finishPoints(size_t d, BackwardSums& sums);
  void backwardPass(size_t d, BackwardSums& sums);
  RowRange ownRows(size_t k, size_t s) const;
  ir::Value* resultBand(const ir::Value* v, const ir::ValueMap<ir::Value*>& band,
                        const std::vector<std::vector<ir::Value*>>& operandBands) const;
};

}  // namespace lrc::passes
