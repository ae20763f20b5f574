// The gradient of one forward op, for autodiff (whole maps) and for lower-row-pipelines (one
// strip's rows): the only place that knows which gradient ops an op kind has, their operands,
// attributes and names. The callers keep the rest: autodiff the traversal, the sums of
// contributions and the SGD updates; lower-row-pipelines the strip schedule (recompute,
// carried rows, sums over strips).
//
// On a strip the same ops run on bands: every gradient op but pad's crop gets `rows=[a,b]`
// (the strip's rows of dy), a map operand's gradient is the band `band=[a,b,H]` of the rows
// those dy rows reach (inputRows), named `d<operand>.<strip>`; on whole maps, `d<operand>`.
//
// Adding a gradient for a new op kind: give its forward kind a case in Grad::emit's switch
// (GradEmitter.cpp; a kind without a gradient joins the list of those that have none: the
// switch has no `default:`, so a new kind does not compile until it is in one or the other).
// Emit each operand's gradient with `grad(kind, operands, attrs, operand, reach)`, which adds
// `rows`/`band` on a strip, names the value and reports the contribution; `reach` says which
// rows of the operand the gradient covers on a strip (the same rows, the window's, or the whole
// value for weights). Read the forward values through `operand(i)`/`result()` (the strip's
// bands on a strip). A whole-map-only kind calls `wholeMapsOnly()` first; a row-local kind
// (passes/RowAnalysis.h) also needs its rule in inputRows.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ir/IR.h"
#include "passes/RowAnalysis.h"

namespace lrc::passes {

// Where the gradient ops go and where their contributions are summed: autodiff and
// lower-row-pipelines each implement it.
class GradBuilder {
 public:
  // Whether forward value `v` needs a gradient (no gradient op is emitted for one that does not).
  virtual bool needsGrad(const ir::Value* v) const = 0;
  // Places one gradient op; makes the result names unique in the module (in order).
  virtual ir::Op* emit(ir::OpKind kind, std::vector<ir::Value*> operands, ir::Attrs attrs,
                       std::vector<std::pair<std::string, ir::TensorType>> results) = 0;
  // `grad` is a contribution to the gradient of operand `operand` of forward op `op`. Called
  // right after the op that computes it is emitted (autodiff's sums then follow it).
  virtual void contribute(const ir::Op& op, size_t operand, ir::Value* grad) = 0;
  // Whole maps only (autodiff), for ops with several results (batchnorm_stats): the complete
  // gradient of `result`, or null when none reached it.
  virtual ir::Value* resultGrad(const ir::Value* result) const = 0;
  // Whole maps only: the gradient of `x` accumulated so far, handed over (the builder forgets
  // it), or null; an op that adds it into its own gradient (batchnorm_stats_grad's `acc`) saves
  // a separate sum.
  virtual ir::Value* takeGrad(const ir::Value* x) = 0;

 protected:
  ~GradBuilder() = default;
};

// One strip of a pipeline op (lower-row-pipelines): the gradient ops propagate rows `rows` of
// dy, reading the strip's operand bands (`operands`: bands for the maps, the op's own values
// for weights) and result band.
struct GradStrip {
  RowRange rows;
  const std::vector<ir::Value*>& operands;
  ir::Value* result;
  size_t index;  // the strip's number, in the gradient names
};

// Emits the gradient ops of `op` given the gradient `dy` of its result: on whole maps when
// `strip` is null, else on the strip's rows. Throws ir::Error at the op when the kind has no
// gradient (or none on strips).
void emitGrad(GradBuilder& b, const ir::Op& op, ir::Value* dy, const GradStrip* strip = nullptr);

}  // namespace lrc::passes
