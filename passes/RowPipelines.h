// Row-plan helpers shared by lower-row-pipelines (its forward and backward strip schedules)
// and the strip gradients of passes/GradEmitter.h: band values and their rows.
#pragma once

#include <cstddef>
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

// Which operands of a pipeline op are row-indexed maps (the others are weights, biases,
// BatchNorm vectors).
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
