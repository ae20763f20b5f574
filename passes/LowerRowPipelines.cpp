// lower-row-pipelines (docs/row-plans.md step 3): rewrites every partitioned row pipeline of
// a training module (fuse-row-pipelines, partition-rows, then autodiff, which gives the
// pipeline one `pipeline_grad` op) into ordinary ops on band values, strip by strip, so
// that plan-memory, the verifier and the kernels treat a row plan like any other module.
//
// Forward, in place of the pipeline's ops: for each forward strip j in order, each op
// computes its `fp_rows[j]` into a band (`band=[a,b,H]`). An operand band that must hold
// rows an earlier strip computed (2PS boundary rows) is assembled with `rows_copy` from the
// pieces earlier strips saved and the current band; OverL strips recompute their halos
// instead, so their bands already hold what they read. Pipeline inputs are read whole.
// The output map is assembled from its strips with `rows_copy`. Besides its own boundary
// rows, forward saves the boundary rows the backward strips will read (2PS, `bp_rows`):
// these small bands are all a 2PS pipeline keeps for backward; OverL keeps nothing.
//
// Backward, in place of `pipeline_grad(dy, inputs...)`: for each backward strip, last
// first, the strip's forward is recomputed (`bp_rows[j]`; 2PS reads the kept boundary
// rows, OverL recomputes halos from the pipeline inputs), then each op's gradient ops run
// on that strip's rows of dy (`rows=[a,b]`), in reverse program order (the ops are those of
// autodiff, from passes/GradEmitter.h). The gradient of a
// value within a strip is the `rows_sum` of its readers' contributions; under 2PS the rows
// below the strip's own (they belong to the previous strip) are carried to it and added
// there, so every row's gradient is complete before its op propagates it. Parameter
// gradients are summed over strips with `add`; an input map's gradient is the `rows_sum`
// of its strips' contributions (overlapping rows add up under OverL).
//
// With `reuse_last` on a pipeline (partition-rows{reuse=...}), backward's first strip
// reuses the last forward strip's bands instead of recomputing them (when both strips cover
// the same rows): they stay alive from the forward to the pipeline's backward.
//
// Dead ops (a recomputed value no gradient op reads) are erased at the end.
//
// Files: passes/RowPipelines.h (collecting pipelines, band helpers), passes/LowerRowPipelines.h
// (the schedule of one pipeline: this file, LowerRowPipelinesForward.cpp,
// LowerRowPipelinesBackward.cpp), passes/GradEmitter.h (the gradient ops).
#include "passes/LowerRowPipelines.h"

#include <algorithm>

#include "passes/Pass.h"

