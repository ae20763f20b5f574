// fuse-row-pipelines (docs/row-plans.md step 1): groups maximal runs of row-local ops into
// row pipelines and marks every op of pipeline K with the integer attribute `pipeline=K`
// (K = 0, 1, ... in program order), so the IR text shows the grouping.
//
// Rules:
//  - a run is a maximal contiguous sequence, in program order, of ops for which
//    RowAnalysis::isRowLocal holds; any other op (global_avgpool, flatten, reshape, gemm,
//    matmul, softmax, training-mode batchnorm, ...) ends the current run;
//  - a run becomes a pipeline only if it holds at least one sliding-window op (conv2d,
//    maxpool, avgpool); a run of element-wise ops only (relu, add, frozen batchnorm, ...)
//    is left unmarked: there is nothing to gain from computing it in strips;
//  - residual blocks whose ops are all row-local end up whole in one pipeline because of
//    contiguity (the skip's add follows the block's other ops in program order);
//  - on a training module (after append-loss / autodiff) only the ops before the first
//    `softmax_xent` are considered: the loss and everything after it (the backward and the
//    updates, whose element-wise adds are row-local too) are never marked;
//  - idempotent: existing `pipeline` attributes are removed first, then ops are marked;
//    the pass reports a change only when the marks differ from what was there.
#include <map>

#include "passes/Pass.h"
#include "passes/RowAnalysis.h"

namespace lrc::passes {

namespace {

using ir::Op;
using ir::OpKind;

constexpr const char* kPipeline = "pipeline";

bool isSlidingWindow(const Op& op) {
  return op.kind == OpKind::Conv2d || op.kind == OpKind::MaxPool || op.kind == OpKind::AveragePool;
}

class FuseRowPipelines : public Pass {
 public:
  std::string_view name() const override { return "fuse-row-pipelines"; }
  bool run(ir::Module& m) override {
    // The marks before the pass, to tell whether anything changed.
    std::map<const Op*, ir::Attr> before;
    for (auto& op : m.ops) {
      auto it = op->attrs.find(kPipeline);
      if (it == op->attrs.end()) continue;
      before.emplace(op.get(), it->second);
      op->attrs.erase(it);
    }

    // Forward part: the ops before the loss (all ops when there is none).
    size_t end = 0;
    while (end < m.ops.size() && m.ops[end]->kind != OpKind::SoftmaxXent) ++end;

    int64_t next = 0;
    size_t runBegin = 0;
    bool hasWindow = false;
    auto closeRun = [&](size_t runEnd) {
      if (hasWindow) {
        for (size_t i = runBegin; i < runEnd; ++i) m.ops[i]->attrs[kPipeline] = next;
        ++next;
      }
      hasWindow = false;
    };
    for (size_t i = 0; i < end; ++i) {
      const Op& op = *m.ops[i];
      if (!isRowLocal(op)) {
        closeRun(i);
        runBegin = i + 1;
        continue;
      }
      hasWindow |= isSlidingWindow(op);
    }
    closeRun(end);

    bool changed = false;
    for (auto& op : m.ops) {
      auto it = op->attrs.find(kPipeline);
      auto old = before.find(op.get());
      const bool had = old != before.end(), has = it != op->attrs.end();
      if (had != has || (had && !(old->second == it->second))) changed = true;
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> createFuseRowPipelinesPass() { return std::make_unique<FuseRowPipelines>(); }

}  // namespace lrc::passes
