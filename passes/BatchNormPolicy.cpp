// The `--bn` policy of a training graph's BatchNorms (SPEC.md §2 "BatchNorm"), as the
// option `mode`:
//   exact  (default) leaves them as imported: batch statistics and running statistics
//          updates in training mode, as PyTorch's training mode.
//   frozen sets training=0 on every BatchNorm: the running statistics are a fixed affine
//          transform, never updated; gradients flow through that transform (autodiff
//          emits batchnorm_grad with training=0). Row-local, like any affine op.
// Run on the forward graph before append-loss and autodiff.
#include "passes/Pass.h"

namespace lrc::passes {

namespace {

class BatchNormPolicy : public Pass {
 public:
  std::string_view name() const override { return "batchnorm-policy"; }

  void setOption(const std::string& key, const std::string& value) override {
    if (key != "mode") {
      std::string message = "batchnorm-policy: unknown option '";
      message += key;
      message += "' (options: mode)";
      throw ir::Error(message);
    }
    if (value != "exact" && value != "frozen") {
      std::string message = "batchnorm-policy: option 'mode' must be exact or frozen, got '";
      message += value;
      message += "'";
      throw ir::Error(message);
    }
    frozen_ = value == "frozen";
  }

  bool run(ir::Module& m) override {
    if (!frozen_) return false;
    bool changed = false;
    for (auto& op : m.ops) {
      if (op->kind != ir::OpKind::BatchNorm || op->getInt("training") == 0) continue;
      op->attrs["training"] = int64_t{0};
      changed = true;
    }
    return changed;
  }

 private:
  bool frozen_ = false;
};

}  // namespace

std::unique_ptr<Pass> createBatchNormPolicyPass() { return std::make_unique<BatchNormPolicy>(); }

}  // namespace lrc::passes
