// The `--bn` policy of a training graph's BatchNorms (SPEC.md §2 "BatchNorm"), as the
// option `mode`:
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

  void setOption(const std::string& key, const std::string& value) override {
    if (key != "mode") {
      std::string message = "batchnorm-policy: unknown option '";
      message += key;
      message += "' (options: mode)";
      throw ir::Error(message);
    }
    if (value != "exact" && value != "frozen" && value != "strip") {
      std::string message = "batchnorm-policy: option 'mode' must be exact, frozen or strip, got '";
      message += value;
      message += "'";
      throw ir::Error(message);
    }
    mode_ = value;
  }

  bool run(ir::Module& m) override {
    if (mode_ == "exact") return false;
    bool changed = false;
    for (auto& op : m.ops) {
      if (op->kind != ir::OpKind::BatchNorm || op->getInt("training") == 0) continue;
      if (mode_ == "frozen") {
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
  std::string mode_ = "exact";
};

}  // namespace

std::unique_ptr<Pass> createBatchNormPolicyPass() { return std::make_unique<BatchNormPolicy>(); }

}  // namespace lrc::passes