namespace lrc::passes {

using ir::Attrs;
using ir::IntList;
using ir::Op;
using ir::OpKind;
using ir::TensorType;
using ir::Value;

void PipelineLowering::run() {
  // Which pipeline values need a gradient: those computed from a param or from an input
  // whose gradient pipeline_grad returns.
  if (p_.grad) {
    const IntList& grads = p_.grad->getInts("grads");
    for (size_t r = 0; r < grads.size(); ++r) {
      Value* v = p_.grad->operands[static_cast<size_t>(grads[r])];
      needsGrad_.insert(v);
      gradResults_.emplace_back(v, p_.grad->results[r]);
    }
    if (p_.grad->has("seeds"))
      for (int64_t i : p_.grad->getInts("seeds")) {
        const auto at = static_cast<size_t>(i);
        const Op* point = at + 1 < p_.grad->operands.size() ? p_.grad->operands[at]->def : nullptr;
        if (!point || std::find(p_.reductions.begin(), p_.reductions.end(), point) == p_.reductions.end())
          throw ir::Error(cat("lower-row-pipelines: ", p_.grad->describe(), ": seed ", std::to_string(i),
                              " is no statistics of a recomputed point of pipeline ", std::to_string(p_.id)),
                          p_.grad->loc);
        seeds_.emplace_back(p_.grad->operands[at], p_.grad->operands[at + 1]);
      }
    // Through the pipeline's ops, its points and their gates (a gate's value feeds a
    // pipeline op), until nothing changes.
    std::vector<const Op*> ops(p_.ops.begin(), p_.ops.end());
    ops.insert(ops.end(), p_.reductions.begin(), p_.reductions.end());
    ops.insert(ops.end(), p_.gates.begin(), p_.gates.end());
    for (size_t before = 0; before != needsGrad_.size();) {
      before = needsGrad_.size();
      for (const Op* op : ops)
        if (std::any_of(op->operands.begin(), op->operands.end(), [&](const Value* v) { return needsGrad_.count(v) != 0; }))
          needsGrad_.insert(op->results.begin(), op->results.end());
    }
  }
  // Recomputed reduction points: each one's statistics are differentiated in the backward pass
  // of its map's depth, with the ops its map depends on. An op's depth counts the points it
  // is upstream of (its own map's included); points in a row (a chain of BatchNorms) give
  // depths above one, and a pass per depth.
  depth_.assign(p_.ops.size(), 0);
  for (const Op* stats : p_.reductions) {
    const Value* x = stats->operands[0];
    reducedBy_[x] = stats;
    reducedMaps_.push_back(x);
    const std::vector<bool> up = upstreamOf(x);
    for (size_t k = 0; k < p_.ops.size(); ++k) depth_[k] += up[k] ? 1 : 0;
  }
  for (size_t k = 0; k < p_.ops.size(); ++k) passes_ = std::max(passes_, depth_[k] + 1);
  for (Op* stats : p_.reductions) lowerStatistics(stats);
  lowerForward();
  if (p_.grad) lowerBackward();
  for (auto& [stats, copy] : statsInputs_) {
    // An SE mean (reduce_mean or global_avgpool over H, W) becomes the sum of its map's strips
    // divided by H*W: reduce_mean {input_shape} of that sum.
    if (stats->kind != OpKind::BatchNormStats) {
      stats->kind = OpKind::ReduceMean;
      stats->attrs = {{"axes", IntList{2, 3}}, {"keepdims", int64_t{1}}, {"input_shape", stats->operands[0]->type.shape}};
    }
    stats->operands[0] = copy;
    stats->attrs.erase("recompute");
  }
  // The whole-map ops are replaced (a training BatchNorm would not die on its own: it
  // updates the running statistics).
  for (auto it = p_.ops.rbegin(); it != p_.ops.rend(); ++it) m_.eraseOp(*it);
}

std::vector<bool> PipelineLowering::upstreamOf(const Value* x) const {
  std::vector<bool> up(p_.ops.size(), false);
  up[p_.index.at(x)] = true;
  for (size_t k = p_.ops.size(); k-- > 0;)
    if (up[k])
      for (const Value* v : p_.ops[k]->operands)
        if (inPipeline(v)) up[p_.index.at(v)] = true;
  return up;
}

// Whether backward's first strip reuses the last forward strip (partition-rows{reuse=...}):
// only when a pipeline gradient exists and both strips compute the same rows at every op.
bool PipelineLowering::reuseLast() const {
  if (!p_.grad || !p_.ops.front()->has("reuse_last")) return false;
  for (size_t k = 0; k < p_.ops.size(); ++k)
    if (p_.fp[k].back() != p_.bp[k].back()) return false;
  return true;
}

Op* PipelineLowering::emit(OpKind kind, std::vector<Value*> operands, Attrs attrs, const std::string& name, TensorType type) {
  return m_.insertOp(pos_++, kind, std::move(operands), std::move(attrs), {{m_.uniqueName(name), std::move(type)}});
}

std::string PipelineLowering::stripName(const Value* v, const char* tag, size_t j) const {
  return cat(v->name, ".", tag, std::to_string(j));
}

// Rows [r] of `whole` copied out of `src` (a band holding them).
Value* PipelineLowering::copyRows(Value* src, RowRange r, const Value* whole, const std::string& name) {
  return emit(OpKind::RowsCopy, {src}, {{"band", bandAttr(r, whole)}}, name, bandType(whole, r))->result();
}

namespace {

class LowerRowPipelines : public Pass {
 public:
  std::string_view name() const override { return "lower-row-pipelines"; }

  bool transform(ir::Module& m) override {
    std::map<int64_t, Pipeline> byId = collectPipelines(m);
    if (byId.empty()) return false;
    for (auto& [id, p] : byId) {
      readRows(p);
      PipelineLowering(m, p).run();
    }
    m.eraseDeadOps();
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> createLowerRowPipelinesPass() { return std::make_unique<LowerRowPipelines>(); }

}  // namespace lrc::passes
