// Row-plan helpers shared by lower-row-pipelines (its forward and backward strip schedules)
// and the strip gradients of passes/GradEmitter.h: a partitioned pipeline as the lowering
// reads it, band values and their rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/IR.h"
#include "passes/RowAnalysis.h"

namespace lrc::passes {

template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  ((s += parts), ...);
  return s;
}

// Per op of a pipeline, per strip: the rows it computes (partition-rows' fp_rows or bp_rows).
using Table = std::vector<std::vector<RowRange>>;  // [op][strip]

// A partitioned row pipeline (fuse-row-pipelines, partition-rows) and its pipeline_grad.
struct Pipeline {
  int64_t id = 0;
  std::vector<ir::Op*> ops;
  ir::ValueMap<size_t> index;  // result -> position in ops
  ir::Value* output = nullptr;
  bool twoPs = true;
  Table fp, bp;
  ir::Op* grad = nullptr;  // pipeline_grad, or null (nothing in it needs a gradient)
  // Recomputed reduction points whose map the pipeline computes (their batchnorm_stats, not
  // pipeline ops), in program order.
  std::vector<ir::Op*> reductions;
  // Their gate ops (RowAnalysis's pointGates: an SE gate), whole ops outside the pipeline
  // that it differentiates between its backward passes, in program order.
  std::vector<ir::Op*> gates;
};

// The module's partitioned pipelines by id, with their ops in program order and their
// pipeline_grad; readRows then fills in the rest of one (or throws at the op).
std::map<int64_t, Pipeline> collectPipelines(ir::Module& m);
void readRows(Pipeline& p);

// Which operands of a pipeline op are row-indexed maps (isRowIndexed: the op table's band
// slots; the others are weights, biases, BatchNorm vectors, per-channel gates).
std::vector<size_t> mapOperands(const ir::Op& op);

int64_t heightOf(const ir::Value* v);
// The rows a value holds: its band's, or all of a whole map's.
RowRange rowsOf(const ir::Value* v);
// The type of rows `r` of map `whole`, and the attributes `band=[a,b,H]` and `rows=[a,b]`.
ir::TensorType bandType(const ir::Value* whole, RowRange r);
ir::IntList bandAttr(RowRange r, const ir::Value* whole);
ir::IntList rowsAttr(RowRange r);

// Training-mode BatchNorm with per-strip statistics (--bn strip): its statistics are those of
// the rows it normalizes, so its input and dy bands hold exactly those rows.
bool isStripBatchNorm(const ir::Op& op);

}  // namespace lrc::passes
