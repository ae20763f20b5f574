// The `--bn` policy of a training graph's BatchNorms (SPEC.md §2 "BatchNorm"), as the
// option `mode` (BatchNormPolicyOptions):
//   exact  (default) splits each at its reduction (SPEC.md section 5):
//            (%y.mean, %y.invstd) = batchnorm_stats(x, running mean, running var) {epsilon, momentum}
//            %y = batchnorm_apply(x, scale, bias, %y.mean, %y.invstd)
//          batch statistics over N,H,W and the running statistics updated once, as PyTorch's
//          training mode; the apply is row-local, so a row pipeline can start with it (the map
//          before it stays whole: a kept reduction point). Its gradient (passes/GradEmitter)
//          is batchnorm_apply_grad (per-channel sums, accumulated over strips) and
//          batchnorm_stats_grad (the correction on the whole input gradient).
//   frozen sets training=0 on every BatchNorm: the running statistics are a fixed affine
//          transform, never updated; gradients flow through that transform (autodiff
//          emits batchnorm_grad with training=0). Row-local, like any affine op.
//   strip  keeps training mode and marks every training BatchNorm `strip_stats=1`: inside a
//          row pipeline each strip is normalized with its own batch statistics (over the
//          rows it computes) and updates the running statistics once per forward strip. An
//          approximation of BatchNorm (exact with one strip); outside pipelines, exact.
//   Option `recompute` (exact only): the reduction points (training BatchNorms and
//          squeeze-and-excitation means, global_avgpool or reduce_mean over H, W with keepdims,
//          numbered 0, 1, ... together in program order) whose batchnorm_stats or mean get
//          `recompute=1`: row plans may recompute their input map instead of keeping it
//          (fuse-row-pipelines decides which it can; docs/row-plans.md "Recomputed reduction
//          points"). "none" (default), "all" or ids.
// Run on the forward graph before append-loss and autodiff.
#include "passes/Pass.h"
#include "passes/RowAnalysis.h"

namespace lrc::passes {

namespace {

class BatchNormPolicy : public Pass {
 public:
  std::string_view name() const override { return "batchnorm-policy"; }

  explicit BatchNormPolicy(const BatchNormPolicyOptions& options) : mode_(options.mode), recompute_(options.recompute) {}

  bool transform(ir::Module& m) override {
    bool changed = false;
    int64_t point = 0;
    for (size_t i = 0; i < m.ops.size(); ++i) {
      ir::Op* op = m.ops[i].get();
      if (op->kind != ir::OpKind::BatchNormStats && isReductionPoint(*op) && mode_ == BatchNormMode::Exact) {  // an SE mean
        if (recompute_.has(point++) && !op->has("recompute")) {
          op->attrs["recompute"] = int64_t{1};
          changed = true;
        }
        continue;
      }
      if (op->kind != ir::OpKind::BatchNorm || op->getInt("training") == 0) continue;
      if (mode_ == BatchNormMode::Exact) {
        ir::Op* stats = split(m, i++);
        if (recompute_.has(point++)) stats->attrs["recompute"] = int64_t{1};
        changed = true;
      } else if (mode_ == BatchNormMode::Frozen) {
        op->attrs["training"] = int64_t{0};
        changed = true;
      } else if (!op->has("strip_stats")) {
        op->attrs["strip_stats"] = int64_t{1};
        changed = true;
      }
    }
    return changed;
  }

 private:
  BatchNormMode mode_;
  RecomputePoints recompute_;

  // The BatchNorm at ops[i] becomes batchnorm_stats (inserted before it) and batchnorm_apply
  // (the op itself, so its result keeps its name and uses).
  static ir::Op* split(ir::Module& m, size_t i) {
    ir::Op* bn = m.ops[i].get();
    ir::Value* x = bn->operands[0];
    const ir::TensorType channel = bn->operands[3]->type;
    const std::string& y = bn->result()->name;
    ir::Op* stats = m.insertOp(i, ir::OpKind::BatchNormStats, {x, bn->operands[3], bn->operands[4]},
                               {{"epsilon", bn->attrs.at("epsilon")}, {"momentum", bn->attrs.at("momentum")}},
                               {{m.uniqueName(y + ".mean"), channel}, {m.uniqueName(y + ".invstd"), channel}});
    stats->origin = bn->origin;
    stats->loc = bn->loc;
    bn->kind = ir::OpKind::BatchNormApply;
    bn->operands = {x, bn->operands[1], bn->operands[2], stats->results[0], stats->results[1]};
    bn->attrs.clear();
    return stats;
  }
};

}  // namespace

std::unique_ptr<Pass> createBatchNormPolicyPass(const BatchNormPolicyOptions& options) {
  return std::make_unique<BatchNormPolicy>(options);
}

}  // namespace lrc::passes
