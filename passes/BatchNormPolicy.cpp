// The `--bn` policy of a training graph's BatchNorms (SPEC.md §2 "BatchNorm"), as the
// option `mode` (BatchNormPolicyOptions):
//   exact  (default) leaves them as imported: batch statistics and running statistics
//          updates in training mode, as PyTorch's training mode.
//   frozen sets training=0 on every BatchNorm: the running statistics are a fixed affine
//          transform, never updated; gradients flow through that transform (autodiff
//          emits batchnorm_grad with training=0). Row-local, like any affine op.
//   strip  keeps training mode and marks every training BatchNorm `strip_stats=1`: inside a
//          row pipeline each strip is normalized with its own batch statistics (over the
//          rows it computes) and updates the running statistics once per forward strip. An
//          approximation of BatchNorm (exact with one strip); outside pipelines, exact.
// Run on the forward graph before append-loss and autodiff.
#include "passes/Pass.h"

namespace lrc::passes {

namespace {

class BatchNormPolicy : public Pass {
 public:
  std::string_view name() const override { return "batchnorm-policy"; }

  explicit BatchNormPolicy(const BatchNormPolicyOptions& options) : mode_(options.mode) {}

  bool run(ir::Module& m) override {
    if (mode_ == BatchNormMode::Exact) return false;
    bool changed = false;
    for (auto& op : m.ops) {
      if (op->kind != ir::OpKind::BatchNorm || op->getInt("training") == 0) continue;
      if (mode_ == BatchNormMode::Frozen) {
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
};

}  // namespace

std::unique_ptr<Pass> createBatchNormPolicyPass(const BatchNormPolicyOptions& options) {
  return std::make_unique<BatchNormPolicy>(options);
}

}  // namespace lrc::passes
